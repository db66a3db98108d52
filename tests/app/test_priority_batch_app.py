"""Urgent work and the Batch API in the app: ``u`` on the Documents and Failed screens marks
work urgent (again: not), the plan says the order and the urgent document goes first; the
plan shows the live and the batch price, and "Through the Batch API" runs the chunks as
batches. Over real HTTP to the loopback server (its fake Files and Batch APIs)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.pilot import Pilot
from textual.widgets import Button

from extractor_tui.config import Settings
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.plan import PlanDialog, plan_table
from extractor_tui.ui.screens.documents import DocumentsView
from extractor_tui.ui.screens.failed import FailedView
from loopback import Fault, LoopbackServer, RequestInfo

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]
NAMES = ("acme-2024-0117.txt", "kestrel-kp-24-1009.txt", "mueller-re-2024-0342.txt")


def _docs(tmp_path: Path, sample_docs: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in NAMES:
        shutil.copy(sample_docs / "invoices" / name, docs / name)
    return docs


def _rows(app: ExtractorApp) -> dict[str, str]:
    table = plan_table(app.controller.plan())
    labels, values = table.columns[0].cells, table.columns[1].cells
    return {str(label): getattr(value, "plain", str(value)) for label, value in
            zip(labels, values, strict=True)}


async def test_u_marks_a_document_urgent_and_it_is_sent_first(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = _docs(tmp_path, sample_docs)
    async with LoopbackServer() as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), concurrency=1)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            view = app.query_one(DocumentsView)
            last = next(d for d in app.controller.documents() if d.path.endswith(NAMES[2]))
            view.table.focus()
            index = app.controller.document_index(last.doc_id)
            assert index is not None
            view.table.move_cursor(index)
            await pilot.press("u")
            await pilot.pause()
            assert app.controller.urgent_documents() == {last.doc_id}
            assert _rows(app)["Order"].startswith(f"1 urgent chunk(s) first ({last.path})")
            await pilot.press("u")  # again: not urgent
            await pilot.pause()
            assert app.controller.urgent_documents() == frozenset()
            assert "Order" not in _rows(app)
            await pilot.press("u")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, PlanDialog)
            await pilot.press("enter")
            await settle(pilot)
            first = server.log[0].body["messages"][-1]["content"]
            assert "Müller" in first or "Mueller" in first or "0342" in first


async def test_u_on_the_failed_screen_marks_chunks_urgent(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = _docs(tmp_path, sample_docs)

    def script(info: RequestInfo) -> Fault:
        return Fault.server_error(500)

    async with LoopbackServer(script=script) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), retries=1, concurrency=1)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+r")
            await pilot.pause()
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("5")
            await pilot.pause()
            failed = app.query_one(FailedView)
            assert failed.table.row_count >= len(NAMES)
            failed.table.focus()
            await pilot.press("u")
            await pilot.pause()
            _, chunks = app.controller.job.session.urgent.get()
            assert len(chunks) == 1
            assert _rows(app)["Order"].startswith("1 urgent chunk(s) first")
            await pilot.press("u")
            await pilot.pause()
            assert app.controller.job.session.urgent.get() == (frozenset(), frozenset())


async def test_the_plan_shows_both_prices_and_runs_through_the_batch_api(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = _docs(tmp_path, sample_docs)
    async with LoopbackServer(batch=True) as server:
        assert server.batch is not None
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), batch_poll_s=0.01,
                            batch_poll_max_s=0.02)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            cost = _rows(app)["Estimated cost"]
            assert " live, $" in cost and cost.endswith("through the Batch API")
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, PlanDialog)
            app.screen.query_one("#batch", Button).press()
            await settle(pilot)
            assert app.controller.unfinished_ids() == []
            [batch] = server.batch.batches.values()
            assert len(batch.lines) == len(app.controller.job.session.work_items())
            assert [r for r in server.log if r.path.endswith("/chat/completions")] == []
            assert app.controller.job.report()["summary"]["batch"]["requests"] == len(
                batch.lines)


async def test_offline_has_no_batch_choice(make_app: MakeApp, settle: Settle,
                                           sample_docs: Path) -> None:
    app = make_app([sample_docs / "invoices"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, PlanDialog)
        assert not app.screen.query("#batch")
        assert isinstance(app.screen.query_one("#yes"), Button)
