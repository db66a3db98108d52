"""Export (Ctrl+E, as in harlequin): pick a format and a file, get the answer back.

The format follows the file's extension, as in ``extractor run --output``: choosing a
format rewrites the extension, and typing one selects the format. The dialog checks what
it can before anything is written: a known extension and a folder that exists.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from extractor_tui.ui.dialogs.form import FormDialog

__all__ = ["FORMATS", "ExportDialog"]

FORMATS: tuple[tuple[str, str], ...] = (
    (".json", "JSON: every document, field, source and candidate"),
    (".csv", "CSV: one row per document, one column per field"),
    (".jsonl", "JSONL: the failed chunks with their errors"),
)


def export_problem(text: str) -> str | None:
    """Why ``text`` cannot be exported to, or None."""
    if not text.strip():
        return "Type a file name."
    path = Path(text).expanduser()
    if path.suffix.lower() not in {suffix for suffix, _ in FORMATS}:
        return "Use a .json, .csv or .jsonl file name."
    if path.is_dir():
        return f"{path} is a folder."
    if not path.parent.is_dir():
        return f"The folder {path.parent} does not exist."
    return None


class ExportDialog(FormDialog[Path]):
    """Dismisses with the file to write, or None."""

    def __init__(self, default: Path) -> None:
        super().__init__()
        self._default = default

    def compose(self) -> ComposeResult:
        suffix = self._default.suffix.lower()
        with Vertical(classes="dialog"):
            yield Static("Export results", classes="title")
            with RadioSet(id="format"):
                for ext, label in FORMATS:
                    yield RadioButton(label, value=ext == suffix, name=ext)
            yield Input(str(self._default), id="path", placeholder="results.json")
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button("Export", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        field = self.query_one("#path", Input)
        ext = event.pressed.name or ".json"
        current = Path(field.value or "results")
        if current.suffix.lower() != ext:
            field.value = str(current.with_suffix(ext))

    @on(Input.Changed, "#path")
    def _follow_suffix(self, event: Input.Changed) -> None:
        """Typing a .csv/.json/.jsonl name selects that format."""
        ext = Path(event.value).suffix.lower()
        for button in self.query(RadioButton):
            if button.name == ext and not button.value:
                button.value = True

    def _submit(self) -> None:
        text = self.query_one("#path", Input).value
        problem = export_problem(text)
        if problem is not None:
            self.show_problem(problem)
            return
        path = Path(text).expanduser()
        self.dismiss_replacing(path, path)
