"""The dialog with inputs: a problem line, Cancel and OK, and asking before a file is replaced.

Apart from ``base.py`` because it opens a ``ConfirmDialog`` (itself a ``Dialog``): in one
module with ``Dialog`` the two imported each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from rich.text import Text
from textual.widgets import Button, Static

from extractor_tui.ui.dialogs.base import Dialog
from extractor_tui.ui.dialogs.confirm import ConfirmDialog

__all__ = ["FormDialog"]

ResultT = TypeVar("ResultT")


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
        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(answer)

        self.app.push_screen(ConfirmDialog(
            "Replace the file?", Text.assemble((str(path), "bold"), " exists. Replace it?"),
            yes="Replace", danger=True), answered)
