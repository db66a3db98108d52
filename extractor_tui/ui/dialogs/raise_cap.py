"""The run reached its cost cap (``max_cost_usd``): raise it and go on, or stop there.

The app's run pauses at the cap instead of ending (``Job.pause_at_cap``), so nothing in
flight is lost while the user decides. The new cap must be above the old one; Stop ends the
run as ``extractor run`` does at the cap, with what was not sent left in the session's queue
for the next run.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from extractor_tui.ui.dialogs.form import FormDialog

__all__ = ["RaiseCapDialog"]


class RaiseCapDialog(FormDialog[float]):
    """Dismisses with the new cap in USD, or None to stop the run."""

    AUTO_FOCUS = "#cap"  # focused as the screen is shown (a query in on_mount could miss it)

    def __init__(self, spent: float, limit: float) -> None:
        super().__init__()
        self._spent, self._limit = spent, limit

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Cost cap reached", classes="title")
            yield Static(Text(
                f"${self._spent:.4f} of the ${self._limit:.4f} cap is spent, and the next "
                "request could pass it. The run is paused. Raise the cap to go on, or stop: "
                "what was not sent stays in the session for the next run."))
            yield Input(str(round(self._limit * 2, 4)), id="cap", placeholder="USD")
            yield Static("", id="problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Stop the run", id="no")
                yield Button("Raise the cap", id="yes", variant="primary")

    def _submit(self) -> None:
        text = self.query_one("#cap", Input).value.strip().removeprefix("$")
        try:
            cap = float(text)
        except ValueError:
            self.show_problem(f"{text!r} is not an amount in USD")
            return
        if not cap > self._limit or cap != cap or cap == float("inf"):
            self.show_problem(f"The new cap must be above ${self._limit:.4f}")
            return
        self.dismiss(cap)
