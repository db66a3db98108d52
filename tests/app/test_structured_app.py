"""The app side of structured-output negotiation: the mode is a setting on the Settings
screen, and an endpoint's move to another mode is said once, as a notification."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.pilot import Pilot
from textual.widgets import Select

from extractor_tui.config import Settings
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.screens.settings import SettingsView
from loopback import LoopbackServer

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]
MESSAGE = "the server does not take json_schema; using json_object with the schema"


async def test_a_mode_switch_is_notified_once_and_the_mode_is_a_setting(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("acme-2024-0117.txt", "kestrel-kp-24-1009.txt"):
        shutil.copy(sample_docs / "invoices" / name, docs / name)
    async with LoopbackServer(profile="llama-cpp-python") as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), timeout_s=5, chunk_tokens=80,
                            overlap_tokens=0)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, PlanDialog)
            await pilot.press("enter")
            await settle(pilot)
            said = [n.message for n in app._notifications]
            assert said.count(MESSAGE) == 1
            assert app.controller.unfinished_ids() == []

            await pilot.press("3")
            await pilot.pause()
            view = app.query_one(SettingsView)
            chooser = view.query_one("#structured_output", Select)
            assert chooser.value == "auto"
            chooser.value = "prompt"
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.controller.settings.structured_output == "prompt"
