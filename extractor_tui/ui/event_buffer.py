"""The UI's engine sink: append now, apply later, on the view's timer.

The engine may emit thousands of events a second (20,000 ``RequestPlanned`` at once when a
run starts). Touching a widget per event would redraw the screen thousands of times, so the
sink does the cheapest possible thing, an ``append``, and the run view drains the buffer on a
timer: every pending event goes through the shared ``RequestTracker`` in one go and the view
then updates only the rows ``take_changed()`` names (STYLE habit 5, after toolong).

A ``deque`` rather than a list, because ``append`` and ``popleft`` are atomic: a sink called
from a worker thread cannot lose an event that lands while a flush is draining. Nothing here
imports Textual, so the buffer is tested and benchmarked without an app.
"""

from __future__ import annotations

from collections import deque

from extractor_tui.core.events import Event
from extractor_tui.core.model import ChunkId
from extractor_tui.core.tracker import RequestTracker

__all__ = ["EventBuffer"]


class EventBuffer:
    """Collects engine events; ``drain()`` folds them into ``tracker`` in one batch.

    Use the instance itself (or ``sink``) as the engine's ``Sink``.
    """

    def __init__(self, tracker: RequestTracker | None = None) -> None:
        self.tracker = tracker if tracker is not None else RequestTracker()
        self._pending: deque[Event] = deque()
        self.received = 0
        """Events appended since the buffer was made (for the bench and the tests)."""

    def __call__(self, event: Event) -> None:
        """The sink: only remember the event; never touch the tracker or the UI here."""
        self._pending.append(event)
        self.received += 1

    sink = __call__

    @property
    def pending(self) -> int:
        """Events waiting for the next drain."""
        return len(self._pending)

    def drain(self, limit: int | None = None) -> list[ChunkId]:
        """Apply pending events (all, or the oldest ``limit``); return the changed row ids.

        Rows changed by several events in this batch are listed once, so the caller redraws
        each at most once per flush whatever the event rate. ``limit`` bounds one flush's
        work: the 20,000 ``RequestPlanned`` of a big run then fill the table over a few
        ticks instead of freezing the screen for one long one.
        """
        pending, apply = self._pending, self.tracker.apply
        count = len(pending) if limit is None else min(limit, len(pending))
        for _ in range(count):
            apply(pending.popleft())
        return self.tracker.take_changed()
