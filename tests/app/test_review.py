"""Reviewing a run: the Failed and Results screens and what they agree with (issue 12,
items 14, 19 and 20).

A picked conflict candidate keeps its source; the candidate list shows the highlighted
candidate's chunk; split & retry leaves no parent failed anywhere; attempts that got an
HTTP 200 with bad output show their tokens; chunks marked empty say so on Run; the
answered count moves during a run; the conflict flag survives long values; an export over
an existing file asks first.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Static

from extractor_tui.config import Settings
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import OfflineClient
from extractor_tui.core.model import ChunkStatus
from extractor_tui.errors import TransientError
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.export import ExportDialog
from extractor_tui.ui.dialogs.source import SourceDialog
from extractor_tui.ui.screens.failed import FailedView
from extractor_tui.ui.screens.results import COLUMNS, ResultsView
from extractor_tui.ui.screens.run import RunView
from loopback import Fault, LoopbackServer

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _texts(row: Any) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in row]


def _choose(app: ExtractorApp, name: str) -> ResultsView:
    view = app.query_one(ResultsView)
    view.doc_id = next(d.doc_id for d in app.controller.documents() if d.path.endswith(name))
    view.show_document()
    return view


_FILLER = "".join(f"Line {n} of the terms and conditions, nothing to extract here.\n"
                  for n in range(40))


async def test_a_picked_candidate_keeps_its_source_and_the_view_follows_the_list(
        tmp_path: Path, make_app: MakeApp, settle: Settle) -> None:
    """Item 14."""
    doc = tmp_path / "two-numbers.txt"
    doc.write_text("ACME LTD\nInvoice Number: A-100\nInvoice Date: 2024-03-01\nTotal: 10.00\n"
                   + _FILLER + "Invoice Number: B-200\n", encoding="utf-8")
    app = make_app([doc], settings=Settings(provider="offline", chunk_tokens=120,
                                            overlap_tokens=0))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()
        await settle(pilot)
        await pilot.press("6")
        view = _choose(app, "two-numbers.txt")
        view.table.move_cursor(row=view.table.get_row_index("invoice_number"))
        view.table.focus()
        await pilot.press("enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, SourceDialog)
        candidates = dialog.query_one("#candidates", OptionList)
        b200 = next(i for i, c in enumerate(view._results["invoice_number"].candidates)
                    if c.value == "B-200")
        chunk = view._results["invoice_number"].candidates[b200].chunk
        assert chunk != "0", "the second number sits in a later chunk"
        candidates.focus()
        candidates.highlighted = b200
        await pilot.pause()
        shown = dialog.query_one("#source-text", Static).content
        assert isinstance(shown, Text) and f"chunk {chunk}" in shown.plain
        assert any(shown.plain[s.start:s.end] == "Invoice Number: B-200" for s in shown.spans)
        assert dialog.query_one("#sources").scroll_target_y > 0 or "B-200" in shown.plain[:400]
        await pilot.press("enter")  # pick B-200
        await settle(pilot)
        row = _texts(view.table.get_row("invoice_number"))
        assert row[1] == "B-200"
        assert row[3] == "✓", "grounded, as the candidate was"
        page, quote = COLUMNS.index("Page"), COLUMNS.index("Quote")
        assert row[page] != "—" and "B-200" in row[quote], "its page and quote"
        report: Any = app.controller.job.report()
        field = report["documents"][0]["fields"]["invoice_number"]
        assert field["edited"] and field["grounded"]
        assert [s["chunk"] for s in field["sources"]] == [chunk]
        assert "B-200" in field["sources"][0]["quote"]


class FailsUntilFixed(OfflineClient):
    fixed = False

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if not self.fixed:
            raise TransientError("503 Service Unavailable (simulated)", status=503)
        return await super().complete(request, timeout)


async def test_split_and_retry_leaves_no_parent_failed_and_empty_shows_on_run(
        make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """Item 19: the Run summary agrees with the Failed tab; marked empty says so."""
    client = FailsUntilFixed()
    kestrel = sample_docs / "invoices" / "kestrel-kp-24-1009.txt"  # two chunks
    app = make_app([kestrel], settings=Settings(provider="offline", retries=1), client=client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()
        await settle(pilot)
        await pilot.press("5")
        failed = app.query_one(FailedView)
        message = _texts(failed.table.get_row_at(0))[5]
        assert "gave up after 1 attempt)" in message, "1 attempt, not 1 attempts"
        client.fixed = True
        await pilot.press("space", "s")
        await settle(pilot)
        await pilot.press("4")
        run = app.query_one(RunView)
        run.flush()
        counts = app.controller.events.tracker.summary().counts
        assert failed.table.row_count == counts[ChunkStatus.FAILED] == 1
        assert app.controller.events.tracker.rows[app.controller.unfinished_ids()[0]]
        await pilot.press("5", "m")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        run.flush()
        lines = [run.table.line_text(i).plain for i in range(run.table.row_count)]
        assert sum("marked empty" in line for line in lines) == 1
        assert app.controller.events.tracker.summary().counts[ChunkStatus.FAILED] == 0


async def test_mark_empty_of_a_failure_from_an_earlier_app_session(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """A chunk the Run screen never saw (restored from the session) can be marked empty."""
    session = tmp_path / "s.sqlite"
    kestrel = sample_docs / "invoices" / "kestrel-kp-24-1009.txt"
    first = make_app([kestrel], session=session, client=FailsUntilFixed(),
                     settings=Settings(provider="offline", retries=1))
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first.controller.run()
        await settle(pilot)
    again = make_app([], session=session, fields=None)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4", "5", "m")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("4")
        await pilot.pause(0.3)  # the run view's timer drains the events
        run = again.query_one(RunView)
        assert "marked empty" in run.table.line_text(0).plain


async def test_bad_output_attempts_show_their_tokens(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """Item 19: an HTTP 200 whose content is not valid JSON still cost tokens."""
    doc = tmp_path / "acme.txt"
    shutil.copy(sample_docs / "invoices" / "acme-2024-0117.txt", doc)
    async with LoopbackServer(script=[Fault.malformed()] * 3) as server:
        settings = Settings(provider="openai", base_url=server.base_url, invalid_retries=0,
                            api_key=SecretStr("k"), retries=1, timeout_s=5)
        app = make_app([doc], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.controller.run()
            await settle(pilot)
            chunk = app.controller.unfinished_ids()[0]
            attempts = app.controller.attempts(chunk)
            assert attempts[0].http_status == 200 and attempts[0].prompt_tokens > 0
            await pilot.press("4")
            run = app.query_one(RunView)
            run.flush()
            row = app.controller.events.tracker.rows[chunk]
            assert row.prompt_tokens > 0 and row.attempts[0].prompt_tokens > 0


class SlowOffline(OfflineClient):
    gate: asyncio.Event

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if "kestrel" in request.chunk_text.lower():
            await self.gate.wait()
        return await super().complete(request, timeout)


async def test_answered_count_moves_during_a_run_and_conflicts_stay_flagged(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """Item 20."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(sample_docs / "invoices" / "acme-2024-0117.txt", docs / "acme.txt")
    shutil.copy(sample_docs / "invoices" / "kestrel-kp-24-1009.txt", docs / "kestrel.txt")
    (docs / "long.txt").write_text("Invoice Number: A-1\nInvoice Number: B-2\nTotal: 5.00\n",
                                   encoding="utf-8")
    client = SlowOffline()
    client.gate = asyncio.Event()
    app = make_app([docs], client=client, settings=Settings(provider="offline",
                                                            concurrency=1))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        view = _choose(app, "acme.txt")
        title = view.query_one("#result-title", Static)
        assert "0/1 chunk(s) answered" in str(title.render())
        app.controller.run()
        for _ in range(50):
            await pilot.pause(0.1)
            if "1/1 chunk(s) answered" in str(title.render()):
                break
        assert app.controller.running, "still waiting on kestrel"
        assert "1/1 chunk(s) answered" in str(title.render())
        client.gate.set()
        await settle(pilot)
        view = _choose(app, "long.txt")
        assert view.doc_id is not None
        app.controller.edit(view.doc_id, "invoice_number", "X-" + "9" * 300)
        await settle(pilot)
        row = _texts(view.table.get_row("invoice_number"))
        assert len(row[1]) <= 40 and row[1].endswith("…"), "a long value is cut in the table"
        assert "⚠" in _texts(view.table.get_row("invoice_number"))[0], "flag in column one"

        target = tmp_path / "out.json"
        target.write_text("keep me", encoding="utf-8")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "replacing a file asks first"
        await pilot.press("n")
        await settle(pilot)
        assert target.read_text(encoding="utf-8") == "keep me"
        assert isinstance(app.screen, ExportDialog), "back to choose another name"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert json.loads(target.read_text(encoding="utf-8"))["documents"]


class Slow(OfflineClient):
    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        await asyncio.sleep(0.2)
        return await super().complete(request, timeout)


async def test_a_run_cancelled_while_paused_does_not_leave_the_next_one_paused(
        make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """Found in the tmux walk-through: pause, cancel, then split & retry sent nothing."""
    kestrel = sample_docs / "invoices" / "kestrel-kp-24-1009.txt"
    app = make_app([kestrel], client=Slow(),
                   settings=Settings(provider="offline", concurrency=1, chunk_tokens=200,
                                     overlap_tokens=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()
        await pilot.pause(0.1)
        app.controller.pause()
        app.controller.cancel()
        await settle(pilot)
        unfinished = app.controller.unfinished_ids()
        assert unfinished, "the cancel left chunks to send"
        app.controller.retry(unfinished[:1])
        await asyncio.wait_for(settle(pilot), timeout=20)
        assert unfinished[0] not in app.controller.unfinished_ids()
