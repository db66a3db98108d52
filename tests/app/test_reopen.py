"""Reopening a session goes on the way it was made (issue 12, item 11), and the Sessions
screen keeps only sessions worth keeping, deletes and renames them (item 21).

The session keeps provider, base URL, model, chunk and overlap tokens, timeout and retries
(never the key); a reopened session is planned with them, and what the user set this time
that differs is listed in the plan before anything is sent.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from extractor_tui.config import Settings
from extractor_tui.core.session import Session
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.key import KeyDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.screens.sessions import SessionsView
from loopback import LoopbackServer

SIZE = (160, 50)
ACME = "acme-2024-0117.txt"
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _made(server_url: str, **extra: Any) -> Settings:
    return Settings(provider="openai", base_url=server_url, api_key=SecretStr("sk-test"),
                    model="gpt-4o", chunk_tokens=300, overlap_tokens=30, timeout_s=7,
                    retries=2, **extra)


async def test_reopened_session_keeps_how_it_was_made_and_never_the_key(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    session = tmp_path / "remote.sqlite"
    doc = tmp_path / ACME
    shutil.copy(sample_docs / "invoices" / ACME, doc)
    async with LoopbackServer() as server:
        first = make_app([doc], session=session, settings=_made(server.base_url))
        async with first.run_test(size=SIZE) as pilot:
            await settle(pilot)
        raw = sqlite3.connect(session)
        stored = " ".join(str(v) for (v,) in raw.execute("SELECT value FROM meta"))
        raw.close()
        assert "sk-test" not in stored, "the key is never written"

        # Reopened with nothing set (no --model, no flags): the session's own settings.
        again = make_app([], session=session, settings=Settings(), fields=None)
        async with again.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(again.screen, KeyDialog), "no key in the env: it is asked for"
            again.screen.query_one("#key", Input).value = "sk-typed"
            await pilot.press("enter")
            await settle(pilot)
            used = again.controller.settings
            assert (used.resolved_provider, used.base_url, used.model) == (
                "openai", server.base_url, "gpt-4o")
            assert (used.chunk_tokens, used.overlap_tokens, used.timeout_s, used.retries) == (
                300, 30, 7, 2)
            assert used.api_key is not None and used.api_key.get_secret_value() == "sk-typed"
            assert again.controller.job.provider == "openai-compatible"
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(again.screen, PlanDialog)
            assert not again.screen.query("#differences")
            await pilot.press("escape")

        # A setting given this time that differs is used, and the plan says so first.
        third = make_app([], session=session, fields=None,
                         settings=Settings(chunk_tokens=500, api_key=SecretStr("k")))
        async with third.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert third.controller.settings.chunk_tokens == 500
            assert third.controller.settings.model == "gpt-4o", "no --model: the session's"
            assert third.controller.settings.base_url == server.base_url
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(third.screen, PlanDialog)
            shown = str(third.screen.query_one("#differences", Static).render())
            assert "chunk tokens: 500 now; the session was made with 300" in shown
            await pilot.press("escape")
        assert [r.path for r in server.log if r.path.endswith("completions")] == []


async def test_resume_from_sessions_screen_uses_the_sessions_provider(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    remote = tmp_path / "remote.sqlite"
    doc = tmp_path / ACME
    shutil.copy(sample_docs / "invoices" / ACME, doc)
    async with LoopbackServer() as server:
        first = make_app([doc], session=remote, settings=_made(server.base_url))
        async with first.run_test(size=SIZE) as pilot:
            await settle(pilot)
        app = make_app([], session=tmp_path / "offline.sqlite",
                       settings=Settings(provider="offline"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("7")
            await settle(pilot)
            table = app.query_one(SessionsView).query_one("#sessions", DataTable)
            keys = [k.value for k in table.rows]
            table.move_cursor(row=keys.index(str(remote.resolve())))
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, KeyDialog)
            await pilot.press("enter")  # no key: a local server needs none
            await settle(pilot)
            assert isinstance(app.screen, PlanDialog)
            assert app.controller.job.provider == "openai-compatible"
            assert app.controller.settings.chunk_tokens == 300
            await pilot.press("enter")
            await settle(pilot)
        assert len([r for r in server.log if r.path.endswith("completions")]) == 2


async def test_a_launch_that_adds_nothing_leaves_no_session_behind(
        tmp_path: Path, settle: Settle) -> None:
    """Item 21."""
    from extractor_tui.core.fields import preset
    from extractor_tui.ui.launch import build_app
    from extractor_tui.ui.recent import RecentSessions

    recent = RecentSessions(tmp_path / "data" / "extractor")
    app = build_app(Settings(provider="offline"), preset("invoice"), None, [], recent=recent)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        created = app.controller.session_path
        assert created.is_file()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert not created.exists() and not list(created.parent.iterdir())
    assert recent.entries() == []


async def test_sessions_are_deleted_after_asking_and_renamed(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    """Item 21."""
    other = tmp_path / "other.sqlite"
    first = make_app([sample_docs / "invoices" / ACME], session=other)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
    app = make_app([sample_docs / "invoices" / ACME], session=tmp_path / "current.sqlite")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await settle(pilot)
        view = app.query_one(SessionsView)
        table = view.query_one("#sessions", DataTable)
        keys = [k.value for k in table.rows]
        table.move_cursor(row=keys.index(str(other.resolve())))
        table.focus()
        await pilot.press("e")  # rename
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)
        app.screen.query_one("#path", Input).value = "march-invoices"
        await pilot.press("enter")
        await settle(pilot)
        renamed = tmp_path / "march-invoices.sqlite"
        assert renamed.is_file() and not other.exists()
        keys = [k.value for k in table.rows]
        assert str(renamed.resolve()) in keys and str(other.resolve()) not in keys

        table.move_cursor(row=keys.index(str(renamed.resolve())))
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "deleting asks first"
        await pilot.press("n")
        await pilot.pause()
        assert renamed.is_file()
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert not renamed.exists()
        assert str(renamed.resolve()) not in [k.value for k in table.rows]

        current = str((tmp_path / "current.sqlite").resolve())
        table.move_cursor(row=[k.value for k in table.rows].index(current))
        await pilot.press("d")  # the session in use is not deleted
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        assert (tmp_path / "current.sqlite").is_file()
