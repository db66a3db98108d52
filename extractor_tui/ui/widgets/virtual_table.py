"""VirtualTable: a table (or, without its header, a list) over rows read a page at a time.

Why not ``DataTable`` or ``OptionList``: both copy every row into the widget and measure
it, so a session of 10,000 documents took seconds to show its Documents and Results
screens, and every redraw measured them all again (issue 14). This widget is drawn with the
Line API (``ScrollView`` + ``render_line``), as ``RequestTable`` is: it holds a row count
and the few pages of rows it has drawn, asks ``fetch(offset, limit)`` (a session query)
for a page when a line of it comes into sight, and keeps nothing else. ``reload()`` drops
the pages and counts again; the cursor is an index the screen places.

Column widths are declared, not measured (measuring means reading every row): fixed
columns, and flexible ones (``flex``) that share whatever width is left, so a row draws the
same whatever other rows hold. A path column is cut on the left (``cut_left``), so the
file name stays in sight. A new column is one more ``Column`` and one more cell.

Cells are ``Text`` the screen built (document-derived strings through ``literal``); here
they are only cut and padded, never parsed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["Column", "VirtualTable", "fit"]

RowT = TypeVar("RowT")
_PAGES_KEPT = 8  # pages of rows held at once: a few screens' worth around the cursor


@dataclass(frozen=True)
class Column:
    """A column: its title, its width in cells (the least width, when ``flex``), and how
    its cells are placed."""

    title: str
    width: int
    flex: int = 0
    """Share of the spare width this column takes (0: fixed at ``width``)."""
    right: bool = False
    cut_left: bool = False
    """Too long, keep the end (a path's file name) rather than the start."""


def fit(cell: Text, width: int, *, right: bool = False, cut_left: bool = False) -> Text:
    """``cell`` in exactly ``width`` cells, its styles kept: cut with an ellipsis (on the
    left with ``cut_left``), then padded."""
    text = cell.copy()
    text.no_wrap, text.end = True, ""
    if cell_len(text.plain) > width:
        if cut_left and width > 1:
            plain, start, used = text.plain, len(text.plain), 0
            while start > 0 and used + cell_len(plain[start - 1]) <= width - 1:
                start -= 1
                used += cell_len(plain[start])
            text = Text.assemble("…", text[start:], no_wrap=True, end="")
        else:
            text.truncate(width, overflow="ellipsis")
    text.align("right" if right else "left", width)
    return text


@dataclass(frozen=True)
class _Paint:
    """What every line of one paint shares, worked out once per paint."""

    width: int
    widths: tuple[int, ...]
    base: Style
    even: Style
    header: Style
    cursor: Style
    """Laid over a row's own styles, as DataTable's cursor is: the row reads the same."""


class VirtualTable(ScrollView, Generic[RowT], can_focus=True):
    """Rows from ``fetch(offset, limit)``, ``count()`` of them, drawn by ``cells(row)``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Previous row", show=False),
        Binding("down", "cursor(1)", "Next row", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First row", show=False),
        Binding("end", "last", "Last row", show=False),
        Binding("enter", "select", "Select", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header", "virtual-table--cursor", "virtual-table--even-row"}
    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        scrollbar-gutter: stable;
        &:focus { background-tint: $foreground 5%; }
        & > .virtual-table--header { text-style: bold; background: $panel;
                                     color: $foreground; }
        & > .virtual-table--even-row { background: $surface-lighten-1 50%; }
        &:dark > .virtual-table--even-row { background: $surface-darken-1 40%; }
        & > .virtual-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .virtual-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """

    @dataclass(eq=False)
    class RowHighlighted(Message):
        """The cursor moved to row ``index``."""

        table: VirtualTable[Any]
        index: int

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

        def can_replace(self, message: Message) -> bool:
            # Holding a key down leaves only the last move in the queue (as toolong does):
            # the screen reads one row's details, not every row passed over.
            return (isinstance(message, VirtualTable.RowHighlighted)
                    and message.table is self.table)

    @dataclass(eq=False)
    class RowSelected(Message):
        """Enter on row ``index``, or a click on the row under the cursor."""

        table: VirtualTable[Any]
        index: int

        @property
        def control(self) -> VirtualTable[Any]:
            return self.table

    def __init__(self, columns: Sequence[Column],
                 fetch: Callable[[int, int], Sequence[RowT]], count: Callable[[], int],
                 cells: Callable[[RowT], Sequence[Text]], *, page_size: int = 100,
                 header: bool = True, zebra: bool = True, padding: int = 1,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.columns = tuple(columns)
        self._fetch, self._counter, self._cells = fetch, count, cells
        self._page_size = page_size
        self._header = header
        self._zebra = zebra
        self._pad = padding  # spaces either side of a cell (1, as DataTable draws them)
        self._count = 0
        self._pages: OrderedDict[int, Sequence[RowT]] = OrderedDict()
        self._cursor = 0
        self._paint: _Paint | None = None
        self.fetches = 0
        """How many pages were read so far (a test checks that a long list reads few)."""

    # -- what is shown ---------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return self._count

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def current(self) -> RowT | None:
        """The row under the cursor, if any."""
        return self.row_at(self._cursor)

    def row_at(self, index: int) -> RowT | None:
        """Row ``index`` (read with its page when not held); None past the end."""
        if not 0 <= index < self._count:
            return None
        number, at = divmod(index, self._page_size)
        page = self._pages.get(number)
        if page is None:
            page = self._fetch(number * self._page_size, self._page_size)
            self.fetches += 1
            self._pages[number] = page
            while len(self._pages) > _PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(number)
        return page[at] if at < len(page) else None  # the data shrank since the count

    def get_row_at(self, index: int) -> list[Text]:
        """The cells of row ``index`` as ``cells`` made them (not cut to width)."""
        row = self.row_at(index)
        if row is None:
            raise IndexError(index)
        return list(self._cells(row))

    def reload(self, cursor: int | None = None) -> None:
        """Count again and forget every page read; put the cursor on ``cursor`` (default:
        where it is), kept within the rows. Posts no message: the screen that reloads
        shows what the cursor is on itself."""
        self._count = self._counter()
        self._pages.clear()
        self._resize()
        self._cursor = max(0, min(self._cursor if cursor is None else cursor,
                                  self._count - 1))
        self._scroll_to_cursor()
        self.refresh()

    def _resize(self) -> None:
        least = sum(column.width + 2 * self._pad for column in self.columns)
        self.virtual_size = Size(least, self._count + self._header)

    # -- cursor ----------------------------------------------------------------------------

    def _window(self) -> tuple[int, int]:
        """(first row on screen, how many rows fit under the header)."""
        height = self.scrollable_content_region.height - self._header
        return round(self.scroll_offset.y), max(1, height)

    def _scroll_to_cursor(self) -> None:
        top, height = self._window()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        """Put the cursor on ``row`` (kept within the rows) and scroll it into sight."""
        old = self._cursor
        self._cursor = max(0, min(row, self._count - 1))
        self._scroll_to_cursor()
        self.refresh()
        if self._cursor != old and self._count:
            self.post_message(self.RowHighlighted(self, self._cursor))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self._cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self._cursor + direction * self._window()[1])

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self._count - 1)

    def action_select(self) -> None:
        if self._count:
            self.post_message(self.RowSelected(self, self._cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < self._header:
            return
        index = self._window()[0] + offset.y - self._header
        if index >= self._count:
            return
        if index == self._cursor:
            self.action_select()
        else:
            self.move_cursor(index)

    # -- drawing ---------------------------------------------------------------------------

    def _widths(self, total: int) -> tuple[int, ...]:
        """Each column's width when the line is ``total`` cells wide: the spare width goes
        to the flexible columns by their shares (the rest of a division to the last)."""
        widths = [column.width for column in self.columns]
        spare = total - sum(width + 2 * self._pad for width in widths)
        shares = sum(column.flex for column in self.columns)
        if spare > 0 and shares:
            flexible = [i for i, column in enumerate(self.columns) if column.flex]
            given = 0
            for i in flexible:
                extra = spare * self.columns[i].flex // shares
                widths[i] += extra
                given += extra
            widths[flexible[-1]] += spare - given
        return tuple(widths)

    def _style(self, component: str) -> Style:
        # The whole style, not the partial one: a partial style drops a colour's alpha, and
        # the blurred cursor (30 % of the primary colour) came out as bright as the focused.
        return self.get_component_rich_style(f"virtual-table--{component}")

    def _make_paint(self) -> _Paint:
        width = self.scrollable_content_region.width
        line = max(width, self.virtual_size.width)
        return _Paint(width, self._widths(line), self.rich_style, self._style("even-row"),
                      self._style("header"), self._style("cursor"))

    def _line(self, cells: Sequence[Text], widths: Sequence[int]) -> Text:
        line = Text(no_wrap=True, end="")
        pad = " " * self._pad
        for column, width, cell in zip(self.columns, widths, cells, strict=False):
            line.append(pad)
            line.append_text(fit(cell, width, right=column.right, cut_left=column.cut_left))
            line.append(pad)
        return line

    def line_text(self, index: int) -> Text:
        """Row ``index`` as ``render_line`` draws it: every cell cut and padded."""
        row = self.row_at(index)
        if row is None:
            raise IndexError(index)
        paint = self._make_paint()
        return self._line(self._cells(row), paint.widths)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._paint = self._make_paint()
        try:
            return super().render_lines(crop)
        finally:
            self._paint = None

    def render_line(self, y: int) -> Strip:
        paint = self._paint or self._make_paint()
        scroll_x, scroll_y = self.scroll_offset
        over: Style | None = None
        if self._header and y == 0:
            titles = [Text(column.title) for column in self.columns]
            text, style = self._line(titles, paint.widths), paint.header
        else:
            index = scroll_y + y - self._header
            row = self.row_at(index)
            if row is None:
                return Strip.blank(paint.width, paint.base)
            text = self._line(self._cells(row), paint.widths)
            style = paint.even if self._zebra and index % 2 == 0 else paint.base
            if index == self._cursor:
                style = over = paint.cursor
        segments = Segment.apply_style(text.render(self.app.console), style, over)
        strip = Strip(segments, text.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + paint.width, style)
