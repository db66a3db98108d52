"""RequestTable: one line per request, drawn straight from the tracker's rows.

Why not ``DataTable``: it copies every cell into its own model and measures it, so adding
20,000 rows takes seconds (``bench/tui.py`` prints the figure) and each row costs memory
twice. This widget uses the Line API instead (``ScrollView`` + ``render_line``): it keeps
only an ordered list of ids and renders the dozens of lines on screen from the tracker's
``RequestRow`` objects, so a flush costs O(changed rows + visible lines) whatever the run's
size, and there is no table to rebuild.

Rows are ordered by ``ChunkId`` (document, chunk, halves), so the halves of a split chunk
sit under it. A status filter keeps a second sorted list plus a set for O(1) membership;
it is rebuilt (O(n)) only when the filter itself changes, and a row whose status crosses
the filter boundary is inserted or removed by bisection.

Document-derived strings never meet markup parsing: each line is a ``Text`` built from the
plain string (styles come as spans, by position), after control characters are blanked, so
``[/bold]`` or an escape sequence in a file name shows as typed and cannot restyle the
terminal.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from extractor_tui.core.model import ChunkId, ChunkStatus
from extractor_tui.core.tracker import RequestRow, RequestTracker
from extractor_tui.errors import ErrorKind
from extractor_tui.ui.widgets.literal import CONTROL_NO_NEWLINE, display_path

__all__ = ["COLUMNS", "RequestSelected", "RequestTable", "row_cells", "status_label"]

_TICKING = (ChunkStatus.IN_PROGRESS, ChunkStatus.RETRYING)  # rows whose cells depend on the clock


@dataclass(frozen=True)
class _Column:
    title: str
    width: int
    right: bool = False


COLUMNS: tuple[_Column, ...] = (
    _Column("Chunk", 8), _Column("Pages", 9), _Column("Status", 11),
    _Column("Try", 3, right=True), _Column("Error", 14), _Column("Retry", 9),
    _Column("Time", 8, right=True), _Column("Tokens", 7, right=True),
    _Column("In/Out", 13, right=True),
)
"""Every column after the document, which takes the width that is left."""
_MIN_DOCUMENT = 16
_STATUS_COLUMNS = ("Status", "Error")  # drawn in the status colour
_FIXED = sum(column.width + 1 for column in COLUMNS)


def status_label(status: ChunkStatus) -> str:
    """``ChunkStatus.IN_PROGRESS`` → ``"in progress"``."""
    return status.value.replace("_", " ")


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.0f} min"


def row_cells(row: RequestRow, now: float,
              cooling_until: float | None = None) -> tuple[str, ...]:
    """The text of each column in ``COLUMNS`` order (the document comes separately).

    The countdown and the running time are computed against ``now``, so a caller that passes
    the same ``now`` gets the same strings (the snapshot test relies on it). A request
    waiting out a 429 waits for the shared cool-down (``cooling_until``), which a later 429
    may have pushed past the time the row was given: the header and the row then agree.
    """
    first, last = row.pages
    retry = ""
    if row.status is ChunkStatus.RETRYING and row.next_attempt_at is not None:
        due = row.next_attempt_at
        if row.reason is ErrorKind.BACK_PRESSURE and cooling_until is not None:
            due = max(due, cooling_until)
        wait = due - now
        retry = f"in {_seconds(wait)}" if wait > 0.05 else "now"
    if row.processing_time is not None and row.status is ChunkStatus.COMPLETED:
        elapsed = _seconds(row.processing_time)
    elif row.status is ChunkStatus.IN_PROGRESS and row.attempts:
        elapsed = _seconds(max(0.0, now - row.attempts[-1].start)) + "…"
    else:
        elapsed = ""
    spent = (f"{row.prompt_tokens:,}/{row.completion_tokens:,}"
             if row.prompt_tokens or row.completion_tokens else "")
    status, note = status_label(row.status), row.reason or ""
    if row.status is ChunkStatus.COMPLETED and row.marked_empty:
        status, note = "empty", "marked empty"  # no answer came: the user said so
    return (row.id.label, str(first) if first == last else f"{first}–{last}",
            status, str(row.attempt_count) if row.attempts else "",
            note, retry, elapsed, f"{row.token_count:,}", spent)


@dataclass(frozen=True)
class _Paint:
    """What every line of one paint shares, looked up once per paint rather than per line."""

    width: int
    document_width: int
    base: Style
    header: Style
    cursor: Style
    statuses: dict[ChunkStatus, Style]


def _fit(value: str, width: int, right: bool = False) -> str:
    """``value`` in exactly ``width`` cells: control characters blanked, cut with an ellipsis."""
    value = value.translate(CONTROL_NO_NEWLINE)
    if cell_len(value) > width:
        return set_cell_size(value, width - 1) + "…"
    return value.rjust(width) if right else set_cell_size(value, width)


def _fit_path(path: str, width: int) -> str:
    """A path as every screen shows it (``display_path``), cut on the left when too long,
    so the file name stays in sight however narrow the column."""
    value = display_path(path).translate(CONTROL_NO_NEWLINE)
    if cell_len(value) <= width:
        return set_cell_size(value, width)
    tail = value[::-1]
    kept = set_cell_size(tail, width - 1).rstrip()[::-1]
    return "…" + set_cell_size(kept, width - 1)


@dataclass(eq=False)
class RequestSelected(Message):
    """The cursor reached a request, or Enter was pressed on it; show its details."""

    table: RequestTable
    chunk_id: ChunkId

    @property
    def control(self) -> RequestTable:
        return self.table

    def can_replace(self, message: Message) -> bool:
        # A burst of cursor moves leaves only the last one in the queue (as toolong does).
        return isinstance(message, RequestSelected) and message.table is self.table


class RequestTable(ScrollView, can_focus=True):
    """A virtual table over ``tracker.rows``; call ``update_rows(changed)`` on each flush."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Previous request", show=False),
        Binding("down", "cursor(1)", "Next request", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First request", show=False),
        Binding("end", "last", "Last request", show=False),
        Binding("enter", "choose", "Request details", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "request-table--header", "request-table--cursor",
        *(f"request-table--{status.value.replace('_', '-')}" for status in ChunkStatus),
    }

    DEFAULT_CSS = """
    RequestTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        & > .request-table--header { text-style: bold; background: $panel; }
        & > .request-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .request-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
        }
        & > .request-table--pending { color: $text-muted; }
        & > .request-table--in-progress { color: $accent; }
        & > .request-table--retrying { color: $warning; }
        & > .request-table--completed { color: $success; }
        & > .request-table--failed { color: $error; text-style: bold; }
        & > .request-table--cancelled { color: $text-disabled; }
        & > .request-table--split { color: $text-muted; text-style: italic; }
    }
    """

    def __init__(self, tracker: RequestTracker, now: Callable[[], float], *,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._tracker = tracker
        self._now = now
        self._at = 0.0  # the clock as of the last flush: every line drawn agrees on it
        self._order: list[ChunkId] = []
        self._seen = 0  # how many of tracker.rows are in _order
        self._filter: frozenset[ChunkStatus] | None = None
        self._filtered: list[ChunkId] = []
        self._listed: set[ChunkId] = set()
        self._cursor = 0
        self._cursor_id: ChunkId | None = None
        self._paint: _Paint | None = None
        self.rebuilds = 0
        """How often the filtered index was rebuilt: only when the filter changes."""

    # -- what is shown ---------------------------------------------------------------------

    @property
    def view(self) -> Sequence[ChunkId]:
        """The ids on show, in order (all rows, or those passing the filter)."""
        return self._order if self._filter is None else self._filtered

    @property
    def row_count(self) -> int:
        return len(self.view)

    @property
    def status_filter(self) -> frozenset[ChunkStatus] | None:
        return self._filter

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def selected(self) -> ChunkId | None:
        """The request under the cursor, if any row is shown."""
        return self._cursor_id

    def set_filter(self, statuses: Collection[ChunkStatus] | None) -> None:
        """Show only rows in ``statuses`` (None or empty: all). O(n), once per change."""
        wanted = frozenset(statuses) if statuses else None
        if wanted == self._filter:
            return
        self._filter = wanted
        if wanted is None:
            self._filtered, self._listed = [], set()
        else:
            rows = self._tracker.rows
            self._filtered = [cid for cid in self._order if rows[cid].status in wanted]
            self._listed = set(self._filtered)
        self.rebuilds += 1
        self._after_reshape(0)
        self._scroll_to_cursor()

    # -- flush -----------------------------------------------------------------------------

    def update_rows(self, changed: Sequence[ChunkId]) -> None:
        """Take in the rows the tracker changed since the last flush; redraw what shows.

        New rows are found by position, not by hashing every changed id: the tracker only
        ever adds rows, at the end of its (insertion-ordered) dict.
        """
        self._at = self._now()
        rows, wanted = self._tracker.rows, self._filter
        moved: list[int] = []  # view indices where rows were inserted or removed
        if len(rows) > self._seen:
            for cid in islice(rows, self._seen, None):
                at = self._insert(self._order, cid)
                if wanted is None:
                    moved.append(at)
                elif rows[cid].status in wanted:
                    self._listed.add(cid)
                    moved.append(self._insert(self._filtered, cid))
            self._seen = len(rows)
        if wanted is not None:
            for cid in changed:
                passes, listed = rows[cid].status in wanted, cid in self._listed
                if passes and not listed:
                    self._listed.add(cid)
                    moved.append(self._insert(self._filtered, cid))
                elif listed and not passes:
                    self._listed.discard(cid)
                    at = bisect_left(self._filtered, cid)
                    del self._filtered[at]
                    moved.append(at)
        top, height = self._window()
        if moved:
            first = min(moved)
            self._after_reshape(first)
            if first < top + height:
                self.refresh()
                return
        fresh = set(changed)
        view = self.view
        for index in range(top, min(top + height, len(view))):
            cid = view[index]
            if cid in fresh or rows[cid].status in _TICKING:
                self.refresh_line(index + 1)  # + 1: the header is line 0

    @staticmethod
    def _insert(ordered: list[ChunkId], cid: ChunkId) -> int:
        """Insert keeping ``ordered`` sorted; return where. Bisection relies on this."""
        if not ordered or ordered[-1] < cid:  # the usual case: plan order is id order
            ordered.append(cid)
            return len(ordered) - 1
        at = bisect_left(ordered, cid)
        ordered.insert(at, cid)
        return at

    def _after_reshape(self, first: int) -> None:
        """The view gained or lost rows from index ``first`` on: keep the cursor on its row."""
        view = self.view
        self.virtual_size = Size(_FIXED + _MIN_DOCUMENT, len(view) + 1)
        if self._cursor_id is not None:
            if first > self._cursor:
                return
            at = bisect_left(view, self._cursor_id)
            if at < len(view) and view[at] == self._cursor_id:
                self._cursor = at
                return
        self._move(self._cursor)

    # -- cursor ----------------------------------------------------------------------------

    def _move(self, index: int, announce: bool = False) -> None:
        view = self.view
        old = self._cursor_id
        self._cursor = max(0, min(index, len(view) - 1))
        self._cursor_id = view[self._cursor] if view else None
        if self._cursor_id is not None and (announce or self._cursor_id != old):
            self.post_message(RequestSelected(self, self._cursor_id))
        self.refresh()

    def _window(self) -> tuple[int, int]:
        """(first view index on screen, how many rows fit under the header)."""
        return round(self.scroll_offset.y), max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top, height = self._window()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False)

    def move_cursor(self, index: int) -> None:
        """Put the cursor on view row ``index`` (clamped) and scroll it into sight."""
        self._move(index)
        self._scroll_to_cursor()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self._cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self._cursor + direction * self._window()[1])

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.view) - 1)

    def action_choose(self) -> None:
        if self._cursor_id is not None:
            self.post_message(RequestSelected(self, self._cursor_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        index = self._window()[0] + offset.y - 1
        if index < len(self.view):
            self._move(index, announce=event.chain > 1)

    # -- drawing ---------------------------------------------------------------------------

    def _line_width(self) -> int:
        # The virtual width is the minimum, so a horizontal scrollbar shows only when even
        # that does not fit; otherwise the document column takes whatever width there is.
        return max(self.scrollable_content_region.width, _FIXED + _MIN_DOCUMENT)

    def _document_width(self) -> int:
        return self._line_width() - _FIXED

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(f"request-table--{component}", partial=True)

    def _make_paint(self) -> _Paint:
        base = self.rich_style
        return _Paint(
            width=self.scrollable_content_region.width, document_width=self._document_width(),
            base=base, header=base + self._style("header"), cursor=base + self._style("cursor"),
            statuses={status: self._style(status.value.replace("_", "-"))
                      for status in ChunkStatus})

    def _row_text(self, row: RequestRow, paint: _Paint) -> Text:
        status_style = paint.statuses[row.status]
        parts = [_fit_path(row.document, paint.document_width)]
        spans: list[Span] = []
        at = len(parts[0])
        cells = row_cells(row, self._at, self._tracker.cooling_until)
        for column, value in zip(COLUMNS, cells, strict=True):
            cell = _fit(value, column.width, column.right)
            if column.title in _STATUS_COLUMNS:
                spans.append(Span(at + 1, at + 1 + len(cell), status_style))
            parts += (" ", cell)
            at += 1 + len(cell)
        return Text("".join(parts), spans=spans, no_wrap=True, end="")

    def _header_text(self, paint: _Paint) -> Text:
        titles = [_fit("Document", paint.document_width)]
        titles += [_fit(column.title, column.width, column.right) for column in COLUMNS]
        return Text(" ".join(titles), no_wrap=True, end="")

    def line_text(self, index: int) -> Text:
        """Row ``index`` of the view as the styled text ``render_line`` draws."""
        return self._row_text(self._tracker.rows[self.view[index]], self._make_paint())

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles and widths are the same for every line of a paint: look them up once.
        self._paint = self._make_paint()
        try:
            return super().render_lines(crop)
        finally:
            self._paint = None

    def render_line(self, y: int) -> Strip:
        paint = self._paint or self._make_paint()
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            text, style = self._header_text(paint), paint.header
        else:
            index = scroll_y + y - 1
            view = self.view
            if index >= len(view):
                return Strip.blank(paint.width, paint.base)
            text = self._row_text(self._tracker.rows[view[index]], paint)
            style = paint.cursor if index == self._cursor else paint.base
        strip = Strip(text.render(self.app.console), text.cell_len).apply_style(style)
        return strip.crop_extend(scroll_x, scroll_x + paint.width, style)
