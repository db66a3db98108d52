"""Failed chunks: every chunk that failed or was cancelled, with its error class and
message, the attempt history, the chunk text and the raw model output.

Actions: retry the selected chunks (or the highlighted one), retry all, split and retry
(each chunk cut in two at a good boundary first), mark as empty. A retry goes through the
controller to the same engine as a run, so it shows live on the Run screen.

The list is a ``VirtualTable`` over the session's unfinished chunks, read a page at a time
with their calls counted in SQL; the highlighted chunk's text, raw output and attempts are
read when it is highlighted. Selecting all or retrying all reads the ids, nothing more.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from extractor_tui.core.model import ChunkId
from extractor_tui.core.session import UnfinishedChunk
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.widgets.chunk_detail import ChunkDetail
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.virtual_table import Column, VirtualTable

__all__ = ["COLUMNS", "FailedView"]

COLUMNS = (Column("✓", 1), Column("Document", 16, flex=1, cut_left=True),
           Column("Chunk", 6), Column("Pages", 7), Column("Error class", 13),
           Column("Message", 24, flex=3), Column("Calls", 5, right=True))


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

    def compose(self) -> ComposeResult:
        with Horizontal(id="failed-bar"):
            yield Static("", id="failed-count")
            yield Button("Retry (r)", id="retry", variant="primary")
            yield Button("Retry all (A)", id="retry-all")
            yield Button("Split & retry (s)", id="split")
            yield Button("Mark empty (m)", id="empty")
        yield VirtualTable[UnfinishedChunk](COLUMNS, self.controller.unfinished_page,
                                            self.controller.unfinished_count, self._cells,
                                            id="failed")
        yield ChunkDetail()

    def on_mount(self) -> None:
        self.reload()

    @property
    def table(self) -> VirtualTable[UnfinishedChunk]:
        return self.query_one("#failed", VirtualTable)

    def reload(self) -> None:
        """Count again and redraw what shows; the cursor stays on its row."""
        self.table.reload()
        if self.marked:  # a chunk retried or marked empty meanwhile is no longer here
            self.marked &= set(self.controller.unfinished_ids())
        self._count()
        self._detail()

    def _cells(self, row: UnfinishedChunk) -> tuple[Text, ...]:
        first, last = row.pages
        reason = row.reason.value if row.reason is not None else row.status
        return (self._mark(row.id), literal(display_path(row.document)), Text(row.id.label),
                Text(str(first) if first == last else f"{first}–{last}"),
                Text(reason, style="red"), literal(row.message or ""), Text(str(row.calls)))

    def _mark(self, chunk: ChunkId) -> Text:
        return Text("✓", style="bold") if chunk in self.marked else Text(" ")

    def _count(self) -> None:
        n = self.table.row_count
        text = (f"{n} unfinished chunk(s), {len(self.marked)} selected" if n
                else "No failed or cancelled chunks.")
        self.query_one("#failed-count", Static).update(Text(text))

    def _detail(self) -> None:
        row = self.table.current
        stored = self.controller.unfinished_detail(row.id) if row is not None else None
        detail = self.query_one(ChunkDetail)
        if row is None or stored is None:
            detail.clear()
            return
        detail.show(display_path(row.document), stored)

    def on_virtual_table_row_highlighted(self) -> None:
        self._detail()

    def on_virtual_table_row_selected(self) -> None:
        self.action_toggle_mark()

    def _chosen(self) -> list[ChunkId]:
        """The selected chunks, or else the highlighted one."""
        if self.marked:
            return sorted(self.marked)
        current = self.table.current
        return [current.id] if current is not None else []

    # -- actions -----------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"retry": self.action_retry, "retry-all": self.action_retry_all,
                   "split": self.action_split_retry, "empty": self.action_mark_empty}
        if event.button.id in actions:
            actions[event.button.id]()

    def action_toggle_mark(self) -> None:
        current = self.table.current
        if current is None:
            return
        self.marked.symmetric_difference_update({current.id})
        self.table.refresh()  # the marks are drawn from ``marked``
        self._count()

    def action_mark_all(self) -> None:
        everything = set(self.controller.unfinished_ids())
        self.marked = set() if self.marked == everything else everything
        self.table.refresh()
        self._count()

    def action_retry(self) -> None:
        self._retry(self._chosen())

    def action_retry_all(self) -> None:
        self._retry(self.controller.unfinished_ids())

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
