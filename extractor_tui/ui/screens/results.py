"""Results: per document, each field's value, whether it is valid (with the error when it
is not), whether it is grounded, the verify stage's verdict, its source page and quote,
and whether it was edited.

Opening a value (Enter, or a click on a highlighted row) shows the chunk text with the
quote highlighted and every candidate; picking a candidate, or typing a value (e), is
stored as the user's edit through the controller. Every value is drawn as literal
``Text``: ``[/bold]`` in a document is shown, never applied.

The document list is a headerless ``VirtualTable``: it reads the documents it draws a page
at a time (no chunk text), so 10,000 documents cost one screen of them; only the chosen
document's results are merged (its stored answers restored on first use).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from extractor_tui.core.model import Candidate, FieldResult
from extractor_tui.core.session import DocumentSummary
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.edit_value import EditValueDialog
from extractor_tui.ui.dialogs.source import SourceDialog
from extractor_tui.ui.widgets.literal import NO_VALUE, display_path, literal, value_text
from extractor_tui.ui.widgets.row_table import RowTable
from extractor_tui.ui.widgets.virtual_table import Column, VirtualTable

__all__ = ["COLUMNS", "ResultsView", "result_cells"]

COLUMNS = ("Field", "Value", "Valid", "Grounded", "Verified", "Page", "Quote", "Notes")
VERDICTS = {"confirmed": ("✓ confirmed", "green"), "corrected": ("↻ corrected", "bold cyan"),
            "not_found": ("∅ not found", "yellow")}
"""How the verify stage's verdict reads in the Verified column (unverified: a dash)."""
_QUOTE_WIDTH = 48
_VALUE_WIDTH = 40
_DOC_COLUMNS = (Column("", 2), Column("Document", 36, flex=1, cut_left=True))


def result_cells(result: FieldResult) -> tuple[Text, ...]:
    """The row of one field, every document-derived part literal."""
    empty = result.value is None or result.value == []
    valid = (Text("✓", style="green") if result.valid
             else Text.assemble(("✗ ", "bold red"), literal("; ".join(result.errors), "red")))
    grounded = (Text(NO_VALUE, style="dim") if empty or (result.edited and not result.sources)
                else Text("✓", style="green") if result.grounded else Text("✗", style="yellow"))
    pages = sorted({s.page for s in result.sources if s.page is not None})
    quote = result.sources[0].quote if result.sources else ""
    if len(quote) > _QUOTE_WIDTH:
        quote = quote[:_QUOTE_WIDTH - 1] + "…"
    notes = Text()
    if result.edited:
        notes.append(f"✎ edited by {result.edited_by}", style="bold magenta")
    if result.conflicts:
        notes.append((" · " if notes else "") + f"⚠ {len(result.conflicts)} conflict(s)",
                     style="bold yellow")
    verdict = VERDICTS.get(result.verified or "")
    verified = Text(*verdict) if verdict else Text(NO_VALUE, style="dim")
    name = literal(result.name, "bold")
    if result.conflicts:  # in the first column, which a long value never pushes away
        name.append(" ⚠", style="bold yellow")
    value = value_text(result.value)
    if len(value) > _VALUE_WIDTH:  # whole in the detail line below the table
        value = value[:_VALUE_WIDTH - 1] + "…"
    return (name, literal(value, "" if result.valid else "red"), valid, grounded, verified,
            Text(", ".join(map(str, pages)) or NO_VALUE), literal(quote, "italic"), notes)


