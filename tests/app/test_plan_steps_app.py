"""The run's plan over many documents is made in steps: the screen lives meanwhile.

Over 10,000 documents ``Job.plan`` held the app's loop about 1 s after Ctrl+R. Past
``PLAN_AT_ONCE`` documents the controller makes it with ``Job.plan_async``; here the
threshold is lowered so a few sample documents take that path, a slice is made as short as
it can be, and a task on the app's loop counts its turns while the plan is made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from extractor_tui.core import steps
from extractor_tui.core.job import Job
from extractor_tui.ui import controller as controller_module
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.plan import PlanDialog
from test_steps import loop_turns

MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


async def test_a_large_sessions_plan_lets_the_screen_live_and_then_asks(
        make_app: MakeApp, settle: Settle, sample_docs: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app([sample_docs])
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(controller_module, "PLAN_AT_ONCE", 0)
        monkeypatch.setattr(steps, "SLICE_S", 0.0)
        during: list[int] = []
        real = Job._plan_steps

        def watched(job: Job) -> Any:
            during.append(turns[0])  # the other task's turns when the plan began ...
            plan = yield from real(job)
            during.append(turns[0])  # ... and when it was made
            return plan

        monkeypatch.setattr(Job, "_plan_steps", watched)
        async with loop_turns() as turns:
            await pilot.press("ctrl+r")
            await settle(pilot)
        documents = len(app.controller.documents())
        assert documents >= 10
        assert during[1] - during[0] >= documents  # the loop ran while the plan was made
        assert isinstance(app.screen, PlanDialog)
        assert app.screen._plan == app.controller.plan()  # noqa: SLF001 - the plan made at once
        await pilot.press("escape")
