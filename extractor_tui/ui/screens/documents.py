"""Documents: add files and folders (from the tree or a typed path), see each one's pages,
tokens, chunks and status, read its text page by page, remove it.

A coordinator: it asks the controller to load or remove documents and redraws from
``controller.documents()`` when the app says they changed. A document that did not load
keeps its row, with the loader's one-line reason in the status column; a file of another
type found in a folder gets a dim ``skipped: unsupported type .json`` row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, DirectoryTree, Input

from extractor_tui.core.job import DocumentEntry
from extractor_tui.core.model import ChunkStatus
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.widgets.doc_tree import DocumentTree
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.page_preview import PagePreview, page_texts
from extractor_tui.ui.widgets.row_table import RowTable

__all__ = ["DocumentsView", "document_status"]

_SKIPPED = "skipped:"
"""Row keys of skipped files start with this; a document's row key is its id."""


def document_status(entry: DocumentEntry, statuses: Counter[ChunkStatus]) -> Text:
    """``not read: <reason>``, ``loaded``, ``done 3/3`` or ``2 failed · 5/7 done``, then
    what the loader noted (read as cp1252, pages without text …)."""
    if entry.error is not None:
        return Text.assemble(("not read: ", "bold red"), literal(entry.error, "red"))
    total = len(entry.items)
    done = statuses[ChunkStatus.COMPLETED]
    failed = statuses[ChunkStatus.FAILED] + statuses[ChunkStatus.CANCELLED]
    if not done and not failed:
        status = Text("loaded, not run yet" if total else "loaded (no text)", style="dim")
    elif failed:
        status = Text(f"{failed} unfinished · {done}/{total} done", style="yellow")
    else:
        status = Text(f"done {done}/{total}", style="green" if done == total else "")
    for note in entry.notes:
        status.append(" · ")
        status.append_text(literal(note, "yellow"))
    return status


