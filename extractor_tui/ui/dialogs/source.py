"""Where a value came from: each source chunk's text with the quote highlighted, and every
candidate the model offered, so a conflict can be settled by picking one.

The dialog answers with the picked ``Candidate`` (or None); the Results screen stores the
choice as the user's edit, so it is marked and survives reopening the session.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from extractor_tui.core.model import Candidate, FieldResult, Source, WorkItem
from extractor_tui.ui.dialogs.base import Dialog
from extractor_tui.ui.widgets.literal import find_quote, highlight, literal, value_text

__all__ = ["SourceDialog", "candidate_line"]


def candidate_line(candidate: Candidate, conflict: bool) -> Text:
    """One candidate: value, page, chunk, grounded or not, and its quote."""
    line = Text.assemble(literal(candidate.value or "(empty)", "bold"), "  ")
    line.append(f"page {candidate.page or '?'} · chunk {candidate.chunk} · ")
    line.append("grounded" if candidate.grounded else "not in the text",
                style="green" if candidate.grounded else "red")
    if candidate.error:
        line.append(" · invalid: ", style="red")
        line.append_text(literal(candidate.error, "red"))
    if conflict:
        line.append(" · conflict", style="bold yellow")
    if candidate.quote:
        line.append("\n  “")
        line.append_text(literal(candidate.quote, "italic"))
        line.append("”")
    return line


class SourceDialog(Dialog[Candidate]):
    """Dismisses with the candidate the user picked, or None."""

    DEFAULT_CSS = """
    SourceDialog > .dialog { width: 110; height: 90%; }
    SourceDialog #sources { height: 2fr; border: round $panel; }
    SourceDialog OptionList { height: 1fr; }
    SourceDialog .source { margin-bottom: 1; }
    """

    def __init__(self, document: str, result: FieldResult,
                 chunks: Mapping[str, WorkItem]) -> None:
        super().__init__()
        self._document, self._result, self._chunks = document, result, chunks

    def _summary(self) -> Text:
        result = self._result
        text = Text.assemble(("Value: ", "bold"), literal(value_text(result.value)), "\n")
        if result.valid:
            text.append("valid", style="green")
        else:
            text.append("invalid: ", style="bold red")
            text.append_text(literal("; ".join(result.errors), "red"))
        text.append(" · ")
        text.append("grounded" if result.grounded else "not grounded",
                    style="green" if result.grounded else "yellow")
        if result.edited:
            text.append(f" · edited by {result.edited_by} at {result.edited_at}",
                        style="bold magenta")
        return text

    def _near(self, source: Source, item: WorkItem) -> int | None:
        """The quote's offset in the chunk, as the merge step found it."""
        return next((c.offset - item.start for c in self._result.candidates
                     if c.chunk == source.chunk and c.quote == source.quote
                     and c.offset is not None), None)

    def _by_chunk(self) -> dict[str, list[Source]]:
        """Sources grouped by chunk, so a chunk holding several quotes is shown once."""
        groups: dict[str, list[Source]] = {}
        for source in self._result.sources:
            groups.setdefault(source.chunk, []).append(source)
        return groups

    def _chunk(self, label: str, sources: list[Source]) -> Text:
        pages = sorted({s.page for s in sources if s.page is not None})
        header = Text(f"Page {', '.join(map(str, pages)) or '?'} · chunk {label}\n",
                      style="bold")
        item = self._chunks.get(label)
        if item is None:
            return header + literal("(the chunk is no longer in the session)")
        return header + highlight(item.text, [(s.quote, self._near(s, item)) for s in sources])

    def _sources_text(self) -> Text:
        """Every source chunk of the value, one after another."""
        result = self._result
        if not result.sources:
            return Text("No source: " + ("the value was typed by hand." if result.edited
                                         else "nothing was found."))
        return Text("\n\n").join(self._chunk(label, sources)
                                  for label, sources in self._by_chunk().items())

    def _scroll_to_quote(self, source: Source, before: int = 0) -> None:
        """Bring ``source``'s quote into view: it may sit far down a long chunk."""
        item = self._chunks.get(source.chunk)
        span = find_quote(item.text, source.quote, self._near(source, item)) if item else None
        if item is not None and span is not None:
            line = before + item.text.count("\n", 0, span[0]) + 1  # + the header line
            self.call_after_refresh(self.query_one("#sources").scroll_to,
                                    y=max(0, line - 3), animate=False)

    def on_mount(self) -> None:
        if self._result.sources:
            self._scroll_to_quote(self._result.sources[0])
        for candidates in self.query("#candidates"):  # the arrows go through the candidates
            candidates.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Show the highlighted candidate's chunk, its quote marked and in view."""
        candidate = self._result.candidates[event.option_index]
        source = Source(candidate.chunk, candidate.page, candidate.quote)
        shown = Text.assemble(("Candidate ", "dim"), literal(candidate.value or "(empty)",
                                                             "bold"), ": ")
        shown.append_text(self._chunk(candidate.chunk, [source]))
        self.query_one("#source-text", Static).update(shown)
        self._scroll_to_quote(source)

    def compose(self) -> ComposeResult:
        result = self._result
        with Vertical(classes="dialog"):
            yield Static(Text.assemble((result.name, "bold"), " in ", literal(self._document)),
                         classes="title")
            yield Static(self._summary())
            with VerticalScroll(id="sources"):
                yield Static(self._sources_text(), id="source-text")
            if result.candidates:
                yield Static(Text(f"{len(result.candidates)} candidate(s), "
                                  f"{len(result.conflicts)} conflict(s). Pick one to use it "
                                  "(stored as your edit):"), classes="hint")
                yield OptionList(*[Option(candidate_line(c, c in result.conflicts), id=str(i))
                                   for i, c in enumerate(result.candidates)], id="candidates")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._result.candidates[event.option_index])

    def on_button_pressed(self) -> None:
        self.dismiss(None)
