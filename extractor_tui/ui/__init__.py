"""The Textual front end: ``app.py`` wires screens; screens coordinate; widgets render.

Everything here draws what the engine reports (through ``EventBuffer`` and the shared
``RequestTracker``) and sends the user's controls back through small protocols; none of it
calls an LLM, merges results or writes the session.
"""

from __future__ import annotations

from extractor_tui.ui.event_buffer import EventBuffer
from extractor_tui.ui.screens.run import (
    FILTERS,
    CancelRequested,
    FilterChosen,
    RunController,
    RunView,
)
from extractor_tui.ui.widgets.request_table import RequestSelected, RequestTable
from extractor_tui.ui.widgets.run_summary import OFFLINE_LABEL, CostFn, RunSummary

__all__ = [
    "FILTERS",
    "OFFLINE_LABEL",
    "CancelRequested",
    "CostFn",
    "EventBuffer",
    "FilterChosen",
    "RequestSelected",
    "RequestTable",
    "RunController",
    "RunSummary",
    "RunView",
]
