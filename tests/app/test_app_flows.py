"""The app's main flows, driven with Pilot through the factory the CLI uses.

1. sample_docs loaded, run with the offline provider, results checked, exported (the
   exported files are read back);
2. against the loopback server with injected 500s: chunks fail, are reviewed on the Failed
   screen, are retried (live on the Run screen) and complete;
3. a hand edit survives closing the app and reopening the session;
4. values, file names and edits holding markup are shown literally and crash nothing.

Plus the conventions: quitting mid-run asks and keeps everything, settings and fields are
validated, help and the command palette cover every screen's actions.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, Select, Static, TabbedContent

from extractor_tui.config import EndpointSettings, Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.offline import OfflineClient
from extractor_tui.core.session import Session
from extractor_tui.errors import TransientError
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.edit_value import EditValueDialog
from extractor_tui.ui.dialogs.export import ExportDialog
from extractor_tui.ui.dialogs.field_editor import FieldEditorDialog
from extractor_tui.ui.dialogs.help import HelpDialog
from extractor_tui.ui.dialogs.plan import PlanDialog
from extractor_tui.ui.dialogs.source import SourceDialog
from extractor_tui.ui.screens.documents import DocumentsView
from extractor_tui.ui.screens.failed import FailedView
from extractor_tui.ui.screens.fields import FieldsView
from extractor_tui.ui.screens.results import COLUMNS, ResultsView
from extractor_tui.ui.screens.settings import SettingsView
from loopback import Fault, LoopbackServer

NOTES = COLUMNS.index("Notes")
SIZE = (160, 50)
ACME = "acme-2024-0117.txt"
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _shown(static: Any) -> str:
    """The text a Static shows, whatever renderable it holds."""
    content = static.content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def _texts(row: Sequence[object]) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in row]


def _choose_document(app: ExtractorApp, name: str) -> ResultsView:
    view = app.query_one(ResultsView)
    doc = next(d for d in app.controller.documents() if d.path.endswith(name))
    view.doc_id = doc.doc_id
    view.show_document()
    return view


async def _run_all(pilot: Pilot[Any], app: ExtractorApp, settle: Settle) -> None:
    await pilot.press("ctrl+r")
    await pilot.pause()
    assert isinstance(app.screen, PlanDialog)
    await pilot.press("enter")  # "Send N request(s)" has the focus
    await settle(pilot)


async def _export(pilot: Pilot[Any], app: ExtractorApp, target: Path,
                  settle: Settle) -> None:
    await pilot.press("ctrl+e")
    await pilot.pause()
    assert isinstance(app.screen, ExportDialog)
    app.screen.query_one("#path", Input).value = str(target)
    await pilot.press("enter")
    await settle(pilot)


async def test_sample_docs_offline_run_results_and_export(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    app = make_app([sample_docs])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(DocumentsView).table
        rows = [_texts(table.get_row_at(i)) for i in range(table.row_count)]
        assert len(rows) == 20
        acme_row = next(r for r in rows if r[0].endswith(ACME))
        assert acme_row[1:4] == ["1", "463", "1"]
        assert any(r[0].endswith("generate.py") and r[4] == "skipped: unsupported type .py"
                   for r in rows), "a file of another type in the folder shows as skipped"
        assert "offline" in app.sub_title

        await _run_all(pilot, app, settle)
        assert app.query_one(TabbedContent).active == "run"
        assert not app.controller.unfinished_ids()

        await pilot.press("6")
        view = _choose_document(app, ACME)
        values = {key.value: _texts(view.table.get_row(key)) for key in view.table.rows}
        assert values["invoice_number"][1] == "INV-2024-0117"
        assert values["total"][1] == "13554.94"
        assert values["total"][2] == "✓" and values["total"][3] == "✓"
        assert values["total"][COLUMNS.index("Page")] == "1"  # the source page

        await _export(pilot, app, tmp_path / "results.csv", settle)
        await _export(pilot, app, tmp_path / "results.json", settle)

        await pilot.press("1")  # a skipped file leaves the list at once: nothing is lost
        table.move_cursor(row=next(i for i, r in enumerate(rows) if r[0].endswith(".json")))
        await pilot.press("x")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert table.row_count == 19
        assert not any(_texts(table.get_row_at(i))[0].endswith(".json")
                   for i in range(table.row_count))
        table.move_cursor(row=0)  # a document asks first
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 18

    with (tmp_path / "results.csv").open(encoding="utf-8-sig", newline="") as handle:
        exported = list(csv.DictReader(handle))
    acme = next(row for row in exported if row["path"].endswith(ACME))
    assert acme["invoice_number"] == "INV-2024-0117"
    assert acme["vendor"] == "Acme Cloud Services, Inc."
    assert float(acme["total"]) == 13554.94
    assert acme["status"] == "complete"
    report = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert len(report["documents"]) == 15  # and the other files, skipped:
    assert sorted(Path(s["path"]).suffix for s in report["skipped"]) == [".json"] + [".py"] * 4
    assert report["summary"]["provider"] == "offline"
    doc = next(d for d in report["documents"] if d["path"].endswith(ACME))
    assert doc["fields"]["invoice_date"]["value"] == "2024-01-17"
    assert doc["fields"]["total"]["sources"][0]["page"] == 1


async def test_loopback_failures_are_reviewed_retried_and_complete(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("acme-2024-0117.txt", "mueller-re-2024-0342.txt", "kestrel-kp-24-1009.txt"):
        shutil.copy(sample_docs / "invoices" / name, docs / name)
    # The first two requests get a 500; with one attempt per chunk those chunks fail. Their
    # messages differ: the same 500 twice before any answer would end the run (failfast.py).
    script = [Fault.server_error(500, message=f"The server had an error ({n})") for n in (1, 2)]
    async with LoopbackServer(script=script) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("test"), retries=1, timeout_s=5, concurrency=2)
        app = make_app([docs], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "openai" in app.sub_title
            await pilot.press("3", "ctrl+t")  # test connection: one small call
            await settle(pilot)
            assert [r.path for r in server.log] == ["/v1/models"]
            await _run_all(pilot, app, settle)
            assert len(app.controller.unfinished_ids()) == 2

            await pilot.press("5")
            failed = app.query_one(FailedView)
            assert failed.table.row_count == 2
            first = _texts(failed.table.get_row_at(0))
            assert first[4] == "transient" and "server had an error" in first[5]
            assert "transient" in _shown(failed.query_one("#what"))
            assert "Invoice" in _shown(failed.query_one("#text"))  # the chunk text
            assert "500" in _shown(failed.query_one("#attempts"))  # the attempt history

            await pilot.press("A")  # retry all: same engine, shown live on Run
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "run"
            await settle(pilot)
            assert app.controller.unfinished_ids() == []
            assert failed.table.row_count == 0
            statuses = {o.status for d in app.controller.documents()
                        for o in app.controller.outcomes(d.doc_id)}
            assert statuses == {"completed"}
        assert server.status_counts[500] == 2
        # the model list, then two chunks answered at once and two on the retry
        assert server.status_counts[200] == 1 + 2 + 2


async def test_edits_and_picked_candidates_survive_reopening(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    doc = tmp_path / ACME
    shutil.copy(sample_docs / "invoices" / ACME, doc)
    conflict = tmp_path / "two-numbers.txt"
    conflict.write_text("ACME LTD\nInvoice Number: A-100\nInvoice Date: 2024-03-01\n"
                        "Total: 10.00\n\nInvoice Number: B-200\n", encoding="utf-8")
    session = tmp_path / "edits.sqlite"
    app = make_app([doc, conflict], session=session)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()  # the plan dialog has its own test
        await settle(pilot)
        await pilot.press("6")
        view = _choose_document(app, ACME)
        view.table.move_cursor(row=view.table.get_row_index("vendor"))
        view.table.focus()
        await pilot.press("e")  # a value typed by hand
        await pilot.pause()
        assert isinstance(app.screen, EditValueDialog)
        app.screen.query_one("#value", Input).value = "Acme Cloud (by hand)"
        await pilot.press("enter")
        await settle(pilot)
        row = _texts(view.table.get_row("vendor"))
        assert row[1] == "Acme Cloud (by hand)" and "edited by user" in row[NOTES]

        view = _choose_document(app, "two-numbers.txt")  # a conflict, settled by picking
        row = _texts(view.table.get_row("invoice_number"))
        assert row[1] == "A-100" and "1 conflict" in row[NOTES]
        view.table.move_cursor(row=view.table.get_row_index("invoice_number"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SourceDialog)
        candidates = app.screen.query_one("#candidates", OptionList)
        assert candidates.option_count == 2
        candidates.focus()
        candidates.highlighted = 1
        await pilot.press("enter")  # pick B-200
        await settle(pilot)
        row = _texts(view.table.get_row("invoice_number"))
        assert row[1] == "B-200" and "edited by user" in row[NOTES]

    reopened = make_app([], session=session, fields=None)
    async with reopened.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert reopened.controller.fields == preset("invoice")  # taken from the session
        await pilot.press("6")
        view = _choose_document(reopened, ACME)
        row = _texts(view.table.get_row("vendor"))
        assert row[1] == "Acme Cloud (by hand)" and "edited by user" in row[NOTES]
        view = _choose_document(reopened, "two-numbers.txt")
        assert _texts(view.table.get_row("invoice_number"))[1] == "B-200"
    with Session.open(session) as stored:
        doc_id = next(d.id for d in stored.documents() if d.path.endswith(ACME))
        assert stored.edits(doc_id)["vendor"].value == "Acme Cloud (by hand)"


async def test_markup_in_values_paths_and_edits_is_shown_literally(
        tmp_path: Path, make_app: MakeApp, settle: Settle) -> None:
    doc = tmp_path / "[red]odd[bold] name.txt"
    doc.write_text("Invoice Number: [/bold]INV-[red]42\nVendor: [bold]Acme[/] & Co\n"
                   "Invoice Date: 2024-03-01\nTotal: 10.00\n", encoding="utf-8")
    app = make_app([doc])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.query_one(DocumentsView).table
        assert _texts(table.get_row_at(0))[0].endswith("/[red]odd[bold] name.txt")
        app.controller.run()
        await settle(pilot)
        await pilot.press("6")
        view = app.query_one(ResultsView)
        number = view.table.get_row("invoice_number")[1]
        assert isinstance(number, Text) and number.plain == "[/bold]INV-[red]42"
        assert not number.spans  # nothing in the value was taken as a style
        assert view.table.get_row("vendor")[1].plain == "[bold]Acme[/] & Co"
        assert "[/bold]INV-[red]42" in app.export_screenshot()

        view.table.move_cursor(row=view.table.get_row_index("invoice_number"))
        view.table.focus()
        await pilot.press("enter")  # the source, quote highlighted
        await pilot.pause()
        assert isinstance(app.screen, SourceDialog)
        assert "[/bold]INV-[red]42" in app.export_screenshot()
        await pilot.press("escape")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#value", Input).value = "[/]x[link=y]"
        await pilot.press("enter")
        await settle(pilot)
        assert view.table.get_row("invoice_number")[1].plain == "[/]x[link=y]"
        report: Any = app.controller.job.report()
        assert report["documents"][0]["fields"]["invoice_number"]["value"] == "[/]x[link=y]"


class FailsUntilFixed(OfflineClient):
    """The offline provider, failing every call with a 503 until ``fixed`` is set."""

    fixed = False

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if not self.fixed:
            raise TransientError("503 Service Unavailable (simulated)", status=503)
        return await super().complete(request, timeout)


async def test_split_and_retry_and_mark_empty(make_app: MakeApp, settle: Settle,
                                              sample_docs: Path) -> None:
    client = FailsUntilFixed()
    kestrel = sample_docs / "invoices" / "kestrel-kp-24-1009.txt"  # two chunks
    app = make_app([kestrel], settings=Settings(provider="offline", retries=1), client=client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()
        await settle(pilot)
        await pilot.press("5")
        failed = app.query_one(FailedView)
        assert failed.table.row_count == 2
        client.fixed = True
        await pilot.press("space")  # select the first, then split it and retry
        await pilot.press("s")
        await settle(pilot)
        labels = {o.item.id.label: o.status for o in app.controller.outcomes(1)}
        assert labels == {"0.0": "completed", "0.1": "completed", "1": "failed"}
        await pilot.press("5")
        assert failed.table.row_count == 1
        await pilot.press("m")  # mark the last one empty
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert failed.table.row_count == 0
        assert {o.status for o in app.controller.outcomes(1)} == {"completed"}


class HeldClient(OfflineClient):
    """The offline provider that answers ``free`` requests, then holds every later one until
    ``release`` is set: the run is surely mid-way when the test acts, however loaded the
    machine (a client that only slept finished all 19 chunks first under load)."""

    def __init__(self, free: int) -> None:
        super().__init__()
        self.free = free
        self.release = asyncio.Event()

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        if self.free > 0:
            self.free -= 1
        else:
            await self.release.wait()
        return await super().complete(request, timeout)


async def test_quit_mid_run_asks_keeps_everything_and_resumes(
        tmp_path: Path, make_app: MakeApp, settle: Settle, sample_docs: Path) -> None:
    session = tmp_path / "quit.sqlite"
    contracts = sorted((sample_docs / "contracts").glob("*.md"))  # text: no PDF workers
    app = make_app(contracts, session=session,
                   settings=Settings(provider="offline", concurrency=1), client=HeldClient(3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.controller.run()
        for _ in range(400):  # the three free answers are stored, the fourth is held
            if app.controller.job.session.stats().completed == 3:
                break
            await asyncio.sleep(0.05)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "quitting mid-run asks first"
        await pilot.press("n")  # keep running
        await pilot.pause()
        assert app.controller.running
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause(0.5)
    with Session.open(session) as stored:
        stats = stored.stats()
    assert stats.chunks == 19
    assert stats.completed == 3, "what finished is kept, the held request is not"

    resumed = make_app([], session=session, fields=None)
    async with resumed.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("7")
        await pilot.press("r")  # resume: the plan of what is left, then the run
        await pilot.pause()
        assert isinstance(resumed.screen, PlanDialog)
        await pilot.press("enter")
        await settle(pilot)
    with Session.open(session) as stored:
        after = stored.stats()
    assert after.completed == 19 and after.responses == 19  # nothing was paid for twice


async def test_settings_help_palette_theme_and_mouse(make_app: MakeApp, settle: Settle,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpDialog)
        await pilot.press("escape")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for expected in ("Failed: Retry all", "Failed: Split & retry", "Results: Edit value",
                         "Documents: Add path…", "Fields: Load schema…",
                         "Settings: Test connection", "Sessions: Resume run", "Export…",
                         "Start run…", "Toggle light/dark theme", "Run: Cancel run"):
            assert expected in titles, "every action is in the command palette"
        await pilot.press("f2")
        assert app.theme == "textual-light"
        await pilot.click("#--content-tab-settings")  # the mouse works too
        assert app.query_one(TabbedContent).active == "settings"
        await pilot.pause()
        view = app.query_one(SettingsView)
        key = view.query_one("#api_key", Input)
        assert key.password and key.value == "sk-from-the-environment"  # masked
        assert "comes from $OPENAI_API_KEY" in _shown(view.query_one("#settings-note"))
        assert "sk-from" not in app.export_screenshot()
        view.query_one("#overlap_tokens", Input).value = "900"
        await pilot.pause()
        assert "at most half" in _shown(view.query_one("#problem-overlap_tokens"))
        view.query_one("#concurrency", Input).value = "0"
        await pilot.pause()
        assert _shown(view.query_one("#problem-concurrency")) == (
            "Concurrency must be a whole number from 1 to 100")
        assert view.query_one("#apply").disabled
        view.action_apply()
        await settle(pilot)
        assert app.controller.settings.concurrency == 20  # refused
        view.query_one("#concurrency", Input).value = "7"
        view.query_one("#overlap_tokens", Input).value = "50"
        view.query_one("#api_key", Input).value = "sk-from-the-form"
        view.action_apply()
        await settle(pilot)
        assert app.controller.settings.concurrency == 7
        assert app.controller.job.engine.pool.maximum == 7
        assert app.controller.job.provider == "offline"  # provider "offline" wins over a key


async def test_fields_are_validated_added_and_saved(
        tmp_path: Path, make_app: MakeApp, settle: Settle) -> None:
    app = make_app([], fields=None)  # no fields given, none in the session
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.query_one(TabbedContent).active == "fields", "it opens where fields are set"
        assert app.controller.fields == preset("invoice")
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, FieldEditorDialog)
        app.screen.query_one("#name", Input).value = "9lives"
        await pilot.press("enter")
        await pilot.pause()
        assert "not valid" in _shown(app.screen.query_one("#problem"))
        app.screen.query_one("#name", Input).value = "vendor"
        await pilot.press("enter")
        await pilot.pause()
        assert "already exists" in _shown(app.screen.query_one("#problem"))
        app.screen.query_one("#name", Input).value = "po_number"
        app.screen.query_one("#description", Input).value = "Purchase order"
        await pilot.press("enter")
        await settle(pilot)
        assert "po_number" in app.controller.fields.names
        assert app.query_one(FieldsView).query_one("#fields", DataTable).get_row("po_number")
        target = tmp_path / "fields.json"
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        saved = json.loads(target.read_text(encoding="utf-8"))
        assert "po_number" in saved["properties"]
        app.query_one(FieldsView).query_one("#preset", Select).value = "contract"
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "edited fields: ask before a preset"
        await pilot.press("y")
        await settle(pilot)
        assert app.controller.fields == preset("contract")


async def test_the_run_bar_names_the_endpoints_of_the_config_file(make_app: MakeApp) -> None:
    """With [[endpoints]] the base URL is not used: the bar must not show it (it said
    https://api.openai.com/v1, where nothing was sent)."""
    settings = Settings(model="m", endpoints=(
        EndpointSettings(name="fleet-a", base_url="http://127.0.0.1:9/v1"),
        EndpointSettings(name="fleet-b", base_url="http://127.0.0.1:9/v2")))
    app = make_app([], settings=settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        shown = str(app.query_one("#provider", Static).render())
    assert shown == "OpenAI-compatible · 2 endpoints: fleet-a, fleet-b · model m"


async def test_test_connection_asks_every_endpoint_of_the_config_file(
        make_app: MakeApp, settle: Settle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the base URL, which a run with [[endpoints]] does not use: each endpoint, with
    its own key (from the variable it names), one line each."""
    monkeypatch.setenv("FLEET_A_KEY", "sk-fleet-a-secret")
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    async with LoopbackServer() as server:
        settings = Settings(model="loopback-1", endpoints=(
            EndpointSettings(name="fleet-a", base_url=server.base_url,
                             api_key_env="FLEET_A_KEY"),
            EndpointSettings(name="dead", base_url=dead)))
        app = make_app([], settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3", "ctrl+t")
            await settle(pilot)
            said = [n for n in app._notifications if n.title.startswith("Connection")]
    assert [r.path for r in server.log] == ["/v1/models"]
    [note] = said
    assert note.severity == "error" and note.title == "Connection failed for 1 of 2 endpoints"
    lines = note.message.splitlines()
    assert lines[0] == "fleet-a answered with 1 model(s); loopback-1 is listed."
    assert lines[1].startswith("dead: cannot connect")
