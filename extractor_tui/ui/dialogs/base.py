"""The frame every dialog shares: a centred box, a title, buttons, Escape to cancel.

Dialogs only ask: they return the answer through ``dismiss`` and never call the
controller, so the screen that opened one decides what the answer means.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["Dialog", "FormDialog"]

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


class FormDialog(Dialog[ResultT]):
    """A dialog with inputs, a ``#problem`` line and Cancel (``#no``) / OK (``#yes``) buttons.

    Enter in any input or the OK button calls ``_submit``; editing clears the problem line.
    Subclasses write ``_submit`` only, and call ``show_problem`` when the answer is refused.
    """

    def on_input_changed(self) -> None:
        self.query_one("#problem", Static).update("")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._submit()
        elif event.button.id == "no":
            self.dismiss(None)

    def show_problem(self, problem: str) -> None:
        """Say why the answer cannot be taken, literally (it may quote the user's text)."""
        self.query_one("#problem", Static).update(Text(problem))

    def _submit(self) -> None:
        raise NotImplementedError

    def dismiss_replacing(self, path: Path, answer: ResultT) -> None:
        """Dismiss with ``answer``; when ``path`` exists, only after the user agrees to
        replace it (no: the dialog stays, to choose another name)."""
        if not path.exists():
            self.dismiss(answer)
            return
        from extractor_tui.ui.dialogs.confirm import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(answer)

        self.app.push_screen(ConfirmDialog(
            "Replace the file?", Text.assemble((str(path), "bold"), " exists. Replace it?"),
            yes="Replace", danger=True), answered)
