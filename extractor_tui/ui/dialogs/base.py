"""The frame every dialog shares: a centred box, a title, buttons, Escape to cancel.

Dialogs only ask: they return the answer through ``dismiss`` and never call the
controller, so the screen that opened one decides what the answer means.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

__all__ = ["Dialog"]

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal box; Escape dismisses it with None."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .dialog {
        width: 84; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    Dialog .title { text-style: bold; margin-bottom: 1; }
    Dialog .hint { color: $text-muted; }
    Dialog .error { color: $error; height: auto; }
    Dialog .buttons { height: auto; align-horizontal: right; margin-top: 1; }
    Dialog .buttons Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)