class ResultsView(Horizontal):
    """The document list on the left, the chosen document's fields on the right."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "open_value", "Open value"),
        Binding("e", "edit_value", "Edit value"),
        Binding("left_square_bracket", "document(-1)", "Prev doc", key_display="["),
        Binding("right_square_bracket", "document(1)", "Next doc", key_display="]"),
    ]
    DEFAULT_CSS = """
    ResultsView #result-docs { width: 44; height: 1fr; border: tall $border-blurred;
                               padding: 0 1; }
    ResultsView #result-docs:focus { border: tall $border; }
    ResultsView #result-title { height: auto; padding: 0 1; background: $boost; }
    ResultsView #results { height: 1fr; }
    ResultsView #result-detail { height: auto; max-height: 8; padding: 0 1;
                                 border-top: solid $panel; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self.doc_id: int | None = None
        self._entry: DocumentSummary | None = None  # the document of ``doc_id``
        self._results: dict[str, FieldResult] = {}

    def compose(self) -> ComposeResult:
        yield VirtualTable[DocumentSummary](
            _DOC_COLUMNS, self.controller.document_page, self.controller.document_count,
            _doc_cells, header=False, zebra=False, padding=0, id="result-docs")
        with Vertical():
            yield Static("", id="result-title")
            yield RowTable(id="results")
            yield Static("", id="result-detail")

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(0.5, self._follow_run, name="results-follow-run")

    def _follow_run(self) -> None:
        """While a run writes answers, keep the answered counts moving (values merge when
        it ends): the documents on screen and the title are read again, nothing else."""
        if not self.controller.running or self.controller.closed:
            return
        self.documents.reload()
        self._entry = self.controller.document(self.doc_id) if self.doc_id else None
        self._title()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#results", DataTable)

    @property
    def documents(self) -> VirtualTable[DocumentSummary]:
        return self.query_one("#result-docs", VirtualTable)

    def reload(self) -> None:
        """Count the documents again; stay on the same one (else on the first)."""
        docs = self.documents
        index = (self.controller.document_index(self.doc_id) if self.doc_id is not None
                 else None)
        docs.reload(cursor=index or 0)
        first = docs.current
        if index is None:
            self.doc_id = first.doc_id if first is not None else None
        self.show_document()

    def show_document(self) -> None:
        """Redraw the fields of ``doc_id``, keeping the cursor on the same field."""
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)  # columns fit this document's values, not the widest seen
        for column in COLUMNS:
            table.add_column(column, key=column)
        entry = self._entry = (self.controller.document(self.doc_id)
                               if self.doc_id is not None else None)
        self._results = {}
        self._title()
        if entry is not None and entry.error is None:
            self._results = self.controller.results(entry.doc_id)
            for name, result in self._results.items():
                table.add_row(*result_cells(result), key=name)
            if table.row_count:
                table.move_cursor(row=min(row, table.row_count - 1))
        self._detail()

    def _title(self) -> None:
        entry = self._entry
        title = self.query_one("#result-title", Static)
        if entry is None:
            title.update(Text("No documents yet: add some on the Documents screen."))
        elif entry.error is not None:
            title.update(Text.assemble(literal(display_path(entry.path), "bold"),
                                       ": could not be read: ", literal(entry.error, "red")))
        else:
            title.update(Text.assemble(literal(display_path(entry.path), "bold"),
                                       f" · {entry.answered}/{entry.chunks} chunk(s) "
                                       "answered"))

    def _current(self) -> FieldResult | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._results.get(key or "")

    def _detail(self) -> None:
        result = self._current()
        detail = self.query_one("#result-detail", Static)
        if result is None:
            detail.update("")
            return
        text = Text.assemble((result.name, "bold"), " = ", literal(value_text(result.value)))
        for error in result.errors:
            text.append("\n✗ ", style="red")
            text.append_text(literal(error, "red"))
        verdict = VERDICTS.get(result.verified or "")
        if verdict is not None:
            text.append(f"\n{verdict[0]} by the verify stage", style=verdict[1])
            said = list(dict.fromkeys(c.value for c in result.candidates
                                      if c.stage == "extract"))[:3]
            if result.verified != "confirmed" and said:
                text.append("; extraction said: ", style="dim")
                text.append_text(literal("; ".join(said)))
        for conflict in result.conflicts:
            text.append("\n⚠ also: ", style="yellow")
            text.append_text(literal(conflict.value))
            text.append(f" (page {conflict.page or '?'})", style="dim")
        text.append("\nEnter: sources and candidates · e: edit", style="dim")
        detail.update(text)

    # -- events and actions ----------------------------------------------------------------

    def on_virtual_table_row_highlighted(self, event: VirtualTable.RowHighlighted) -> None:
        entry = self.documents.row_at(event.index)
        if entry is not None and entry.doc_id != self.doc_id:
            self.doc_id = entry.doc_id
            self.show_document()

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def on_data_table_row_selected(self) -> None:
        self.action_open_value()

    def action_document(self, delta: int) -> None:
        docs = self.documents
        docs.move_cursor(docs.cursor_row + delta)

    def _path(self) -> str:
        return display_path(self._entry.path) if self._entry else ""

    def action_open_value(self) -> None:
        result, doc_id = self._current(), self.doc_id
        if result is None or doc_id is None:
            return
        labels = {s.chunk for s in result.sources} | {c.chunk for c in result.candidates}
        chunks = {label: item for label in labels
                  if (item := self.controller.chunk(doc_id, label)) is not None}

        def picked(candidate: Candidate | None) -> None:
            if candidate is not None:
                self._pick(doc_id, result, candidate)

        self.app.push_screen(SourceDialog(self._path(), result, chunks), picked)

    def _pick(self, doc_id: int, result: FieldResult, candidate: Candidate) -> None:
        spec = self.controller.fields.get(result.name)
        if spec is not None and spec.many:
            values = list(result.value) if isinstance(result.value, list) else []
            if candidate.value not in values:
                values.append(candidate.value)
            self.controller.edit(doc_id, result.name, values)
        else:
            self.controller.edit(doc_id, result.name, candidate.value)

    def action_edit_value(self) -> None:
        result, doc_id = self._current(), self.doc_id
        spec = self.controller.fields.get(result.name) if result is not None else None
        if result is None or doc_id is None or spec is None:
            return

        def typed(text: str | None) -> None:
            if text is not None:
                self.controller.edit(doc_id, result.name, text)

        self.app.push_screen(EditValueDialog(self._path(), spec, result), typed)


def _doc_cells(entry: DocumentSummary) -> tuple[Text, Text]:
    """``● path`` when every chunk is answered, ``○ path`` before, ``✗ path`` unread."""
    if entry.error is not None:
        return Text("✗", style="red"), literal(display_path(entry.path), "dim")
    done = entry.answered == entry.chunks and entry.chunks > 0
    return (Text("●", style="green") if done else Text("○", style="dim"),
            literal(display_path(entry.path)))
