"""Failed chunks: every chunk that failed or was cancelled, with its error class and
message, the attempt history, the chunk text and the raw model output.

Actions: retry the selected chunks (or the highlighted one), retry all, split and retry
(each chunk cut in two at a good boundary first), mark as empty. A retry goes through the
controller to the same engine as a run, so it shows live on the Run screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Static

from extractor_tui.core.model import ChunkId, ChunkOutcome
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.widgets.chunk_detail import ChunkDetail
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.row_table import RowTable

__all__ = ["FailedView"]


def _key(chunk: ChunkId) -> str:
    return f"{chunk.doc}:{chunk.label}"


class FailedView(Vertical):
    """The unfinished chunks, a detail pane, and the four ways to deal with them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "Select"),
        Binding("asterisk", "mark_all", "Select all", key_display="*"),
        Binding("r", "retry", "Retry"),
        Binding("A", "retry_all", "Retry all", key_display="shift+a"),
        Binding("s", "split_retry", "Split & retry"),
        Binding("m", "mark_empty", "Mark empty"),
        Binding("u", "urgent", "Urgent", tooltip="Send the selected chunks first; again: not "
                "urgent"),
    ]
    DEFAULT_CSS = """
    FailedView #failed-bar { height: 3; }
    FailedView #failed-bar Button { margin-right: 1; }
    FailedView #failed-count { width: 1fr; height: 3; content-align: left middle;
                               padding: 0 1; }
    FailedView #failed { height: 1fr; }
    FailedView ChunkDetail { height: 1fr; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self.marked: set[ChunkId] = set()
        self._rows: dict[str, ChunkOutcome] = {}
        self._paths: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="failed-bar"):
            yield Static("", id="failed-count")
            yield Button("Retry (r)", id="retry", variant="primary")
            yield Button("Retry all (A)", id="retry-all")
            yield Button("Split & retry (s)", id="split")
            yield Button("Mark empty (m)", id="empty")
        yield RowTable(id="failed")
        yield ChunkDetail()

    def on_mount(self) -> None:
        table = self.query_one("#failed", DataTable)
        for title in ("✓", "Document", "Chunk", "Pages", "Error class", "Message", "Calls"):
            table.add_column(title, key=title)
        self.reload()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#failed", DataTable)

    def reload(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear()
        self._paths = {d.doc_id: d.path for d in self.controller.documents()}
        unfinished = self.controller.unfinished()
        self._rows = {_key(o.item.id): o for o in unfinished}
        self.marked &= {o.item.id for o in unfinished}
        for key, outcome in self._rows.items():
            first, last = outcome.item.pages
            reason = outcome.reason.value if outcome.reason is not None else outcome.status
            calls = len(self.controller.attempts(outcome.item.id))
            table.add_row(self._mark(outcome.item.id),
                          literal(display_path(self._paths.get(outcome.item.id.doc, "?"))),
                          Text(outcome.item.id.label),
                          Text(str(first) if first == last else f"{first}–{last}"),
                          Text(reason, style="red"), literal(outcome.message or ""),
                          Text(str(calls), justify="right"), key=key)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self._count()
        self._detail()

    def _mark(self, chunk: ChunkId) -> Text:
        return Text("✓", style="bold") if chunk in self.marked else Text(" ")

    def _count(self) -> None:
        n = len(self._rows)
        text = (f"{n} unfinished chunk(s), {len(self.marked)} selected" if n
                else "No failed or cancelled chunks.")
        self.query_one("#failed-count", Static).update(Text(text))

    def _current(self) -> ChunkOutcome | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key or "")

    def _detail(self) -> None:
        outcome = self._current()
        detail = self.query_one(ChunkDetail)
        if outcome is None:
            detail.clear()
            return
        detail.show(display_path(self._paths.get(outcome.item.id.doc, "?")), outcome,
                    self.controller.attempts(outcome.item.id))

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def on_data_table_row_selected(self) -> None:
        self.action_toggle_mark()

    def _chosen(self) -> list[ChunkId]:
        """The selected chunks, or else the highlighted one."""
        if self.marked:
            return sorted(self.marked)
        current = self._current()
        return [current.item.id] if current is not None else []

    # -- actions -----------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"retry": self.action_retry, "retry-all": self.action_retry_all,
                   "split": self.action_split_retry, "empty": self.action_mark_empty}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_toggle_mark(self) -> None:
        outcome = self._current()
        if outcome is None:
            return
        chunk = outcome.item.id
        self.marked.symmetric_difference_update({chunk})
        self.table.update_cell(_key(chunk), "✓", self._mark(chunk))
        self._count()

    def action_mark_all(self) -> None:
        everything = {o.item.id for o in self._rows.values()}
        self.marked = set() if self.marked == everything else everything
        for outcome in self._rows.values():
            self.table.update_cell(_key(outcome.item.id), "✓", self._mark(outcome.item.id))
        self._count()

    def action_retry(self) -> None:
        self._retry(self._chosen())

    def action_retry_all(self) -> None:
        self._retry([o.item.id for o in self._rows.values()])

    def action_split_retry(self) -> None:
        self._retry(self._chosen(), split=True)

    def _retry(self, chunks: list[ChunkId], split: bool = False) -> None:
        if not chunks:
            self.app.notify("No unfinished chunk to retry.")
            return
        if self.controller.retry(chunks, split=split) is not None:
            self.marked.clear()

    def action_urgent(self) -> None:
        chunks = self._chosen()
        if chunks:
            urgent = self.controller.toggle_urgent(chunks=chunks)
            self.app.notify(f"{len(chunks)} chunk(s) "
                            f"{'sent first from now on' if urgent else 'no longer urgent'}.",
                            markup=False)

    def action_mark_empty(self) -> None:
        chunks = self._chosen()
        if not chunks:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.controller.mark_empty(chunks)
                self.marked.clear()

        self.app.push_screen(ConfirmDialog(
            "Mark as empty?", f"Record that {len(chunks)} chunk(s) hold none of the fields? "
            "They count as completed, with no values.", yes="Mark empty"), answered)
