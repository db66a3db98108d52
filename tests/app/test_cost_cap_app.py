"""The cost cap in the app: a field of the Settings screen, and at the cap the run pauses
and asks whether to raise it (raised: it goes on and finishes; stopped: the rest stays in
the session's queue). Over real HTTP to the loopback server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.pilot import Pilot
from textual.widgets import Input, Static

from extractor_tui.config import Settings
from extractor_tui.core.events import BudgetReached
from extractor_tui.core.model import ChunkStatus
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.dialogs.raise_cap import RaiseCapDialog
from extractor_tui.ui.screens.settings import SettingsView
from loopback import Fault, LoopbackServer

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


async def _capped_run(app: ExtractorApp, pilot: Pilot[Any], settle: Settle) -> None:
    """Set a cap of three worst-case requests on the Settings screen, start the run and
    wait for the cap's question."""
    await settle(pilot)
    await pilot.press("3")
    await pilot.pause()
    view = app.query_one(SettingsView)
    field = view.query_one("#max_cost_usd", Input)
    field.value = "-1"
    await pilot.pause()
    assert str(view.query_one("#problem-max_cost_usd", Static).render()) == (
        "Cost cap must be an amount in USD above 0, or empty for none")
    worst = 0.60 * app.controller.job.engine.max_tokens / 1e6  # gpt-4o-mini's output price
    field.value = f"{3 * worst:.6f}"
    await pilot.press("ctrl+s")
    await settle(pilot)
    assert app.controller.settings.max_cost_usd == round(3 * worst, 6)
    await pilot.press("ctrl+r")
    await pilot.pause()
    assert isinstance(app.screen, PlanDialog)
    await pilot.press("enter")
    for _ in range(500):
        if isinstance(app.screen, RaiseCapDialog):
            return
        await pilot.pause(0.02)
    raise AssertionError("the run did not stop at the cap")


async def test_the_app_asks_at_the_cap_and_a_higher_cap_finishes_the_run(
        make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    async with LoopbackServer(default=Fault.ok(0.01)) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), chunk_tokens=200, overlap_tokens=20,
                            concurrency=2)
        app = make_app([sample_docs / "invoices"], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await _capped_run(app, pilot, settle)
            sent = server.requests_total
            assert 0 < sent < len(app.controller.job.pending())
            cap = app.screen.query_one("#cap", Input)
            cap.value = "0.000001"
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, RaiseCapDialog), "a lower cap is refused"
            cap.value = "5"
            await pilot.press("enter")
            await settle(pilot)
            assert app.controller.settings.max_cost_usd == 5
            assert app.controller.unfinished_ids() == []
            assert server.requests_total == len(app.controller.job.session.work_items())


async def test_stopping_at_the_cap_keeps_the_rest_for_the_next_run(
        make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    async with LoopbackServer(default=Fault.ok(0.01)) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), chunk_tokens=200, overlap_tokens=20,
                            concurrency=2)
        app = make_app([sample_docs / "invoices"], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await _capped_run(app, pilot, settle)
            await pilot.press("escape")
            await settle(pilot)
            left = app.controller.unfinished_page(0, None)
            assert left and all(o.status is ChunkStatus.CANCELLED for o in left)
            sent = server.requests_total
            assert len(app.controller.job.pending()) == len(left)
            assert sent + len(left) == len(app.controller.job.session.work_items())


async def test_two_requests_finding_the_cap_reached_ask_once(make_app: MakeApp,
                                                               settle: Settle) -> None:
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(2):  # both requests in flight found the cap reached
            app.controller._on_event(BudgetReached(0.29, 0.30, 1.0, paused=True))
        await pilot.pause()
        assert sum(isinstance(s, RaiseCapDialog) for s in app.screen_stack) == 1
        assert app.focused is app.screen.query_one("#cap", Input)
        await pilot.press("escape")
        await pilot.pause()
        app.controller._on_event(BudgetReached(0.29, 0.30, 2.0, paused=True))
        await pilot.pause()
        assert isinstance(app.screen, RaiseCapDialog), "asked again once answered"
