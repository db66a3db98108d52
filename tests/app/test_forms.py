"""The Documents, Fields and Settings screens as a person uses them (issue 12, items 15-17).

Documents: no duplicate when a folder holds a file already added; a reason is never cut;
the cursor stays near a removed row; End reaches the last row; b focuses the tree, which
can climb above the launch folder; a file read as cp1252 says so. Fields: a failed schema
load keeps its dialog open; saving over a file and switching preset over edited fields
ask first; no key is lost after the preset list closes. Settings: bad values are refused
in the user's words and an error stays until dismissed.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Select, Static

from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType, preset
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.field_editor import FieldEditorDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.screens.documents import DocumentsView
from extractor_tui.ui.screens.fields import FieldsView
from extractor_tui.ui.screens.settings import SettingsView
from extractor_tui.ui.widgets.doc_tree import DocumentTree

SIZE = (160, 50)
MakeApp = Callable[..., ExtractorApp]
Settle = Callable[[Pilot[Any]], Awaitable[None]]


def _texts(row: Any) -> list[str]:
    return [cell.plain if isinstance(cell, Text) else str(cell) for cell in row]


def _shown(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


# -- Documents (item 15) ---------------------------------------------------------------------

async def test_documents_no_duplicates_cursor_end_tree_and_encoding(
        tmp_path: Path, make_app: MakeApp, settle: Settle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "launch" / "docs"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "launch")
    for n in range(6):
        (folder / f"invoice-{n}.txt").write_text(f"Invoice Number: N-{n}\n", encoding="utf-8")
    (folder / "legacy.txt").write_bytes("Vendor: Caf\xe9 M\xfcller \x80 GmbH\n".encode("latin-1"))
    app = make_app([Path("docs/invoice-0.txt")])  # relative, as typed on the command line
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.query_one(DocumentsView)
        view.add(folder)  # absolute, as the tree gives it
        await settle(pilot)
        paths = [d.path for d in app.controller.documents()]
        assert len(paths) == 7 == len(set(paths)), "the file added twice is listed once"

        table = view.table
        table.focus()
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        rows = [_texts(table.get_row_at(i)) for i in range(table.row_count)]
        legacy = next(i for i, r in enumerate(rows) if r[0].endswith("legacy.txt"))
        assert "cp1252" in rows[legacy][4], "the row says how it was read"
        table.move_cursor(row=legacy)
        await pilot.pause()
        assert "cp1252" in _shown(view.query_one("#page-title", Static)) + _shown(
            view.query_one("#page-text", Static))

        table.move_cursor(row=3)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 6 and table.cursor_row == 3, "the cursor stays near"

        await pilot.press("b")
        tree = view.query_one(DocumentTree)
        assert tree.has_focus, "b shows and focuses the tree"
        await pilot.press("backspace")
        await pilot.pause()
        assert Path(tree.path) == tmp_path, "the tree climbs above the launch folder"


async def test_a_long_reason_is_never_cut(tmp_path: Path, make_app: MakeApp,
                                          settle: Settle) -> None:
    app = make_app([])
    reason = ("encrypted: the PDF needs a password to open; the empty owner password was "
              "tried and refused, so ask the sender for an unprotected copy") + " (end)"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.controller.job.session.add_failed_document(
            str(tmp_path / "a-rather-long-folder-name" / "quarterly-statement.pdf"), reason)
        view = app.query_one(DocumentsView)
        view.reload()
        await pilot.pause()
        preview = _shown(view.query_one("#page-text", Static))
        assert reason in preview.replace("\n", " ")


# -- Fields (item 16) ------------------------------------------------------------------------

async def test_fields_dialogs_ask_and_keep_their_errors(
        tmp_path: Path, make_app: MakeApp, settle: Settle) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    existing = tmp_path / "mine.schema.json"
    existing.write_text("{}", encoding="utf-8")
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        view = app.query_one(FieldsView)
        view.query_one("#fields", DataTable).focus()

        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, PathDialog)
        app.screen.query_one("#path", Input).value = str(bad)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PathDialog), "the dialog stays open"
        assert "bad.json" in _shown(app.screen.query_one("#problem", Static))
        await pilot.press("escape")

        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(existing)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "replacing a file asks first"
        await pilot.press("n")
        await pilot.pause()
        assert existing.read_text(encoding="utf-8") == "{}"
        await pilot.press("escape")

        edited = FieldSet((*preset("invoice"), FieldSpec("po_number", FieldType.STRING)),
                          "invoice")
        app.controller.apply(fields=edited)
        await settle(pilot)
        select = view.query_one("#preset", Select)
        select.focus()
        await pilot.press("enter")  # open the list
        await pilot.pause()
        await pilot.press("down", "enter")  # pick another preset
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog), "edited fields: ask before replacing"
        await pilot.press("n")
        await settle(pilot)
        assert "po_number" in app.controller.fields.names, "kept"
        await pilot.press("a")  # the next key reaches the screen
        await pilot.pause()
        assert isinstance(app.screen, FieldEditorDialog)


# -- Settings (item 17) ----------------------------------------------------------------------

async def test_settings_refuse_bad_values_in_plain_words(make_app: MakeApp,
                                                         settle: Settle) -> None:
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        view.query_one("#base_url", Input).focus()
        await pilot.press(*"notaurl")
        await pilot.pause()
        assert _shown(view.query_one("#problem-base_url", Static)) == (
            "Base URL must start with http:// or https://")
        assert view.query_one("#apply", Button).disabled
        view.query_one("#base_url", Input).value = ""
        concurrency = view.query_one("#concurrency", Input)
        concurrency.value = ""
        concurrency.focus()
        await pilot.press("5", ".", "5")
        await pilot.pause()
        assert concurrency.value == "5.5", "typed as typed, not read as 55"
        assert _shown(view.query_one("#problem-concurrency", Static)) == (
            "Concurrency must be a whole number from 1 to 100")
        concurrency.value = "500"
        await pilot.pause()
        assert _shown(view.query_one("#problem-concurrency", Static)) == (
            "Concurrency must be a whole number from 1 to 100")
        view.query_one("#timeout_s", Input).value = "soon"
        await pilot.pause()
        assert _shown(view.query_one("#problem-timeout_s", Static)) == (
            "Timeout must be a number of seconds above 0, at most 3600")


async def test_a_settings_error_stays_until_dismissed(make_app: MakeApp,
                                                      settle: Settle) -> None:
    with socket.socket() as probe:  # a port on loopback where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        view.query_one("#provider", Select).value = "openai"
        view.query_one("#base_url", Input).value = f"http://127.0.0.1:{port}/v1"
        await pilot.press("ctrl+t")
        await settle(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and all(n.timeout >= 24 * 3600 for n in errors)


async def test_the_settings_tab_puts_the_keys_in_the_form(make_app: MakeApp,
                                                          settle: Settle) -> None:
    """Found in the tmux walk-through: text typed on arrival went nowhere."""
    app = make_app([])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        view = app.query_one(SettingsView)
        assert app.focused is not None and app.focused is not view
        assert view in app.focused.ancestors
