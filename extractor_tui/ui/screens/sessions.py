"""Sessions: the session files this app opened, newest first, with how far each got;
reopen one, resume its unfinished run, start a new session, rename or delete one.

Each session is its own SQLite file, so the figures come from opening it for a moment
(``Session.stats()``: documents, chunks answered, failed, still to send). Opening or
resuming goes through the controller, which replaces the Job; resuming shows the plan of
what is left before anything is sent, as a first run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.row_table import RowTable

__all__ = ["SessionRow", "SessionsView", "read_session"]


@dataclass(frozen=True)
class SessionRow:
    """What the table shows of one session file."""

    path: Path
    opened_at: str
    documents: int = 0
    completed: int = 0
    failed: int = 0
    pending: int = 0
    fields: str = ""
    model: str = ""
    problem: str | None = None


def read_session(path: Path, opened_at: str) -> SessionRow:
    """Open ``path`` briefly for its figures; a broken file becomes a row with the reason."""
    try:
        with Session.open(path, read_only=True) as session:  # never its writer's lock
            stats, info = session.stats(), session.run_info()
    except ConfigError as exc:
        return SessionRow(path, opened_at, problem=str(exc))
    return SessionRow(path, opened_at, stats.documents, stats.completed, stats.failed,
                      stats.pending, info.fields.name if info else "",
                      info.model if info else "")


class SessionsView(Vertical):
    """Recent sessions, and the buttons to open, resume or start one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_session", "Open"),
        Binding("r", "resume_session", "Resume run"),
        Binding("n", "new_session", "New session"),
        Binding("e", "rename_session", "Rename…"),
        Binding("d,delete", "delete_session", "Delete…"),
    ]
    DEFAULT_CSS = """
    SessionsView #sessions-bar { height: 3; }
    SessionsView #sessions-bar Button { margin-right: 1; }
    SessionsView #sessions-note { width: 1fr; height: 3; content-align: left middle;
                                  padding: 0 1; color: $text-muted; }
    SessionsView #sessions { height: 1fr; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self._rows: dict[str, SessionRow] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="sessions-bar"):
            yield Button("Open (o)", id="open", variant="primary")
            yield Button("Resume run (r)", id="resume")
            yield Button("New session (n)", id="new")
            yield Static("", id="sessions-note")
        yield RowTable(id="sessions")

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        for title in ("", "Session", "Last opened", "Docs", "Done", "Failed", "To send",
                      "Fields", "Model"):
            table.add_column(title, key=title or "current")
        self.reload()

    def reload(self) -> None:
        table = self.query_one("#sessions", DataTable)
        table.clear()
        current = self.controller.session_path.resolve()
        self._rows = {}
        for recent in self.controller.recent.entries():
            row = read_session(recent.path, recent.opened_at)
            key = str(recent.path)
            self._rows[key] = row
            is_current = recent.path.resolve() == current
            if row.problem is not None:
                cells = [Text(""), literal(recent.path.name), Text(row.opened_at),
                         literal(row.problem, "red"), *[Text("")] * 5]
            else:
                unfinished = row.failed + row.pending
                cells = [Text("●" if is_current else "", style="green"),
                         literal(recent.path.name, "bold" if is_current else ""),
                         Text(row.opened_at), Text(str(row.documents), justify="right"),
                         Text(str(row.completed), justify="right"),
                         Text(str(row.failed), justify="right",
                              style="red" if row.failed else ""),
                         Text(str(row.pending), justify="right",
                              style="yellow" if unfinished else ""),
                         literal(row.fields), literal(row.model)]
            table.add_row(*cells, key=key)
        self.query_one("#sessions-note", Static).update(Text.assemble(
            "In use: ", literal(display_path(self.controller.session_path))))

    def _current(self) -> SessionRow | None:
        table = self.query_one("#sessions", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key or "")

    def on_data_table_row_selected(self) -> None:
        self.action_open_session()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"open": self.action_open_session, "resume": self.action_resume_session,
                   "new": self.action_new_session}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_open_session(self) -> None:
        self._open(resume=False)

    def action_resume_session(self) -> None:
        self._open(resume=True)

    def _open(self, resume: bool) -> None:
        row = self._current()
        if row is None:
            return
        if row.problem is not None:
            self.app.notify(row.problem, severity="error", markup=False)
            return
        if row.path.resolve() == self.controller.session_path.resolve():
            if resume:
                self.controller.request_run()
            else:
                self.app.notify("This is the session in use.")
            return
        self.controller.open_session(row.path, resume=resume)

    def action_new_session(self) -> None:
        self.controller.new_session()

    def action_rename_session(self) -> None:
        row = self._current()
        if row is None:
            return

        def check(path: Path) -> str | None:
            name = str(path)
            if "/" in name or name.startswith("."):
                return "Type a name only, without a folder (it stays where it is)."
            return None

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.controller.rename_session(row.path, str(path))

        self.app.push_screen(PathDialog(
            "Rename the session", value=row.path.stem, must_exist=False, check=check,
            hint=f"In {display_path(row.path.parent)}; .sqlite is added."), chosen)

    def action_delete_session(self) -> None:
        row = self._current()
        if row is None:
            return
        if row.path.resolve() == self.controller.session_path.resolve():
            self.controller.delete_session(row.path)  # says why it will not
            return

        def answered(yes: bool | None) -> None:
            if yes and self.controller.delete_session(row.path):
                self.reload()

        self.app.push_screen(ConfirmDialog(
            "Delete the session?", Text.assemble(
                "Delete ", literal(display_path(row.path), "bold"), f" ({row.documents} "
                "document(s), their answers, history and hand edits)? The documents "
                "themselves are not touched."), yes="Delete", danger=True), answered)
