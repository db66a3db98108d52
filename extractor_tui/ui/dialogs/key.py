"""The API key, asked for when a session that was made with an HTTP provider is reopened
and no key is in the environment: sessions never store one.

An empty answer is an answer too (a local server such as Ollama needs no key); Escape
leaves the settings as they are.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from extractor_tui.ui.dialogs.form import FormDialog

__all__ = ["KeyDialog"]


class KeyDialog(FormDialog[str]):
    """Dismisses with the key typed ("" for none), or None."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self._where = where

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("API key", classes="title")
            yield Static(Text.assemble("This session was made with ", (self._where, "bold"),
                                       ". Sessions never keep the key: type it, or leave it "
                                       "empty if the server needs none. "
                                       "$OPENAI_API_KEY saves asking."))
            yield Input(id="key", password=True, placeholder="sk-…")
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button("Use it", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#key", Input).focus()

    def _submit(self) -> None:
        self.dismiss(self.query_one("#key", Input).value.strip())
