"""RunView: watch a run live and steer it (pause, cancel, concurrency, status filter).

A container, not a ``Screen``, so the app can place it in a tab next to the review view.
It owns the flush timer: every ``interval`` seconds it drains the ``EventBuffer`` into the
tracker, hands the changed row ids to the table and the summary to ``RunSummary``, once.
Nothing here is redrawn per event, and nothing here talks to the LLM or the session: the
controls go to a ``RunController`` (the job coordinator in the app, a fake in the tests and
the bench), and cancelling only posts ``CancelRequested``, because asking the user to
confirm is the app's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from extractor_tui.core.batch_store import StoredBatch
from extractor_tui.core.model import ChunkStatus
from extractor_tui.ui.event_buffer import EventBuffer
from extractor_tui.ui.widgets.batch_table import BatchTable
from extractor_tui.ui.widgets.request_table import RequestTable
from extractor_tui.ui.widgets.run_summary import CostFn, RunSummary

__all__ = ["FILTERS", "CancelRequested", "FilterChosen", "RunController", "RunView"]

MIN_CONCURRENCY = 1

FILTERS: dict[str, frozenset[ChunkStatus] | None] = {
    "all": None,
    "pending": frozenset({ChunkStatus.PENDING}),
    "in progress": frozenset({ChunkStatus.IN_PROGRESS}),
    "retrying": frozenset({ChunkStatus.RETRYING}),
    "completed": frozenset({ChunkStatus.COMPLETED}),
    "failed": frozenset({ChunkStatus.FAILED}),
    "cancelled": frozenset({ChunkStatus.CANCELLED}),
}
"""The status filters offered, in the order ``f`` cycles through them."""


class RunController(Protocol):
    """What the view may ask of a run; ``Engine`` plus a clock, as the job coordinator has."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...

    def set_concurrency(self, n: int, /) -> None: ...

    @property
    def concurrency(self) -> int:
        """The ceiling: the in-flight maximum the user chose."""
        ...

    @property
    def concurrency_cap(self) -> int:
        """The highest ceiling there may be: 100 per endpoint."""
        ...

    @property
    def limit(self) -> int:
        """The current limit under the ceiling (lowered by 429s, grown back by successes)."""
        ...

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered, as the gate counts them."""
        ...

    def now(self) -> float:
        """The engine's clock, against which retry times and cool-downs are counted."""
        ...


@dataclass(eq=False)
class CancelRequested(Message):
    """The user asked to cancel the run; the app confirms, then calls ``cancel()``."""

    view: RunView

    @property
    def control(self) -> RunView:
        return self.view


@dataclass(eq=False)
class FilterChosen(Message):
    """A filter chip was clicked."""

    key: str


class _Chip(Static):
    """One clickable filter name; not focusable, so arrow keys stay with the table."""

    def __init__(self, key: str) -> None:
        super().__init__(Content(f" {key} "), classes="chip")
        self.key = key

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(FilterChosen(self.key))


