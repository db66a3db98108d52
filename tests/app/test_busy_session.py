"""The app on a session another extractor is writing: it says who, and offers to open it
read-only (look and export, no runs or edits) or to quit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from extractor_tui.core.session import Session
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.screens.documents import DocumentsView

MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]
SIZE = (140, 40)


async def _made(make_app: MakeApp, settle: Settle, session: Path, docs: Path) -> None:
    """A session with the invoices in it, made by the app and closed."""
    app = make_app([docs], session=session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+q")


async def test_a_busy_session_opens_read_only_when_the_user_says_so(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    session = tmp_path / "s.sqlite"
    await _made(make_app, settle, session, sample_docs / "invoices")
    holder = Session.open(session, lock="extractor run")
    try:
        app = make_app([sample_docs / "contracts"], session=session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ConfirmDialog)
            message = " ".join(str(w.render()) for w in dialog.query("Static"))
            assert "is in use by extractor run (pid" in message
            assert "The 1 path(s) given are not added" in message
            await pilot.click("#yes")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmDialog)
            assert "(read-only)" in app.sub_title
            rows = app.query_one(DocumentsView).table.row_count
            assert rows == 6  # the session's own documents; the contracts were not added
            await pilot.press("ctrl+r")  # nothing to send, and nothing written: no crash
            await settle(pilot)
            assert app.is_running
            await pilot.press("ctrl+q")
    finally:
        holder.close()


async def test_a_busy_session_can_be_left_at_once(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    session = tmp_path / "s.sqlite"
    await _made(make_app, settle, session, sample_docs / "invoices")
    holder = Session.open(session, lock="extractor run")
    try:
        app = make_app([], session=session)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.click("#no")
            await pilot.pause()
        assert app.return_value == 0
    finally:
        holder.close()


async def test_a_session_another_extractor_writes_is_not_deleted(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    busy = tmp_path / "busy.sqlite"
    await _made(make_app, settle, busy, sample_docs / "invoices")
    holder = Session.open(busy, lock="extractor run")
    try:
        app = make_app([], session=tmp_path / "mine.sqlite")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert app.controller.delete_session(busy) is False
            assert app.controller.rename_session(busy, "other") is None
            await pilot.press("ctrl+q")
    finally:
        holder.close()
    assert busy.is_file() and not (tmp_path / "other.sqlite").exists()
