"""VirtualTable: 10,000 rows drawn from pages read on demand, with a cursor that moves,
highlights and selects the right row, and cells cut to declared widths.

Driven in a small app of its own, so what is measured is the widget alone: how many rows
it asked its source for, which index each message names, what each line shows.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult

from extractor_tui.ui.widgets.virtual_table import Column, VirtualTable, fit

ROWS = 10_000
COLUMNS = (Column("Path", 12, flex=1, cut_left=True), Column("N", 6, right=True),
           Column("Note", 8, flex=1))


class Source:
    """``ROWS`` rows (their index); counts what was asked of it."""

    def __init__(self, rows: int = ROWS) -> None:
        self.rows = rows
        self.fetched: list[tuple[int, int]] = []

    def fetch(self, offset: int, limit: int) -> list[int]:
        self.fetched.append((offset, limit))
        return list(range(offset, min(self.rows, offset + limit)))

    def count(self) -> int:
        return self.rows

    @staticmethod
    def cells(row: int) -> tuple[Text, ...]:
        return (Text(f"folder/sub/file-{row:05d}.txt"), Text(f"{row:,}"),
                Text(f"[bold]note {row}"))


class TableApp(App[None]):
    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.messages: list[tuple[str, int]] = []

    def compose(self) -> ComposeResult:
        yield VirtualTable[int](COLUMNS, self.source.fetch, self.source.count,
                                self.source.cells, page_size=50)

    def on_mount(self) -> None:
        table = self.query_one(VirtualTable)
        table.reload()
        table.focus()

    def on_virtual_table_row_highlighted(self, event: VirtualTable.RowHighlighted) -> None:
        self.messages.append(("highlighted", event.index))

    def on_virtual_table_row_selected(self, event: VirtualTable.RowSelected) -> None:
        self.messages.append(("selected", event.index))


def _drawn(table: VirtualTable[Any]) -> list[str]:
    """Each line of the table as drawn on screen (header first)."""
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


async def test_ten_thousand_rows_read_only_the_pages_on_screen() -> None:
    source = Source()
    app = TableApp(source)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(VirtualTable)
        assert table.row_count == ROWS
        assert source.fetched == [(0, 50)], "one page drawn, one page read"
        assert "file-00000.txt" in table.line_text(0).plain
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == ROWS - 1 and table.current == ROWS - 1
        assert source.fetched == [(0, 50), (9950, 50)], "nothing in between was read"
        assert app.messages[-1] == ("highlighted", ROWS - 1)
        table.move_cursor(9_940)  # the screen now straddles two pages: both are read
        await pilot.pause()
        assert source.fetched[2:] == [(9900, 50)]


async def test_the_cursor_moves_highlights_and_selects_the_right_row() -> None:
    app = TableApp(Source())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(VirtualTable)
        await pilot.press("down", "down")
        await pilot.pause()
        assert table.cursor_row == 2
        await pilot.press("pagedown")
        await pilot.pause()
        below = table.cursor_row
        assert below > 2 + 10, "a page is a screenful of rows"
        await pilot.press("enter")
        await pilot.pause()
        assert app.messages[-1] == ("selected", below)
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and app.messages[-1] == ("highlighted", 0)
        await pilot.press("up")  # already at the top: no move, no message
        await pilot.pause()
        assert app.messages[-1] == ("highlighted", 0)


async def test_a_click_moves_the_cursor_and_a_second_click_selects() -> None:
    app = TableApp(Source())
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(VirtualTable)
        table.move_cursor(500)
        await pilot.pause()
        top = round(table.scroll_offset.y)
        assert top <= 500 < top + 19  # 20 lines: the header and 19 rows
        await pilot.click(VirtualTable, offset=(3, 1 + 4))  # line 0 is the header
        await pilot.pause()
        assert table.cursor_row == top + 4
        await pilot.click(VirtualTable, offset=(3, 1 + 4))
        await pilot.pause()
        assert app.messages[-1] == ("selected", top + 4)


async def test_reload_counts_again_and_keeps_the_cursor_within_the_rows() -> None:
    source = Source()
    app = TableApp(source)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        table = app.query_one(VirtualTable)
        table.move_cursor(9_000)
        source.rows = 100
        table.reload()
        await pilot.pause()
        assert table.row_count == 100 and table.cursor_row == 99 and table.current == 99
        table.reload(cursor=7)
        assert table.cursor_row == 7
        source.rows = 0
        table.reload()
        await pilot.pause()
        assert table.row_count == 0 and table.current is None
        await pilot.press("down", "enter")  # nothing to move to or select
        assert app.messages == [("highlighted", 9_000)]


async def test_columns_share_the_width_and_cells_stay_literal() -> None:
    app = TableApp(Source())
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        lines = _drawn(app.query_one(VirtualTable))
        header = lines[0]
        assert "Path" in header and "N" in header and "Note" in header
        row = next(line for line in lines if "00002" in line)
        assert " …file-00002.txt " in row, "a path is cut on the left: the file name stays"
        assert "[bold]" in row, "a cell's brackets are shown, not parsed"
        assert row.index("2 ") < row.index("[bold]")


def test_fit_cuts_pads_and_aligns() -> None:
    assert fit(Text("abcdef"), 4).plain == "abc…"
    assert fit(Text("abcdef"), 4, cut_left=True).plain == "…def"
    assert fit(Text("ab"), 4).plain == "ab  "
    assert fit(Text("ab"), 4, right=True).plain == "  ab"
    wide = fit(Text("日本語のファイル.txt"), 10, cut_left=True)
    assert wide.cell_len == 10 and wide.plain.rstrip().endswith(".txt")
    styled = fit(Text.assemble(("red", "red"), " plain"), 20)
    assert styled.spans and styled.spans[0].style == "red"
