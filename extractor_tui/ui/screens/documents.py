"""Documents: add files and folders (from the tree or a typed path), see each one's pages,
tokens, chunks and status, read its text page by page, remove it.

A coordinator: it asks the controller to load or remove documents and redraws when the
app says they changed. The list is a ``VirtualTable``: it asks the controller for the
documents it draws, a page at a time, each with its chunks counted by the session (no
chunk text), so 10,000 documents cost what one screen of them does; a document's text is
read when its row is highlighted, for the preview. A document that did not load keeps its
row, with the loader's one-line reason in the status column; a file of another type found
in a folder gets a dim ``skipped: unsupported type .json`` row, after the documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DirectoryTree, Input

from extractor_tui.core.documents import Skipped
from extractor_tui.core.session import DocumentSummary
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.widgets.doc_tree import DocumentTree
from extractor_tui.ui.widgets.literal import display_path, literal
from extractor_tui.ui.widgets.page_preview import PagePreview, page_texts
from extractor_tui.ui.widgets.virtual_table import Column, VirtualTable

__all__ = ["COLUMNS", "DocumentsView", "document_status"]

Row = DocumentSummary | Skipped
"""A row of the list: a document of the session, or a file skipped in a folder."""

COLUMNS = (Column("Document", 24, flex=3, cut_left=True), Column("Pages", 5, right=True),
           Column("Tokens", 9, right=True), Column("Chunks", 6, right=True),
           Column("Status", 24, flex=2))
_DASH = Text("–")


def document_status(entry: DocumentSummary) -> Text:
    """``not read: <reason>``, ``loaded``, ``done 3/3`` or ``2 unfinished · 5/7 done``,
    then what the loader noted (read as cp1252, pages without text …)."""
    if entry.error is not None:
        return Text.assemble(("not read: ", "bold red"), literal(entry.error, "red"))
    total, done, failed = entry.chunks, entry.answered, entry.unfinished
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
        self._documents = 0  # as counted by the last reload; skipped files come after
        self._skipped: list[Skipped] = []

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
                yield VirtualTable[Row](COLUMNS, self._rows, self._row_count, _cells,
                                        id="docs")
                yield PagePreview(id="preview")

    def on_mount(self) -> None:
        self.reload()

    @property
    def table(self) -> VirtualTable[Row]:
        return self.query_one("#docs", VirtualTable)

    def _row_count(self) -> int:
        return self._documents + len(self._skipped)

    def _rows(self, offset: int, limit: int) -> list[Row]:
        """Rows ``offset`` to ``offset + limit``: documents by path, then skipped files."""
        rows: list[Row] = []
        if offset < self._documents:
            rows += self.controller.document_page(offset, min(limit, self._documents - offset))
        start = max(0, offset - self._documents)
        rows += self._skipped[start:start + limit - len(rows)]
        return rows

    def reload(self) -> None:
        """Count again and redraw what shows, keeping the cursor on the same document (or
        skipped file); when that went away, on the same row."""
        table = self.table
        keep, row = table.current, table.cursor_row
        self._documents = self.controller.document_count()
        self._skipped = self.controller.skipped()
        index: int | None = None
        if isinstance(keep, DocumentSummary):
            index = self.controller.document_index(keep.doc_id)
        elif keep is not None and keep in self._skipped:
            index = self._documents + self._skipped.index(keep)
        table.reload(cursor=row if index is None else index)
        self._preview(force=True)

    def _selected(self) -> DocumentSummary | None:
        row = self.table.current
        return row if isinstance(row, DocumentSummary) else None

    def _preview(self, force: bool = False) -> None:
        entry = self._selected()
        doc_id = entry.doc_id if entry is not None else None
        same = doc_id == self._shown
        if same and not force:
            return
        self._shown = doc_id
        preview = self.query_one(PagePreview)
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
            preview.show(display_path(entry.path),
                         page_texts(self.controller.chunks(entry.doc_id)),
                         preview.page if same else 0, notes=entry.notes)

    def on_virtual_table_row_highlighted(self, event: VirtualTable.RowHighlighted) -> None:
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
        row = self.table.current
        if isinstance(row, Skipped):  # only a line in the list: nothing to lose
            self.controller.forget_skipped(str(row.path))
            return
        entry = self._selected()
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
        entry = self._selected()
        if entry is None or entry.error is not None:
            return
        urgent = self.controller.toggle_urgent([entry.doc_id])
        self.app.notify(f"{display_path(entry.path)} "
                        f"{'is sent first' if urgent else 'is no longer urgent'}.",
                        markup=False)

    def action_page(self, delta: int) -> None:
        self.query_one(PagePreview).turn(delta)


def _cells(row: Row) -> Sequence[Text]:
    """The cells of one row, every document-derived string literal."""
    if isinstance(row, Skipped):
        return (literal(display_path(row.path), "dim"), _DASH, _DASH, _DASH,
                literal(f"skipped: {row.reason}", "dim"))
    if not row.loaded:
        return (literal(display_path(row.path)), _DASH, _DASH, _DASH, document_status(row))
    return (literal(display_path(row.path)), Text(str(row.pages)), Text(f"{row.tokens:,}"),
            Text(str(row.chunks)), document_status(row))
