"""Edit one field's value by hand.

The answer is the text the user typed; the Job stores it as an edit (who and when) and the
merge step's ``apply_edit`` reads it with the field's type, so the dialog's preview uses the
same ``coerce`` to say how the text will read before it is saved. An invalid value is kept
and flagged, never refused: the reviewer may know better than the parser.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from extractor_tui.core.fields import FieldSpec, FieldType, coerce
from extractor_tui.core.model import FieldResult
from extractor_tui.ui.dialogs.base import Dialog
from extractor_tui.ui.widgets.literal import literal, value_text

__all__ = ["EditValueDialog", "preview"]

_TYPE_HINTS = {FieldType.STRING: "text", FieldType.NUMBER: "a number",
               FieldType.INTEGER: "a whole number", FieldType.BOOLEAN: "yes or no",
               FieldType.DATE: "a date (stored as YYYY-MM-DD)"}


def preview(spec: FieldSpec, text: str) -> Text:
    """How ``text`` will read as the field's type, or why it will be flagged."""
    if not text.strip():
        return Text("No value" + (" (the field is required)" if spec.required else "."),
                    style="bold red" if spec.required else "")
    raw: object = [p.strip() for p in text.split(";") if p.strip()] if spec.many else text
    try:
        value = coerce(spec, raw)
    except ValueError as exc:
        return Text.assemble(("Will be kept but flagged invalid: ", "bold red"), literal(exc))
    return Text.assemble(("Reads as: ", "bold green"), literal(value_text(value)))


class EditValueDialog(Dialog[str]):
    """Dismisses with the new text ("" clears the value), or None."""

    def __init__(self, document: str, spec: FieldSpec, result: FieldResult) -> None:
        super().__init__()
        self._document, self._spec, self._result = document, spec, result

    def compose(self) -> ComposeResult:
        spec, result = self._spec, self._result
        kind = _TYPE_HINTS[spec.type] + ("; a list: separate items with ;" if spec.many else "")
        current = "" if result.value in (None, []) else value_text(result.value)
        with Vertical(classes="dialog"):
            yield Static(Text.assemble("Edit ", (spec.name, "bold"), " in ",
                                       literal(self._document)), classes="title")
            yield Static(Text(f"Type: {kind}"), classes="hint")
            if spec.description:
                yield Static(literal(spec.description), classes="hint")
            if result.errors:
                yield Static(Text.assemble(("Now: ", "bold"),
                                           literal("; ".join(result.errors))), classes="error")
            yield Input(current, id="value", placeholder="empty = no value")
            yield Static(preview(spec, current), id="preview")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button("Clear", id="clear")
                yield Button("Save", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#preview", Static).update(preview(self._spec, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.dismiss(self.query_one("#value", Input).value)
        elif event.button.id == "clear":
            self.dismiss("")
        else:
            self.dismiss(None)
