"""A yes/no question: quitting mid-run, removing documents, marking chunks empty."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from extractor_tui.ui.dialogs.base import Dialog

__all__ = ["ConfirmDialog"]


class ConfirmDialog(Dialog[bool]):
    """Dismisses with True (yes), False (no) or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "answer(True)", "Yes", show=False),
                                             Binding("n", "answer(False)", "No", show=False)]

    def __init__(self, title: str, message: str | Text, *, yes: str = "Yes",
                 no: str = "No", danger: bool = False) -> None:
        super().__init__()
        self._title = title
        self._message = message if isinstance(message, Text) else Text(message)
        self._yes, self._no, self._danger = yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title), classes="title")
            yield Static(self._message)
            with Horizontal(classes="buttons"):
                yield Button(self._no, id="no")
                yield Button(self._yes, id="yes",
                             variant="error" if self._danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
