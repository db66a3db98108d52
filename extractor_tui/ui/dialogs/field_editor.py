"""Add or edit one field: name, type, list or not, required, description, allowed values.

Validation is the core's own: the dialog builds a ``FieldSpec`` and shows its
``FieldSpecError`` (the same one-line message the CLI prints), plus the one check a single
spec cannot make, a name another field already has.
"""

from __future__ import annotations

from collections.abc import Collection

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from extractor_tui.core.fields import FieldSpec, FieldType
from extractor_tui.errors import FieldSpecError
from extractor_tui.ui.dialogs.form import FormDialog

__all__ = ["FieldEditorDialog", "build_spec"]


def build_spec(name: str, kind: FieldType, many: bool, required: bool, description: str,
               enum: str, taken: Collection[str]) -> FieldSpec:
    """A spec from the form's values; raises ``FieldSpecError`` with one line."""
    name = name.strip()
    if name in taken:
        raise FieldSpecError(f"a field named {name!r} already exists")
    values = tuple(v.strip() for v in enum.split(",") if v.strip()) or None
    return FieldSpec(name, kind, many, description.strip(), required, values)


class FieldEditorDialog(FormDialog[FieldSpec]):
    """Dismisses with the new spec, or None."""

    DEFAULT_CSS = """
    FieldEditorDialog Label { margin-top: 1; }
    FieldEditorDialog .row { height: auto; }
    FieldEditorDialog Checkbox { margin-right: 2; }
    """

    def __init__(self, spec: FieldSpec | None, taken: Collection[str]) -> None:
        super().__init__()
        self._spec = spec
        self._taken = [name for name in taken if spec is None or name != spec.name]

    def compose(self) -> ComposeResult:
        spec = self._spec or FieldSpec("field")
        with Vertical(classes="dialog"):
            yield Static("Edit field" if self._spec else "Add a field", classes="title")
            yield Label("Name (letters, digits and _)")
            yield Input(self._spec.name if self._spec else "", id="name",
                        placeholder="invoice_number")
            yield Label("Type")
            yield Select([(t.value, t) for t in FieldType], value=spec.type, id="type",
                         allow_blank=False)
            with Horizontal(classes="row"):
                yield Checkbox("A list of values", spec.many, id="many")
                yield Checkbox("Required", spec.required, id="required")
            yield Label("Description (what the model is told to look for)")
            yield Input(spec.description, id="description")
            yield Label("Allowed values (text fields; comma separated; optional)")
            yield Input(", ".join(spec.enum or ()), id="enum")
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button("Save", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _submit(self) -> None:
        kind = self.query_one("#type", Select).value
        try:
            spec = build_spec(self.query_one("#name", Input).value,
                              kind if isinstance(kind, FieldType) else FieldType.STRING,
                              self.query_one("#many", Checkbox).value,
                              self.query_one("#required", Checkbox).value,
                              self.query_one("#description", Input).value,
                              self.query_one("#enum", Input).value, self._taken)
        except FieldSpecError as exc:
            self.show_problem(str(exc))
            return
        self.dismiss(spec)
