"""Fields: what to extract. A table of name, type, required and description; add, edit and
remove fields, pick a preset, load or save a JSON Schema.

Every change becomes a new ``FieldSet`` handed to the controller, which builds a new Job
with it (fields are part of every request key, so answers for other fields are never
reused). Validation is the core's: ``FieldSpec``/``FieldSet`` and ``load_schema`` raise
``FieldSpecError`` with a one-line message, shown as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Select, Static

from extractor_tui.core.fields import PRESETS, FieldSet, FieldSpec, load_schema
from extractor_tui.errors import FieldSpecError
from extractor_tui.ui.controller import Controller
from extractor_tui.ui.dialogs.confirm import ConfirmDialog
from extractor_tui.ui.dialogs.field_editor import FieldEditorDialog
from extractor_tui.ui.dialogs.path_input import PathDialog
from extractor_tui.ui.widgets.literal import literal
from extractor_tui.ui.widgets.row_table import RowTable

__all__ = ["FieldsView", "type_label"]


def type_label(spec: FieldSpec) -> str:
    """``date``, ``string[]`` (a list), ``string (a | b)`` (allowed values)."""
    label = spec.type.value + ("[]" if spec.many else "")
    return f"{label} ({' | '.join(spec.enum)})" if spec.enum else label


class FieldsView(Vertical):
    """The field table, its buttons and the preset picker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add_field", "Add field"),
        Binding("e", "edit_field", "Edit field"),
        Binding("delete,x", "remove_field", "Remove field"),
        Binding("l", "load_schema", "Load schema…"),
        Binding("s", "save_schema", "Save schema…"),
    ]
    DEFAULT_CSS = """
    FieldsView #fields-bar { height: 3; }
    FieldsView #fields-bar Label { height: 3; content-align: left middle; padding: 0 1; }
    FieldsView #fields-bar Select { width: 24; }
    FieldsView #fields-bar Button { margin-left: 1; min-width: 8; }
    FieldsView #fields { height: 1fr; }
    FieldsView #fields-note { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, controller: Controller, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.controller = controller

    def compose(self) -> ComposeResult:
        with Horizontal(id="fields-bar"):
            yield Label("Preset")
            yield Select([(name, name) for name in PRESETS], prompt="choose…", id="preset")
            yield Button("Add", id="add")
            yield Button("Edit", id="edit")
            yield Button("Remove", id="remove")
            yield Button("Load schema…", id="load")
            yield Button("Save schema…", id="save")
        yield RowTable(id="fields")
        yield Static("", id="fields-note")

    def on_mount(self) -> None:
        table = self.query_one("#fields", DataTable)
        for title in ("Name", "Type", "Required", "Description"):
            table.add_column(title, key=title.lower())
        self.reload()

    @property
    def fields(self) -> FieldSet:
        return self.controller.fields

    def reload(self) -> None:
        table = self.query_one("#fields", DataTable)
        row = table.cursor_row
        table.clear()
        for spec in self.fields:
            table.add_row(literal(spec.name, "bold"), Text(type_label(spec)),
                          Text("required" if spec.required else "–"),
                          literal(spec.description), key=spec.name)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        name = self.fields.name
        select = self.query_one("#preset", Select)
        with select.prevent(Select.Changed):
            select.value = name if PRESETS.get(name) == self.fields else Select.NULL
        self.query_one("#fields-note", Static).update(Text(
            f"{len(self.fields)} field(s) in “{name}”. Changes apply to the next run; "
            "documents already loaded are chunked again for them."))

    def _use(self, fields: FieldSet) -> None:
        self.controller.apply(fields=fields)

    def _current(self) -> FieldSpec | None:
        table = self.query_one("#fields", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.fields.get(key or "")

    def _replace(self, old: FieldSpec | None, new: FieldSpec | None) -> None:
        specs = list(self.fields)
        if old is None and new is not None:
            specs.append(new)
        elif new is None and old is not None:
            specs.remove(old)
        elif old is not None and new is not None:
            specs[specs.index(old)] = new
        if not specs:
            self.app.notify("Keep at least one field.", severity="warning")
            return
        try:
            fields = FieldSet(tuple(specs), self.fields.name)
        except FieldSpecError as exc:
            self.app.notify(str(exc), severity="error", markup=False)
            return
        self._use(fields)

    # -- actions -----------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        if not (isinstance(event.value, str) and event.value in PRESETS):
            return
        chosen = PRESETS[event.value]
        # Back to the table: the list has closed, so the next key is for this screen.
        self.query_one("#fields", DataTable).focus()
        if chosen == self.fields:
            return
        if self.fields in PRESETS.values():  # one preset for another: nothing is lost
            self._use(chosen)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._use(chosen)
            else:
                self.reload()  # the list shows the fields in use again

        self.app.push_screen(ConfirmDialog(
            "Replace the fields?", Text.assemble(
                "The fields in use (", literal(self.fields.name, "bold"),
                f", {len(self.fields)} field(s)) were edited or loaded from a schema. "
                "Replace them with the preset ", (event.value, "bold"), "? Save them as a "
                "schema first (s) to keep them."), yes="Replace", danger=True), answered)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"add": self.action_add_field, "edit": self.action_edit_field,
                   "remove": self.action_remove_field, "load": self.action_load_schema,
                   "save": self.action_save_schema}
        if event.button.id in actions:
            actions[event.button.id]()

    def on_data_table_row_selected(self) -> None:
        self.action_edit_field()

    def action_add_field(self) -> None:
        self.app.push_screen(FieldEditorDialog(None, self.fields.names),
                             lambda spec: self._replace(None, spec) if spec else None)

    def action_edit_field(self) -> None:
        old = self._current()
        if old is not None:
            self.app.push_screen(FieldEditorDialog(old, self.fields.names),
                                 lambda spec: self._replace(old, spec) if spec else None)

    def action_remove_field(self) -> None:
        old = self._current()
        if old is None:
            return
        self.app.push_screen(
            ConfirmDialog("Remove field?", Text.assemble("Remove ", literal(old.name, "bold"),
                                                         " from the fields?"),
                          yes="Remove", danger=True),
            lambda yes: self._replace(old, None) if yes else None)

    def action_load_schema(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                fields = load_schema(path)
            except FieldSpecError as exc:
                self.app.notify(str(exc), title="Schema not loaded", severity="error",
                                markup=False)
                return
            self._use(fields)

        def check(path: Path) -> str | None:
            try:
                load_schema(path)
            except FieldSpecError as exc:
                return str(exc)
            return None

        self.app.push_screen(PathDialog("Load a JSON Schema", file_only=True,
                                        suffixes=(".json",), check=check), chosen)

    def action_save_schema(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is None:
                return
            text = json.dumps(self.fields.to_json_schema(), indent=2, ensure_ascii=False)
            try:
                path.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                self.app.notify(f"{path}: {exc.strerror or exc}", title="Schema not saved",
                                severity="error", markup=False)
                return
            self.app.notify(f"Saved {len(self.fields)} field(s) to {path}.", markup=False)

        default = f"{self.fields.name}.schema.json"
        self.app.push_screen(PathDialog("Save the fields as a JSON Schema", value=default,
                                        must_exist=False, suffixes=(".json",),
                                        ask_to_replace=True), chosen)
