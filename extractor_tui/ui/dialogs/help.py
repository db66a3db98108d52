"""Help (F1 or ?): what each screen is for, and every key, gathered from the bindings.

The key lists are built from the live ``BINDINGS`` by the app, so the help can never
disagree with the Footer or the command palette.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from extractor_tui.ui.dialogs.base import Dialog

__all__ = ["HelpDialog", "HelpSection", "help_sections"]

HelpSection = tuple[str, str, Sequence[tuple[str, str]]]
"""(title, what the screen is for, [(key, what it does)])."""

_EXTRA_KEYS = (("1 … 7", "show that screen (also by clicking its tab)"),
               ("Ctrl+P", "command palette: every action, searchable"))


def help_sections(everywhere: Sequence[Binding],
                  screens: Sequence[tuple[str, str, Sequence[Binding]]],
                  keys: Callable[[Binding], str]) -> list[HelpSection]:
    """The app's own keys, then each screen's (title, purpose, bindings), ``keys`` naming a
    binding's keys as the Footer does."""
    sections: list[HelpSection] = [("Everywhere", "Keys that work on every screen.",
                                    [(keys(b), b.description) for b in everywhere]
                                    + list(_EXTRA_KEYS))]
    sections += [(title, purpose, [(keys(b), b.description) for b in bindings])
                 for title, purpose, bindings in screens]
    return sections

INTRO = (
    "Load documents, choose the fields, check the settings, then start a run (Ctrl+R): "
    "the plan shows chunks, tokens and the estimated cost before anything is sent. Watch "
    "each request on Run, review and retry failures on Failed, check and correct values on "
    "Results, and export with Ctrl+E. Everything is kept in the session file as it happens; "
    "reopen it from Sessions. Every command is also in the command palette (Ctrl+P), and "
    "everything can be clicked."
)


def _keys(section: HelpSection) -> Table:
    title, purpose, keys = section
    table = Table.grid(padding=(0, 2))
    table.add_column(width=14, style="bold")
    table.add_column()
    table.add_row(Text(title, style="bold underline"), Text(purpose, style="italic"))
    for key, description in keys:
        table.add_row(Text(key), Text(description))
    return table


class HelpDialog(Dialog[None]):
    """Dismisses with None (Escape, F1, ? or Close)."""

    DEFAULT_CSS = """
    HelpDialog > .dialog { width: 100; height: 90%; }
    HelpDialog VerticalScroll { height: 1fr; }
    HelpDialog VerticalScroll Static { margin-bottom: 1; }
    """
    BINDINGS = [("f1", "cancel", "Close"), ("question_mark", "cancel", "Close")]

    def __init__(self, sections: Sequence[HelpSection]) -> None:
        super().__init__()
        self._sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("extractor: help", classes="title")
            with VerticalScroll():
                yield Static(Text(INTRO))
                for section in self._sections:
                    yield Static(_keys(section))
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
