"""The Batch API in the app's Run screen: the session's batches are listed beside the live
table (status, done / failed / total, age, ETA), and cancelling the run cancels them at the
provider; what they did not finish goes back in the queue. Over real HTTP to the loopback
server's fake Batch API, its batches held where they are until the test lets them go."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button

from extractor_tui.config import Settings
from extractor_tui.core.batch_store import StoredBatch
from extractor_tui.core.model import ChunkStatus
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.widgets.batch_table import BatchTable, age_and_eta
from loopback import LoopbackServer

SIZE = (180, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _cells(table: BatchTable) -> list[list[str]]:
    return [[c.plain if isinstance(c, Text) else str(c) for c in table.get_row_at(i)]
            for i in range(table.row_count)]


async def test_the_run_screen_lists_the_batches_and_cancel_cancels_them(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("acme-2024-0117.txt", "kestrel-kp-24-1009.txt"):
        shutil.copy(sample_docs / "invoices" / name, docs / name)
    async with LoopbackServer(batch={"hold": True}) as server:
        fake = server.batch
        assert fake is not None
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), batch_poll_s=0.01,
                            batch_poll_max_s=0.02)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("4")
            await pilot.pause()
            table = app.query_one(BatchTable)
            assert table.has_class("-empty") and not table.display  # no batch yet
            total = len(app.controller.job.pending())
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, PlanDialog)
            app.screen.query_one("#batch", Button).press()
            # The server counts a create before the app has stored its answer: wait for the
            # session's row to carry the provider's id (waiting on fake.creates raced it).
            for _ in range(500):
                await pilot.pause(0.01)
                table.refresh_batches()
                await pilot.pause()
                if fake.creates and not table.has_class("-empty") \
                        and _cells(table)[0][0].startswith("batch_"):
                    break
            assert not table.has_class("-empty")
            [row] = _cells(table)
            assert row[0].startswith("batch_") and row[1] == "validating"
            assert row[2] == f"0 / 0 / {total}" and row[4] == "–"

            await pilot.press("4", "c")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            for _ in range(500):
                await pilot.pause(0.01)
                if fake.cancels:
                    break
            fake.hold = False  # the provider moves on: cancelling → cancelled
            await settle(pilot)
            table.refresh_batches()
            await pilot.pause()
            assert _cells(table)[0][1] == "cancelled" and _cells(table)[0][4] == "done"
            assert len(app.controller.job.pending()) == total  # back in the queue
            assert not any(o.status is ChunkStatus.COMPLETED
                           for d in app.controller.documents()
                           for o in app.controller.outcomes(d.doc_id))


def test_the_eta_follows_the_rate_so_far() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    batch = StoredBatch(1, "e", "batch_1", "file-1", "in_progress", 100, 20, 5, 100, 0, None,
                        (now - timedelta(minutes=10)).isoformat(), now.isoformat(),
                        int((now - timedelta(seconds=100)).timestamp()), False)
    assert age_and_eta(batch, now) == ("10 min", "5 min")  # 25 in 100 s: 75 more in 300 s
    waiting = StoredBatch(2, "e", None, "file-2", "validating", 0, 0, 0, 100, 0, None,
                          now.isoformat(), now.isoformat(), None, False)
    assert age_and_eta(waiting, now) == ("0 s", "–")


async def test_a_capped_batch_run_says_the_cap_was_reached(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    async with LoopbackServer(batch=True) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), batch_poll_s=0.01,
                            batch_poll_max_s=0.02, chunk_tokens=200, overlap_tokens=20)
        app = make_app([sample_docs / "invoices"], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            worst = 0.60 * app.controller.job.engine.max_tokens / 1e6 / 2  # batch price
            app.controller.job.settings = settings.model_copy(
                update={"max_cost_usd": 2.5 * worst})
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, PlanDialog)
            app.screen.query_one("#batch", Button).press()
            await settle(pilot)
            said = [n for n in app._notifications if n.title == "Cost cap reached"]
            assert said and "budget reached: $" in said[0].message
            assert app.controller.job.pending()  # the rest waits for a higher cap
