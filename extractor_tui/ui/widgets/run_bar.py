"""The line above the live request table: which provider a run uses, and the start button.

The built-in offline provider must never pass for an LLM, so the bar says so in words
whenever it is the one in use. Pressing the button only posts ``RunRequested``; the app
shows the plan and asks before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static

from extractor_tui.ui.widgets.literal import literal

__all__ = ["RunBar", "RunRequested", "provider_line"]


@dataclass
class RunRequested(Message):
    """The user asked to start a run (the plan comes first)."""


def provider_line(provider: str, model: str, base_url: str | None,
                  endpoints: Sequence[str] = ()) -> Text:
    """Which provider and model a run would use, the offline one called what it is; with
    the config file's ``[[endpoints]]`` their names (the base URL is not used then)."""
    if provider == "offline":
        return Text.assemble(("Offline provider", "bold yellow"),
                             ": a built-in heuristic, not an LLM. For real extraction set an "
                             "API key or base URL in Settings.")
    where = (literal(f"{len(endpoints)} endpoints: {', '.join(endpoints)}") if endpoints
             else literal(base_url or "https://api.openai.com/v1"))
    return Text.assemble(("OpenAI-compatible", "bold"), " · ", where, " · model ",
                         literal(model, "bold"))


class RunBar(Horizontal):
    """The start button and the provider line."""

    DEFAULT_CSS = """
    RunBar { height: 3; padding: 0 1; }
    RunBar > Button { margin-right: 2; }
    RunBar > Static { width: 1fr; height: 3; content-align: left middle; }
    """

    def compose(self) -> ComposeResult:
        yield Button("Start run… (Ctrl+R)", id="start-run", variant="primary")
        yield Static("", id="provider")

    def show(self, provider: str, model: str, base_url: str | None, busy: bool,
             endpoints: Sequence[str] = ()) -> None:
        self.query_one("#provider", Static).update(
            provider_line(provider, model, base_url, endpoints))
        self.query_one("#start-run", Button).disabled = busy

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(RunRequested())
