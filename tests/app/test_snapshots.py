"""One SVG snapshot per screen (and the main dialogs), with fixed data.

Each app comes from ``launch.build_app`` (the ``make_app`` fixture), the factory the CLI
uses, on the same small set of documents: two invoice text files, one invoice PDF and a
file of an unsupported type (so a load error shows on its row). The offline provider
answers, except that every chunk mentioning Kestrel fails (an injected client), so the
Failed screen has something to show. Engine time never moves (``FixedClock``), wall time
is fixed, notifications are cleared before each picture, and every path is relative to
the test's own folder, so a picture only changes when the UI does.

Loading and running through the UI is done for real once per module, into a session file
that the review screens then reopen (a copy each), as a user reopens a session; the Run
screen and the plan are pictured from a live run.

Update after an intended change: ``pytest tests/app/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import OfflineClient
from extractor_tui.core.session import Session
from extractor_tui.errors import TransientError
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.screens.results import ResultsView
from extractor_tui.ui.widgets.doc_tree import DocumentTree

SIZE = (140, 42)
Snap = Callable[..., bool]


class KestrelFails(OfflineClient):
    """The offline provider, except that chunks mentioning Kestrel get a 503."""

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if "kestrel" in request.chunk_text.lower():
            raise TransientError("503 Service Unavailable (simulated)", status=503)
        return await super().complete(request, timeout)


SETTINGS = Settings(provider="offline", retries=1)


def _documents(work: Path, sample_docs: Path) -> None:
    docs = work / "docs"
    docs.mkdir(parents=True)
    for name in ("acme-2024-0117.txt", "kestrel-kp-24-1009.txt", "mueller-re-2024-0342.pdf"):
        shutil.copy(sample_docs / "invoices" / name, docs / name)
    (docs / "notes.docx").write_bytes(b"PK\x03\x04 not really a document")


async def _load_and_run(session_path: Path, clock: Any) -> None:
    session = Session.open(session_path)
    job = Job(SETTINGS, preset("invoice"), session, client=KestrelFails(), clock=clock)
    try:
        # notes.docx named on its own fails (a row with its reason); found in the folder
        # by the app (snapshot_app) it is a skipped row
        await job.add_paths([Path("docs"), Path("docs/notes.docx")])
        await job.run()
    finally:
        await job.aclose()
        session.close()


@pytest.fixture(scope="module")
def finished_work(tmp_path_factory: pytest.TempPathFactory, sample_docs: Path,
                  fixed_clock: Any) -> Iterator[Path]:
    """The documents and a session in which they were loaded and run, made once."""
    work = tmp_path_factory.mktemp("finished") / "work"
    _documents(work, sample_docs)
    here = Path.cwd()
    os.chdir(work)  # the session stores paths as given: relative, as in every picture
    try:
        asyncio.run(_load_and_run(Path("snapshot.sqlite"), fixed_clock))
    finally:
        os.chdir(here)
    yield work


@pytest.fixture
def snapshot_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_docs: Path,
                 make_app: Callable[..., ExtractorApp], fixed_clock: Any) -> ExtractorApp:
    """The app on fresh documents, loading them when it starts (nothing run yet)."""
    work = tmp_path / "work"
    _documents(work, sample_docs)
    monkeypatch.chdir(work)
    return make_app([Path("docs")], session=Path("snapshot.sqlite"), settings=SETTINGS,
                    client=KestrelFails(), clock=fixed_clock)


@pytest.fixture
def reopened_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished_work: Path,
                 make_app: Callable[..., ExtractorApp], fixed_clock: Any) -> ExtractorApp:
    """The app reopening (a copy of) the finished session, as from the Sessions screen."""
    work = tmp_path / "work"
    shutil.copytree(finished_work, work)
    monkeypatch.chdir(work)
    return make_app([], session=Path("snapshot.sqlite"), settings=SETTINGS,
                    client=KestrelFails(), clock=fixed_clock)


def prepared(*keys: str, run: bool = False) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the documents (and run them, with ``run``), then press ``keys``; no toasts
    in the picture."""

    async def before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ExtractorApp)
        await _settle(pilot)
        tree = app.query_one(DocumentTree)
        while not tree.root.children:  # the tree reads the folder in a thread
            await pilot.pause(0.02)
        app.clear_notifications()
        if run:
            await pilot.press("ctrl+r")
            await pilot.pause()
            await pilot.press("enter")
            await _settle(pilot)
        await pilot.press(*keys)
        await _settle(pilot)
        app.clear_notifications()
        await pilot.pause()

    return before


async def _settle(pilot: Pilot[Any]) -> None:
    """As the ``settle`` fixture does (a fixture cannot reach this module-level helper)."""
    for _ in range(2):
        ours = [w for w in pilot.app.workers if not w.group.startswith("_")]
        if ours:
            await pilot.app.workers.wait_for_complete(ours)
        await pilot.pause()


def test_documents_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("1", "down"))


def test_fields_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("2"))


def test_settings_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("3"))


def test_plan_dialog(snap_compare: Snap, snapshot_app: ExtractorApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=SIZE,
                        run_before=prepared("ctrl+r"))


def test_run_screen(snap_compare: Snap, snapshot_app: ExtractorApp) -> None:
    assert snap_compare(snapshot_app, terminal_size=SIZE, run_before=prepared("4", run=True))


def test_failed_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("5"))


def test_results_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("6", "down"))


def test_source_dialog(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    async def open_total(pilot: Pilot[Any]) -> None:
        await prepared("6")(pilot)
        table = pilot.app.query_one(ResultsView).table
        table.move_cursor(row=table.get_row_index("total"))
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=open_total)


def test_sessions_screen(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("7"))


def test_help_dialog(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("f1"))


def test_results_in_the_light_theme(snap_compare: Snap, reopened_app: ExtractorApp) -> None:
    assert snap_compare(reopened_app, terminal_size=SIZE, run_before=prepared("6", "f2"))
