"""The stages in the app: the Settings form turns verify on with its own model and sampling,
the plan shows each stage priced with its model, a run sends both stages with rows of their
own on Run, and Results shows each field's verdict."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static

from extractor_tui.config import Settings
from extractor_tui.core.events import ChunkId
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import OfflineClient
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.plan import PlanDialog, plan_table
from extractor_tui.ui.screens.results import ResultsView
from extractor_tui.ui.screens.settings import SettingsView
from extractor_tui.ui.screens.stage_form import STAGE_FORM

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _shown(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


async def test_the_settings_form_sets_the_verify_stage_and_each_stages_sampling(
        make_app: MakeApp, settle: Settle) -> None:
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        view.query_one("#stage-verify-enabled", Select).value = True
        view.query_one("#stage-verify-model", Input).value = "gpt-4o"
        temperature = view.query_one("#stage-verify-temperature", Input)
        temperature.value = "hot"
        await pilot.pause()
        assert _shown(view.query_one("#problem-stage-verify-temperature", Static)) == (
            "Verify temperature must be a number from 0 to 2, or empty")
        assert view.query_one("#apply", Button).disabled
        temperature.value = "3"
        await pilot.pause()
        assert "from 0 to 2" in _shown(view.query_one("#problem-stage-verify-temperature",
                                                      Static))
        temperature.value = "0"
        view.query_one("#stage-extract-seed", Input).value = "7"
        await pilot.pause()
        assert not view.query_one("#apply", Button).disabled
        await pilot.press("ctrl+s")
        await settle(pilot)
        settings = app.controller.settings
        assert settings.stages.verify.enabled is True
        assert settings.verify_model == "gpt-4o"
        assert settings.verify_sampling().temperature == 0.0
        assert settings.extract_sampling().seed == 7
        assert settings.stages.extract.temperature is None


async def test_the_settings_form_sets_the_extract_stages_answer_cap(
        make_app: MakeApp, settle: Settle) -> None:
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        cap = view.query_one("#stage-extract-max_tokens", Input)
        assert cap.value == ""
        cap.value = "8"
        await pilot.pause()
        assert _shown(view.query_one("#problem-stage-extract-max_tokens", Static)) == (
            "Extract max tokens must be a whole number of at least 16, or empty")
        assert view.query_one("#apply", Button).disabled
        cap.value = "600"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.controller.settings.max_output_tokens == 600
        cap.value = ""
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.controller.settings.max_output_tokens is None


async def test_every_stage_problem_is_shown_whole(make_app: MakeApp, settle: Settle) -> None:
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        numeric = [(stage, key) for stage, key, _, kind in STAGE_FORM if kind != "text"]
        for stage, key in numeric:
            view.query_one(f"#stage-{stage}-{key}", Input).value = "lots"
        await pilot.pause()
        for stage, key in numeric:
            problem = view.query_one(f"#problem-stage-{stage}-{key}", Static)
            shown = _shown(problem)
            assert shown.startswith(("Extract", "Verify"))
            assert len(shown) <= problem.size.width, shown


class Corrects(OfflineClient):
    """The offline provider, except that verify answers correct the total to the
    subtotal's amount (grounded in the text, so it is taken)."""

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        answer = await super().complete(request, timeout)
        if request.evidence is None:
            return answer
        verdicts = json.loads(answer.content)
        verdicts["total"] = {"verdict": "corrected",
                             "values": [{"value": "12,450.00", "quote": "12,450.00"}]}
        return LLMResponse(json.dumps(verdicts), prompt_tokens=answer.prompt_tokens,
                           completion_tokens=answer.completion_tokens)


async def test_a_run_with_verify_shows_the_plan_rows_and_the_verdicts(
        make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    settings = Settings(provider="offline", stages={"verify": {"enabled": True,
                                                               "model": "gpt-4o"}})
    invoice = sample_docs / "invoices" / "acme-2024-0117.txt"
    app = make_app([invoice], settings=settings, client=Corrects())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = plan_table(app.controller.plan())
        labels = [str(cell) for cell in rows.columns[0].cells]
        assert {"Verify model", "Verify requests", "Verify tokens", "Verify cost"} <= set(
            labels)
        app.controller.request_run()
        await settle(pilot)
        assert isinstance(app.screen, PlanDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert not app.controller.running
        [doc] = app.controller.documents()
        app.controller.events.drain()
        rows_of_run = app.controller.events.tracker.rows
        assert rows_of_run[ChunkId(doc.doc_id, 0, stage="verify")].status.value == "completed"
        await pilot.press("6")
        await settle(pilot)
        view = app.query_one(ResultsView)
        view.doc_id = doc.doc_id
        view.show_document()
        cells = {key.value: [c.plain for c in view.table.get_row(key)]
                 for key in view.table.rows}
        assert cells["total"][4] == "↻ corrected"
        assert cells["invoice_number"][4] == "✓ confirmed"
        view.table.move_cursor(row=view.table.get_row_index("total"))
        await pilot.pause()
        detail = _shown(view.query_one("#result-detail", Static))
        assert "↻ corrected by the verify stage; extraction said: $13,554.94" in detail