class RunView(Vertical):
    """Summary, filter chips and the request table of one run, with its key bindings."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", tooltip="Send no new requests; calls in flight finish"),
        Binding("p", "resume", "Resume", tooltip="Start sending requests again"),
        Binding("c", "cancel_run", "Cancel run",
                tooltip="Stop the run; finished requests are kept"),
        Binding("plus", "concurrency(1)", "Concurrency +1", key_display="+",
                tooltip="Allow one more request in flight (up to 100)"),
        Binding("minus", "concurrency(-1)", "Concurrency −1", key_display="-",
                tooltip="Allow one request fewer in flight (at least 1)"),
        Binding("f", "cycle_filter", "Filter", tooltip="Show the next status only"),
    ]

    DEFAULT_CSS = """
    RunView {
        height: 1fr;
        & > #filters { height: 1; padding: 0 1; }
        & > #tables { height: 1fr; }
        & > #tables > RequestTable { width: 1fr; }
        & .chip-label, & .chip { width: auto; color: $text-muted; }
        & .chip:hover { color: $foreground; background: $boost; }
        & .chip.-active { color: $foreground; background: $primary-muted; text-style: bold; }
    }
    """

    def __init__(self, buffer: EventBuffer, controller: RunController, *,
                 cost: CostFn | None = None, interval: float = 0.1,
                 batches: Callable[[], Sequence[StoredBatch]] | None = None,
                 max_events: int | None = 5_000, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = buffer
        self.max_events = max_events
        """At most this many events per flush (None: all); the rest wait for the next tick."""
        self.controller = controller
        self._cost = cost
        self._batches = batches  # the session's Batch API batches, listed beside the table
        self._interval = interval
        self._filter = "all"
        self._paused = False
        self._seen_paused = False  # the tracker's last word on pausing (events can lag keys)
        self._seen_finished = True  # no run yet: nothing to pause or cancel

    @property
    def table(self) -> RequestTable:
        return self.query_one(RequestTable)

    @property
    def summary(self) -> RunSummary:
        return self.query_one(RunSummary)

    @property
    def status_filter(self) -> str:
        return self._filter

    def compose(self) -> ComposeResult:
        yield RunSummary(self._cost)
        with Horizontal(id="filters"):
            yield Static(Content("show "), classes="chip-label")
            for key in FILTERS:
                yield _Chip(key)
        with Horizontal(id="tables"):
            yield RequestTable(self.buffer.tracker, self.controller.now)
            if self._batches is not None:
                yield BatchTable(self._batches)

    def on_mount(self) -> None:
        self._mark_filter()
        self.flush()
        self.set_interval(self._interval, self.flush, name="run-view-flush")
        if self._batches is not None:  # a batch changes over minutes: once a second is plenty
            self.set_interval(1.0, self.query_one(BatchTable).refresh_batches,
                              name="run-view-batches")

    # -- the timer -------------------------------------------------------------------------

    def flush(self) -> None:
        """Apply the buffered events; update changed rows, then the summary, once each."""
        changed = self.buffer.drain(self.max_events)
        tracker = self.buffer.tracker
        self.table.update_rows(changed)
        now = self.controller.now()
        # The gate's own figures: the tracker counts a request in progress until its answer
        # is parsed, which lags the gate when many answers arrive at once (38 "in flight"
        # under a limit of 20 was seen).
        control = self.controller
        self.summary.show(replace(tracker.summary(now), in_flight=control.in_flight,
                                  limit=control.limit, maximum=control.concurrency), now)
        finished = tracker.started_at is None or tracker.finished_at is not None
        if tracker.paused != self._seen_paused or finished != self._seen_finished:
            self._seen_paused = self._paused = tracker.paused
            self._seen_finished = finished
            self.refresh_bindings()

    # -- controls --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("pause", "resume", "cancel_run") and self._seen_finished:
            return False  # no run going: the footer stops offering them
        if action == "concurrency" and self._seen_finished:
            return None  # shown greyed out: it steers a run
        if action == "pause":
            return not self._paused
        if action == "resume":
            return self._paused
        return True

    def action_pause(self) -> None:
        self._paused = True
        self.controller.pause()
        self.refresh_bindings()

    def action_resume(self) -> None:
        self._paused = False
        self.controller.resume()
        self.refresh_bindings()

    def action_cancel_run(self) -> None:
        self.post_message(CancelRequested(self))

    def action_concurrency(self, delta: int) -> None:
        wanted = self.controller.concurrency + delta
        self.controller.set_concurrency(
            max(MIN_CONCURRENCY, min(self.controller.concurrency_cap, wanted)))

    def action_cycle_filter(self) -> None:
        keys = list(FILTERS)
        self.set_status_filter(keys[(keys.index(self._filter) + 1) % len(keys)])

    def set_status_filter(self, key: str) -> None:
        """Show only the rows of filter ``key`` (one of ``FILTERS``)."""
        self.table.set_filter(FILTERS[key])
        self._filter = key
        self._mark_filter()

    def _mark_filter(self) -> None:
        for chip in self.query(_Chip):
            chip.set_class(chip.key == self._filter, "-active")

    @on(FilterChosen)
    def _filter_chosen(self, message: FilterChosen) -> None:
        message.stop()
        self.set_status_filter(message.key)

    def system_commands(self) -> Iterator[SystemCommand]:
        """The run's actions for the app's command palette (``App.get_system_commands``)."""
        if not self._seen_finished:
            if self._paused:
                yield SystemCommand("Resume run", "Start sending requests again",
                                    self.action_resume)
            else:
                yield SystemCommand("Pause run", "Send no new requests; calls in flight finish",
                                    self.action_pause)
            yield SystemCommand("Cancel run", "Stop the run; finished requests are kept",
                                self.action_cancel_run)
            yield SystemCommand("Raise concurrency", "Allow one more request in flight",
                                lambda: self.action_concurrency(1))
            yield SystemCommand("Lower concurrency", "Allow one request fewer in flight",
                                lambda: self.action_concurrency(-1))
        for key in FILTERS:
            yield SystemCommand(f"Show {key} requests", f"Filter the request table: {key}",
                                lambda key=key: self.set_status_filter(key), discover=False)
