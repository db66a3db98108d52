"""The plan before a run: what would be sent, how many tokens, what it may cost.

Nothing is spent until the user confirms; the same numbers as ``extractor run --dry-run``
come from ``Job.plan()``, so both front ends promise the same thing. With the verify stage
on, each stage has its own rows, priced with its own model, and a total.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from extractor_tui.core.job_plan import Plan
from extractor_tui.core.stage_plan import StagePlan
from extractor_tui.ui.dialogs.base import Dialog

__all__ = ["PlanDialog", "plan_table"]

OFFLINE = "offline (built-in heuristic provider, no LLM)"


def _cost(plan: Plan) -> str:
    if plan.provider == "offline":
        return "$0 (offline)"
    if plan.cost_usd is None:
        return f"unknown ({plan.model} is not in the price table)"
    if plan.batch_cost_usd is None:
        return f"≈ ${plan.cost_usd:.4f}"
    return f"≈ ${plan.cost_usd:.4f} live, ${plan.batch_cost_usd:.4f} through the Batch API"


def _order(plan: Plan) -> list[tuple[str, str]]:
    """What goes first, when documents or chunks are marked urgent."""
    if not plan.urgent:
        return []
    return [("Order", f"{plan.urgent:,} urgent chunk(s) first "
                      f"({', '.join(plan.urgent_documents)}), then "
                      f"{plan.to_send - plan.urgent:,} other(s)")]


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
        *_order(plan),
    ]
    for stage in plan.stages[1:]:
        rows += _stage_rows(plan, stage)
    if len(plan.stages) > 1 and plan.provider != "offline":
        total = plan.total_cost_usd
        rows.append(("Total cost", "unknown (a model is not in the price table)"
                     if total is None else f"≈ ${total:.4f}"))
    for label, value in rows:
        table.add_row(label, Text(value))
    return table


def _stage_rows(plan: Plan, stage: StagePlan) -> list[tuple[str, str]]:
    """A later stage's rows: its model, requests, tokens and cost."""
    name = stage.stage.capitalize()
    if plan.provider == "offline":
        cost = "$0 (offline)"
    elif stage.cost_usd is None:
        cost = f"unknown ({stage.model} is not in the price table)"
    else:
        cost = f"≈ ${stage.cost_usd:.4f}"
    guess = " (estimated: not extracted yet)" if stage.estimated else ""
    return [(f"{name} model", stage.model),
            (f"{name} requests", f"{stage.requests:,}; {stage.cached:,} answered from the "
                                 "session"),
            (f"{name} tokens", f"≈ {stage.prompt_tokens:,} prompt + "
                               f"{stage.completion_tokens:,} completion{guess}"),
            (f"{name} cost", cost)]


class PlanDialog(Dialog[str]):
    """Dismisses with ``"live"`` or ``"batch"`` (through the endpoint's Batch API: half the
    price, answers within 24 h) when the user starts the run, None when not."""

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
                if self._plan.provider != "offline" and self._plan.to_send:
                    yield Button("Through the Batch API", id="batch")
                total = sum(stage.requests for stage in self._plan.stages[1:])
                sent = self._plan.to_send + total
                yield Button(f"Send {sent} request(s)" if not total else
                             f"Send about {sent} request(s)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss({"yes": "live", "batch": "batch"}.get(event.button.id or ""))
