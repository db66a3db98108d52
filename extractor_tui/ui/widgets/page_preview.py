"""A document's text, page by page, rebuilt from the chunks the session stores.

The session keeps each chunk's text and character span, not the whole document, and the
chunks overlap and cover the text end to end (``chunk.text == text[start:end]``), so
laying them side by side gives the text back without reading the file again; the page
offsets then cut it into pages. A gap (none is expected) shows as spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from extractor_tui.core.model import WorkItem
from extractor_tui.ui.widgets.literal import literal

__all__ = ["PagePreview", "page_texts"]


def page_texts(items: Sequence[WorkItem]) -> list[str]:
    """The text of each page of the document these chunks come from."""
    if not items:
        return []
    pieces: list[str] = []
    covered = 0
    for item in sorted(items, key=lambda i: (i.start, i.end)):
        if item.end <= covered:
            continue
        if item.start > covered:
            pieces.append(" " * (item.start - covered))
            covered = item.start
        pieces.append(item.text[covered - item.start:])
        covered = item.end
    text = "".join(pieces)
    bounds = [*items[0].page_starts, len(text) + 1]
    return [text[bounds[i]:max(bounds[i], bounds[i + 1] - 1)]
            for i in range(len(bounds) - 1)]


class PagePreview(Vertical):
    """A title line and one page of text; ``turn(±1)`` moves between pages."""

    DEFAULT_CSS = """
    PagePreview { height: 1fr; border: round $panel; }
    PagePreview > #page-title { height: auto; max-height: 6; background: $boost;
                                padding: 0 1; }
    PagePreview > VerticalScroll { height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title: Text = Text("")
        self._pages: list[str] = []
        self._page = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("Select a document to see its text."), id="page-title")
        with VerticalScroll():
            yield Static("", id="page-text")

    def show(self, title: str, pages: list[str], page: int = 0,
             notes: Sequence[str] = ()) -> None:
        """Show a document's pages, starting at ``page`` (0-based), with the loader's
        notes (how the text was read) in the title."""
        self._title, self._pages = literal(title), pages
        for note in notes:
            self._title.append(" · ")
            self._title.append_text(literal(note, "yellow"))
        self._page = max(0, min(page, len(pages) - 1))
        self._draw()

    def clear(self, message: str | Text, body: Text | None = None) -> None:
        self._title, self._pages, self._page = Text(""), [], 0
        self.query_one("#page-title", Static).update(
            message if isinstance(message, Text) else Text(message))
        self.query_one("#page-text", Static).update(body or "")

    def turn(self, delta: int) -> None:
        if self._pages:
            self._page = max(0, min(self._page + delta, len(self._pages) - 1))
            self._draw()

    @property
    def page(self) -> int:
        return self._page

    def _draw(self) -> None:
        if not self._pages:
            self.clear(Text.assemble(self._title, " · no text"))
            return
        title = Text.assemble(self._title, f" · page {self._page + 1} of {len(self._pages)}",
                              ("   [ previous · ] next", "dim"))
        self.query_one("#page-title", Static).update(title)
        self.query_one("#page-text", Static).update(
            literal(self._pages[self._page] or "(empty page)", multiline=True))
        self.query_one(VerticalScroll).scroll_home(animate=False)