class DocumentsView(Vertical):
    """The tree, the typed path, the documents table and the page preview."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_path", "Add path…", tooltip="Type a file or folder to add"),
        Binding("b", "toggle_tree", "Browse", tooltip="Go to the folder tree; again: hide it"),
        Binding("delete,x", "remove", "Remove", tooltip="Remove the selected document"),
        Binding("u", "urgent", "Urgent", tooltip="Send the selected document first; again: "
                "not urgent"),
        Binding("left_square_bracket", "page(-1)", "Prev page", key_display="["),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]"),
    ]
    DEFAULT_CSS = """
    DocumentsView #path-row { height: 3; }
    DocumentsView #path-row Input { width: 1fr; }
    DocumentsView #tree-pane { width: 40; }
    DocumentsView #tree-pane.-hidden { display: none; }
    DocumentsView #tree-pane DirectoryTree { height: 1fr; }
    DocumentsView #tree-pane Button { width: 100%; }
    DocumentsView #docs { height: 1fr; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self._shown: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="path-row"):
            yield Input(placeholder="Type a file or folder and press Enter to add it",
                        id="typed-path")
            yield Button("Add", id="add-typed")
        with Horizontal():
            with Vertical(id="tree-pane"):
                yield DocumentTree(Path.cwd(), id="tree")
                yield Button("Add highlighted", id="add-tree")
            with Vertical():
                yield RowTable(id="docs")
                yield PagePreview(id="preview")

    def on_mount(self) -> None:
        table = self.query_one("#docs", DataTable)
        for title in ("Document", "Pages", "Tokens", "Chunks", "Status"):
            table.add_column(title, key=title.lower())
        self.reload()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#docs", DataTable)

    def reload(self) -> None:
        """Redraw every row from the controller (a few hundred at most: documents, not
        requests), keeping the cursor on the same document."""
        table = self.table
        keep, row = self._selected(), table.cursor_row
        table.clear()
        for entry in self.controller.documents():
            statuses = Counter(o.status for o in self.controller.outcomes(entry.doc_id))
            loaded = entry.error is None
            table.add_row(literal(display_path(entry.path)),
                          Text(str(entry.pages) if loaded else "–", justify="right"),
                          Text(f"{entry.tokens:,}" if loaded else "–", justify="right"),
                          Text(str(len(entry.items)) if loaded else "–", justify="right"),
                          document_status(entry, statuses), key=str(entry.doc_id))
        for skipped in self.controller.skipped():  # other files found in a folder
            table.add_row(literal(display_path(skipped.path), "dim"),
                          *(Text("–", justify="right") for _ in range(3)),
                          literal(f"skipped: {skipped.reason}", "dim"),
                          key=f"{_SKIPPED}{skipped.path}")
        if keep is not None and str(keep) in {k.value for k in table.rows}:
            table.move_cursor(row=table.get_row_index(str(keep)))
        elif table.row_count:  # the row went away: stay where it was
            table.move_cursor(row=min(row, table.row_count - 1))
        self._preview(force=True)

    def _selected(self) -> int | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return int(key) if key is not None and key.isdigit() else None

    def _preview(self, force: bool = False) -> None:
        doc_id = self._selected()
        same = doc_id == self._shown
        if same and not force:
            return
        self._shown = doc_id
        preview = self.query_one(PagePreview)
        entry = next((e for e in self.controller.documents() if e.doc_id == doc_id), None)
        if entry is None and self.table.row_count:
            preview.clear("Skipped: a file of another type, found in a folder (only .pdf, "
                          ".txt and .md are read; add it by name to see why).")
        elif entry is None:
            preview.clear("No documents yet: type a path above, press a, or pick one in "
                          "the tree.")
        elif entry.error is not None:  # the whole reason, wrapped, however long
            preview.clear(Text.assemble(literal(display_path(entry.path)), " could not be "
                                        "read"), literal(entry.error, "red", multiline=True))
        else:
            preview.show(display_path(entry.path), page_texts(entry.items),
                         preview.page if same else 0, notes=entry.notes)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview()

    # -- adding ---------------------------------------------------------------------------

    def add(self, path: Path) -> None:
        self.controller.add_paths([path])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._add_typed()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add-typed":
            self._add_typed()
        elif event.button.id == "add-tree":
            path = self.query_one(DocumentTree).highlighted_path
            if path is not None:
                self.add(path)

    def _add_typed(self) -> None:
        field = self.query_one("#typed-path", Input)
        text = field.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if not path.exists():
            self.app.notify(f"{path} does not exist.", severity="warning", markup=False)
            return
        field.value = ""
        self.add(path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.add(event.path)

    def action_add_path(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.add(path)

        self.app.push_screen(PathDialog("Add a file or folder", hint="Folders are read "
                                        "recursively: .pdf, .txt and .md files."), chosen)

    def action_toggle_tree(self) -> None:
        """Show the tree and go to it; from the tree, hide it and go back to the list."""
        pane, tree = self.query_one("#tree-pane"), self.query_one(DocumentTree)
        if pane.has_class("-hidden") or not tree.has_focus:
            pane.remove_class("-hidden")
            tree.focus()
        else:
            pane.add_class("-hidden")
            self.table.focus()

    # -- removing and reading ---------------------------------------------------------------

    def action_remove(self) -> None:
        table = self.table
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
            if key.startswith(_SKIPPED):  # only a line in the list: nothing to lose
                self.controller.forget_skipped(key.removeprefix(_SKIPPED))
                return
        doc_id = self._selected()
        entry = next((e for e in self.controller.documents() if e.doc_id == doc_id), None)
        if entry is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.controller.remove_documents([entry.doc_id])

        self.app.push_screen(ConfirmDialog(
            "Remove document?", Text.assemble(
                "Remove ", literal(display_path(entry.path), "bold"), " from the session, "
                "with its results and hand edits? The file itself is not touched."),
            yes="Remove", danger=True), answered)

    def action_urgent(self) -> None:
        doc_id = self._selected()
        entry = next((e for e in self.controller.documents() if e.doc_id == doc_id), None)
        if entry is None or entry.error is not None:
            return
        urgent = self.controller.toggle_urgent([entry.doc_id])
        self.app.notify(f"{display_path(entry.path)} "
                        f"{'is sent first' if urgent else 'is no longer urgent'}.",
                        markup=False)

    def action_page(self, delta: int) -> None:
        self.query_one(PagePreview).turn(delta)
