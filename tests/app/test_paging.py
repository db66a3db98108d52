"""Screens over more documents than one page of rows: each reads the pages it draws and
opens the row under the cursor, not another.

The session is made once per module, as ``extractor run`` would leave it: 130 documents
added in two batches (so the order of their ids is not the order of their paths, which is
how the screens list them), run offline, with the chunks of every tenth document failing.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Static

from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import OfflineClient
from extractor_tui.core.session import Session
from extractor_tui.errors import TransientError
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.screens.documents import DocumentsView
from extractor_tui.ui.screens.failed import FailedView
from extractor_tui.ui.screens.results import ResultsView
from extractor_tui.ui.widgets.footer import QuietFooter
from extractor_tui.ui.widgets.page_preview import PagePreview

DOCUMENTS = 130
SIZE = (140, 40)
SETTINGS = Settings(provider="offline", retries=1)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


class TenthFails(OfflineClient):
    """The offline provider, except that documents numbered 0, 10, 20 … get a 503."""

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if "Reference: R0" in request.chunk_text:
            raise TransientError("503 Service Unavailable (simulated)", status=503)
        return await super().complete(request, timeout)


def _write(folder: Path, numbers: range) -> None:
    folder.mkdir(parents=True)
    for n in numbers:
        (folder / f"invoice-{n:03d}.txt").write_text(
            f"ACME LTD\nInvoice Number: INV-{n:04d}\nInvoice Date: 2024-03-01\n"
            f"Reference: R{n % 10}-{n}\nTotal: {n}.00\n", encoding="utf-8")


async def _make(work: Path) -> None:
    # Ids in one order (z/ first), paths in another (a/ sorts first).
    _write(work / "z", range(DOCUMENTS // 2, DOCUMENTS))
    _write(work / "a", range(DOCUMENTS // 2))
    with Session.open(work / "s.sqlite") as session:
        job = Job(SETTINGS, preset("invoice"), session, client=TenthFails())
        try:
            await job.add_paths([work / "z"])
            await job.add_paths([work / "a"])
            await job.run()
        finally:
            await job.aclose()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("paging")
    asyncio.run(_make(work))
    return work


@pytest.fixture
def session(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "work"
    shutil.copytree(made, copy)
    return copy / "s.sqlite"


def _shown(static: Static) -> str:
    """The text a Static shows, whatever renderable it holds."""
    content = static.content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def _number(path: str) -> int:
    return int(Path(path).stem.removeprefix("invoice-"))


async def test_documents_list_by_path_and_preview_the_highlighted_one(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(DocumentsView)
        table = view.table
        assert table.row_count == DOCUMENTS
        assert table.fetches == 1, "one page of rows for the first screen"
        paths = [table.get_row_at(i)[0].plain for i in range(DOCUMENTS)]
        assert [_number(p) for p in paths] == list(range(DOCUMENTS)), "listed by path"
        table.focus()
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == DOCUMENTS - 1
        title = _shown(app.query_one(PagePreview).query_one("#page-title", Static))
        assert f"invoice-{DOCUMENTS - 1:03d}.txt" in title
        assert "INV-0129" in _shown(app.query_one("#page-text", Static))
        table.move_cursor(103)  # on the second page of rows
        await pilot.pause()
        assert "INV-0103" in _shown(app.query_one("#page-text", Static))
        assert table.get_row_at(103)[4].plain == "done 1/1"
        assert table.get_row_at(100)[4].plain == "1 unfinished · 0/1 done"


async def test_results_open_the_document_under_the_cursor(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        view = app.query_one(ResultsView)
        docs = view.documents
        assert docs.row_count == DOCUMENTS
        docs.focus()
        docs.move_cursor(117)
        await pilot.pause()
        assert view.table.get_row("invoice_number")[1].plain == "INV-0117"
        assert "invoice-117.txt" in _shown(view.query_one("#result-title", Static))
        await pilot.press("right_square_bracket")  # ] : the next document
        await pilot.pause()
        assert docs.cursor_row == 118
        assert view.table.get_row("invoice_number")[1].plain == "INV-0118"
        assert docs.get_row_at(120)[0].plain == "○", "a document with a failed chunk"
        assert docs.get_row_at(121)[0].plain == "●"


async def test_failed_lists_every_unfinished_chunk_and_opens_the_right_one(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        view = app.query_one(FailedView)
        table = view.table
        assert table.row_count == DOCUMENTS // 10 == app.controller.unfinished_count()
        # In the order of the documents' ids: z/ (65 …) was added first.
        numbers = [_number(table.get_row_at(i)[1].plain) for i in range(table.row_count)]
        assert numbers == [70, 80, 90, 100, 110, 120, 0, 10, 20, 30, 40, 50, 60]
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        assert "INV-0090" in _shown(view.query_one("#text", Static))
        assert "503" in _shown(view.query_one("#attempts", Static))
        await pilot.press("space", "down", "space")
        assert len(view.marked) == 2
        assert [table.get_row_at(i)[0].plain for i in range(2, 5)] == ["✓", "✓", " "]
        await pilot.press("asterisk")  # select all: every chunk, not only those drawn
        assert view.marked == set(app.controller.unfinished_ids())
        assert "13 unfinished chunk(s), 13 selected" in _shown(view.query_one("#failed-count",
                                                                             Static))


async def test_switching_screens_builds_no_widget_and_brings_each_screens_keys(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    """A screen is built before it is shown (the first time), then shown with its table
    focused in the same step, so one frame paints it whole; shown again it is as it was: no
    widget is built, and the footer offers its keys (Textual's Footer rebuilt a widget per
    key on every switch)."""
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for tab, view in (("results", ResultsView), ("failed", FailedView)):
            assert not app.query(view)
            await app.action_show_tab(tab)
            assert app.focused is app.query_one(view).table, "built, shown and focused"
            await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        footer = app.query_one(QuietFooter)
        built = list(app.screen.walk_children())
        tables = {"results": app.query_one(ResultsView).table,
                  "failed": app.query_one(FailedView).table,
                  "documents": app.query_one(DocumentsView).table}
        keys = {"results": "Open value", "failed": "Retry all", "documents": "Add path…"}
        for tab in ("results", "failed", "documents", "results"):
            await app.action_show_tab(tab)
            assert app.focused is tables[tab], "focused with the screen, not a turn later"
            await pilot.pause()
            assert keys[tab] in [item.description for item in footer.items]
        assert [w for w in app.screen.walk_children() if w not in built] == []


async def test_switching_back_to_a_screen_reads_and_rebuilds_nothing_when_nothing_changed(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    """Results, Failed and Documents keep their rows while hidden: shown again, no table is
    refilled and no page read again; a change (an edit) is read when it happens."""
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in "651":
            await pilot.press(key)
            await settle(pilot)
        results, failed = app.query_one(ResultsView), app.query_one(FailedView)
        documents = app.query_one(DocumentsView)
        rows = list(results.table.rows)  # a refill makes new row keys
        fetches = (results.documents.fetches, failed.table.fetches, documents.table.fetches)
        for key in "65165":
            await pilot.press(key)
            await settle(pilot)
        assert all(a is b for a, b in zip(list(results.table.rows), rows, strict=True))
        assert (results.documents.fetches, failed.table.fetches,
                documents.table.fetches) == fetches
        app.controller.edit(results.doc_id or 0, "invoice_number", "EDITED-1")
        await settle(pilot)
        assert results.table.get_row("invoice_number")[1].plain == "EDITED-1"


async def test_a_click_on_a_footer_key_presses_it(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = app.query_one(QuietFooter)
        line = footer.render().plain
        assert "^p palette" in line[-14:], "the palette's key on the right"
        await pilot.click(QuietFooter, offset=(line.index("Add path…"), 0))
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)


_CHUNK_TEXT = re.compile(r"\bc\.text\b|\btext\b\s*,|\bSELECT\b.*\btext\b", re.S)
_ONE_DOCUMENT = re.compile(r"\bdoc_id\s*=\s*(\?|\d+)")


async def test_switching_screens_reads_no_chunk_text_but_one_documents(
        make_app: MakeApp, settle: Settle, session: Path) -> None:
    """Issue 14: the screens ask for counts and pages; chunk text is read for the one
    document (or chunk) on screen, never for all of them."""
    app = make_app([], session=session, fields=None, settings=SETTINGS)
    statements: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.job.session._db.set_trace_callback(statements.append)  # noqa: SLF001
        for key in ("6", "1", "5", "6", "1", "end", "6", "5", "end"):
            await pilot.press(key)
            await settle(pilot)
        app.controller.job.session._db.set_trace_callback(None)  # noqa: SLF001
    text_reads = [sql for sql in statements if "chunks" in sql and _CHUNK_TEXT.search(sql)]
    assert statements and text_reads, "the screens read, and the rows on screen show text"
    assert [sql for sql in text_reads if not _ONE_DOCUMENT.search(sql)] == []
