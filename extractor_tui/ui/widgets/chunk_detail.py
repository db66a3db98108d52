"""One unfinished chunk in full: its error, every attempt, its text and the raw output.

What a reviewer needs to decide between retrying, splitting and marking the chunk empty.
Every string here comes from a document or a provider, so all of it is literal ``Text``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from extractor_tui.core.session import StoredAttempt, StoredRequest
from extractor_tui.ui.widgets.literal import literal

__all__ = ["ChunkDetail", "attempts_table"]


def attempts_table(attempts: Sequence[StoredAttempt]) -> Table:
    """Every call made for the chunk, across runs, oldest first."""
    table = Table(box=None, padding=(0, 1), show_edge=False, expand=False)
    for title, justify in (("#", "right"), ("outcome", "left"), ("HTTP", "right"),
                           ("time", "right"), ("tokens", "right"), ("error", "left")):
        table.add_column(title, justify=justify)  # type: ignore[arg-type]
    for attempt in attempts:
        took = (f"{attempt.ended - attempt.started:.2f} s"
                if attempt.started is not None and attempt.ended is not None else "–")
        ok = attempt.outcome == "ok"
        table.add_row(str(attempt.number),
                      Text(attempt.outcome or "unfinished", style="green" if ok else "red"),
                      str(attempt.http_status or "–"), took,
                      f"{attempt.prompt_tokens}/{attempt.completion_tokens}",
                      literal(attempt.error or ""))
    return table


class ChunkDetail(VerticalScroll):
    """Shows one chunk; ``show`` replaces everything at once."""

    DEFAULT_CSS = """
    ChunkDetail { height: 1fr; border: round $panel; padding: 0 1; }
    ChunkDetail > Static { margin-bottom: 1; }
    ChunkDetail > .heading { margin-bottom: 0; text-style: bold; color: $accent; }
    """

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a chunk to see its attempts, text and raw output."),
                     id="what")
        yield Static("Attempts", classes="heading")
        yield Static("", id="attempts")
        yield Static("Chunk text", classes="heading")
        yield Static("", id="text")
        yield Static("Raw model output", classes="heading")
        yield Static("", id="raw")

    def show(self, document: str, stored: StoredRequest) -> None:
        """The chunk as the session stores it: its last request, every call, its text."""
        first, last = stored.item.pages
        pages = f"page {first}" if first == last else f"pages {first}–{last}"
        reason = stored.reason.value if stored.reason is not None else stored.status
        what = Text.assemble(literal(document, "bold"), f" · chunk {stored.id.label} · "
                             f"{pages} · {stored.item.tokens} tokens\n",
                             (f"{reason}: ", "bold red"), literal(stored.message or ""))
        self.query_one("#what", Static).update(what)
        self.query_one("#attempts", Static).update(
            attempts_table(stored.history) if stored.history else Text("No call was made."))
        self.query_one("#text", Static).update(literal(stored.item.text, multiline=True))
        self.query_one("#raw", Static).update(
            literal(stored.raw, multiline=True) if stored.raw else Text("(none)", "dim"))
        self.scroll_home(animate=False)

    def clear(self) -> None:
        self.query_one("#what", Static).update(Text("No unfinished chunk."))
        for name in ("#attempts", "#text", "#raw"):
            self.query_one(name, Static).update("")
