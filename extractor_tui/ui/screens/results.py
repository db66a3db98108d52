"""Results: per document, each field's value, whether it is valid (with the error when it
is not), whether it is grounded, the verify stage's verdict, its source page and quote,
and whether it was edited.

Opening a value (Enter, or a click on a highlighted row) shows the chunk text with the
quote highlighted and every candidate; picking a candidate, or typing a value (e), is
stored as the user's edit through the controller. Every value is drawn as literal
``Text``: ``[/bold]`` in a document is shown, never applied.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from extractor_tui.core.job import DocumentEntry
from extractor_tui.core.model import Candidate, FieldResult
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.edit_value import EditValueDialog
from extractor_tui.ui.dialogs.source import SourceDialog
from extractor_tui.ui.widgets.literal import NO_VALUE, display_path, literal, value_text
from extractor_tui.ui.widgets.row_table import RowTable

__all__ = ["COLUMNS", "ResultsView", "result_cells"]

COLUMNS = ("Field", "Value", "Valid", "Grounded", "Verified", "Page", "Quote", "Notes")
VERDICTS = {"confirmed": ("✓ confirmed", "green"), "corrected": ("↻ corrected", "bold cyan"),
            "not_found": ("∅ not found", "yellow")}
"""How the verify stage's verdict reads in the Verified column (unverified: a dash)."""
_QUOTE_WIDTH = 48
_VALUE_WIDTH = 40
_LABEL_WIDTH = 38


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
    ResultsView #result-docs { width: 44; height: 1fr; }
    ResultsView #result-title { height: auto; padding: 0 1; background: $boost; }
    ResultsView #results { height: 1fr; }
    ResultsView #result-detail { height: auto; max-height: 8; padding: 0 1;
                                 border-top: solid $panel; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller
        self.doc_id: int | None = None
        self._docs: list[DocumentEntry] = []
        self._results: dict[str, FieldResult] = {}
        self._answered: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        yield OptionList(id="result-docs")
        with Vertical():
            yield Static("", id="result-title")
            yield RowTable(id="results")
            yield Static("", id="result-detail")

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(0.5, self._follow_run, name="results-follow-run")

    def _follow_run(self) -> None:
        """While a run writes answers, keep the answered counts moving (values merge when
        it ends; the counts come from the session in one query)."""
        if not self.controller.running or self.controller.closed:
            return
        self._answered = self.controller.answered()
        docs = self.query_one("#result-docs", OptionList)
        for index, entry in enumerate(self._docs):
            docs.replace_option_prompt_at_index(index, self._doc_label(entry))
        self._title()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#results", DataTable)

    def reload(self) -> None:
        self._docs = self.controller.documents()
        self._answered = self.controller.answered()
        docs = self.query_one("#result-docs", OptionList)
        docs.clear_options()
        docs.add_options([Option(self._doc_label(d), id=str(d.doc_id)) for d in self._docs])
        ids = [d.doc_id for d in self._docs]
        if self.doc_id not in ids:
            self.doc_id = ids[0] if ids else None
        if self.doc_id is not None:
            docs.highlighted = ids.index(self.doc_id)
        self.show_document()

    def _doc_label(self, entry: DocumentEntry) -> Text:
        path = display_path(entry.path)
        if len(path) > _LABEL_WIDTH:  # the end of a path names the file: keep that
            path = "…" + path[-(_LABEL_WIDTH - 1):]
        if entry.error is not None:
            label = Text.assemble(("✗ ", "red"), literal(path, "dim"))
        else:
            done = self._answered.get(entry.doc_id, 0)
            mark = ("● ", "green") if done == len(entry.items) and done else ("○ ", "dim")
            label = Text.assemble(mark, literal(path))
        label.no_wrap = True
        return label

    def show_document(self) -> None:
        """Redraw the fields of ``doc_id``, keeping the cursor on the same field."""
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)  # columns fit this document's values, not the widest seen
        for column in COLUMNS:
            table.add_column(column, key=column)
        entry = next((d for d in self._docs if d.doc_id == self.doc_id), None)
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
        entry = next((d for d in self._docs if d.doc_id == self.doc_id), None)
        title = self.query_one("#result-title", Static)
        if entry is None:
            title.update(Text("No documents yet: add some on the Documents screen."))
        elif entry.error is not None:
            title.update(Text.assemble(literal(display_path(entry.path), "bold"),
                                       ": could not be read: ", literal(entry.error, "red")))
        else:
            done = self._answered.get(entry.doc_id, 0)
            title.update(Text.assemble(literal(display_path(entry.path), "bold"),
                                       f" · {done}/{len(entry.items)} chunk(s) answered"))

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

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and int(event.option.id) != self.doc_id:
            self.doc_id = int(event.option.id)
            self.show_document()

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def on_data_table_row_selected(self) -> None:
        self.action_open_value()

    def action_document(self, delta: int) -> None:
        docs = self.query_one("#result-docs", OptionList)
        if docs.option_count:
            docs.highlighted = max(0, min((docs.highlighted or 0) + delta,
                                          docs.option_count - 1))

    def _path(self) -> str:
        entry = next((d for d in self._docs if d.doc_id == self.doc_id), None)
        return display_path(entry.path) if entry else ""

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
