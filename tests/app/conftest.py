"""Shared fixtures for the app tests: an isolated home, fixed time, and the app factory.

Every app test builds the app with ``launch.build_app``, the factory the CLI uses (the
``make_app`` fixture), and points ``XDG_DATA_HOME`` (recent sessions, new session files)
and ``XDG_CONFIG_HOME`` at the test's own folder, with no API key in the environment, so
nothing on the machine running the tests leaks in and nothing is left behind. Helpers are
fixtures, not imports: ``tests/conftest.py`` is also a module named ``conftest``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from extractor_tui.config import Settings
from extractor_tui.core.fields import FieldSet, preset
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.launch import build_app
from extractor_tui.ui.recent import RecentSessions

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = ROOT / "sample_docs"
FIXED_NOW = datetime(2024, 6, 1, 9, 30)
_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_API_KEY", "EXTRACTOR_BASE_URL",
        "EXTRACTOR_PROVIDER", "EXTRACTOR_MODEL", "EXTRACTOR_CONFIG")


class FixedClock:
    """Engine time that never moves: durations are 0 and snapshots stay the same."""

    def now(self) -> float:
        return 100.0

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test's folder as XDG data and config home; no provider settings in the env."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


_DEFAULT = object()
MakeApp = Callable[..., ExtractorApp]


@pytest.fixture(scope="session")
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    """``make_app(paths, fields=, settings=, session=, client=, clock=)``: the app as the
    CLI builds it, offline and with the invoice preset unless told otherwise, wall time
    fixed, recent sessions under the test's folder. ``fields=None`` means "from the
    session", as with no ``--preset``."""

    def make(paths: list[Path], *, fields: Any = _DEFAULT, settings: Settings | None = None,
             session: Path | None = None, **kwargs: Any) -> ExtractorApp:
        recent = RecentSessions(tmp_path / "data" / "extractor", now=lambda: FIXED_NOW)
        chosen: FieldSet | None = preset("invoice") if fields is _DEFAULT else fields
        app = build_app(settings or Settings(provider="offline"), chosen,
                        session or tmp_path / "session.sqlite", paths,
                        now=lambda: FIXED_NOW, recent=recent, **kwargs)
        app.animation_level = "none"  # the tab underline glides for 0.3 s per switch
        return app

    return make


@pytest.fixture
def settle() -> Callable[[Pilot[Any]], Awaitable[None]]:
    """``await settle(pilot)``: every worker done and the messages it posted handled."""

    async def wait(pilot: Pilot[Any]) -> None:
        for _ in range(2):  # a worker's message may start another worker
            # Not Textual's own: the DirectoryTree's "_loader" worker runs for good.
            ours = [w for w in pilot.app.workers if not w.group.startswith("_")]
            if ours:  # an empty list would mean "every worker"
                await pilot.app.workers.wait_for_complete(ours)
            await pilot.pause()

    return wait


@pytest.fixture(scope="session")
def fixed_clock() -> FixedClock:
    return FixedClock()
