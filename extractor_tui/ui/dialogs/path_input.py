"""A typed path: documents to add, a schema to load or to save.

The dialog checks the path before answering (exists, is a file, has the right extension),
so the screen that asked gets something it can use or nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from extractor_tui.ui.dialogs.form import FormDialog

__all__ = ["PathDialog"]


class PathDialog(FormDialog[Path]):
    """Dismisses with a checked path, or None."""

    def __init__(self, title: str, *, value: str = "", hint: str = "",
                 must_exist: bool = True, file_only: bool = False,
                 suffixes: tuple[str, ...] = (), check: Callable[[Path], str | None] | None
                 = None, ask_to_replace: bool = False) -> None:
        """``check`` reads the chosen file and says what is wrong with it (the dialog then
        stays open with that message); ``ask_to_replace`` asks before an existing file is
        chosen to be written over."""
        super().__init__()
        self._title, self._value, self._hint = title, value, hint
        self._must_exist, self._file_only, self._suffixes = must_exist, file_only, suffixes
        self._check, self._ask_to_replace = check, ask_to_replace

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="title")
            yield Input(self._value, id="path", placeholder="a path; ~ is your home folder")
            if self._hint:
                yield Static(self._hint, classes="hint")
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button("OK", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def problem(self, text: str) -> str | None:
        """Why ``text`` will not do, or None."""
        if not text.strip():
            return "Type a path."
        path = Path(text.strip()).expanduser()
        if self._suffixes and path.suffix.lower() not in self._suffixes:
            return f"Use a {' or '.join(self._suffixes)} file."
        if self._must_exist and not path.exists():
            return f"{path} does not exist."
        if self._file_only and path.is_dir():
            return f"{path} is a folder; give a file."
        if not self._must_exist and not path.parent.is_dir():
            return f"The folder {path.parent} does not exist."
        return None

    def _submit(self) -> None:
        text = self.query_one("#path", Input).value
        problem = self.problem(text)
        if problem is not None:
            self.show_problem(problem)
            return
        path = Path(text.strip()).expanduser()
        problem = self._check(path) if self._check is not None else None
        if problem is not None:
            self.show_problem(problem)
        elif self._ask_to_replace:
            self.dismiss_replacing(path, path)
        else:
            self.dismiss(path)
