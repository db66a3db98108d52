"""The plan before a run: what would be sent, how many tokens, what it may cost.

Nothing is spent until the user confirms; the same numbers as ``extractor run --dry-run``
come from ``Job.plan()``, so both front ends promise the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from extractor_tui.core.job import Plan
from extractor_tui.ui.dialogs.base import Dialog

__all__ = ["PlanDialog", "plan_table"]

OFFLINE = "offline (built-in heuristic provider, no LLM)"


def _cost(plan: Plan) -> str:
    if plan.provider == "offline":
        return "$0 (offline)"
    if plan.cost_usd is None:
        return f"unknown ({plan.model} is not in the price table)"
    return f"≈ ${plan.cost_usd:.4f}"


def plan_table(plan: Plan) -> Table:
    """The plan as label/value rows; every value is literal text."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    failed = f" ({plan.failed_documents} unreadable, skipped)" if plan.failed_documents else ""
    rows = [
        ("Provider", OFFLINE if plan.provider == "offline" else plan.provider),
        ("Model", plan.model),
        ("Documents", f"{plan.documents}{failed}"),
        ("Pages", f"{plan.pages:,}"),
        ("Chunks", f"{plan.chunks:,} ({plan.chunk_tokens:,} tokens)"),
        ("To send", f"{plan.to_send:,} request(s); {plan.cached:,} answered from the session"),
        ("Tokens", f"≈ {plan.prompt_tokens:,} prompt + {plan.completion_tokens:,} completion"),
        ("Estimated cost", _cost(plan)),
        ("Tokenizer", plan.tokenizer),
    ]
    for label, value in rows:
        table.add_row(label, Text(value))
    return table


class PlanDialog(Dialog[bool]):
    """Dismisses with True when the user starts the run."""

    def __init__(self, plan: Plan, differences: Sequence[str] = ()) -> None:
        super().__init__()
        self._plan = plan
        self._differences = tuple(differences)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Start the run?", classes="title")
            yield Static(plan_table(self._plan))
            if self._differences:
                lines = Text("Not as the session was made:", style="bold yellow")
                for line in self._differences:
                    lines.append("\n• ")
                    lines.append(line)
                yield Static(lines, id="differences")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="no")
                yield Button(f"Send {self._plan.to_send} request(s)", id="yes",
                             variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
