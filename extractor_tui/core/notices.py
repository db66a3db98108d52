"""Long waits, said as they start: a run that sits still must say why.

A server's ``Retry-After: 999999`` used to be waited out silently (60 s at a time, ten times
over), and ``extractor run`` with stderr redirected to a file showed nothing at all, because
its progress bar only draws on a terminal. ``LongWaits`` turns the engine's events into one
line each time a wait of ``LONG_WAIT_S`` or more begins (a shared cool-down, or one chunk
waiting out its 429), and keeps quiet about waits that end no later than one already said.
Plain text, no Rich: both front ends print it their own way.
"""

from __future__ import annotations

from extractor_tui.core.events import ChunkRetrying, CoolDownStarted, Event
from extractor_tui.errors import ErrorKind

__all__ = ["LONG_WAIT_S", "LongWaits"]

LONG_WAIT_S = 5.0


class LongWaits:
    """Feed it events; it returns the line to show when a long wait begins, else None."""

    def __init__(self, long_wait_s: float = LONG_WAIT_S) -> None:
        self.long_wait_s = long_wait_s
        self._said_until = float("-inf")

    def notice(self, event: Event) -> str | None:
        if isinstance(event, CoolDownStarted):
            until, what = event.until, f"every request waits: {event.reason}"
        elif isinstance(event, ChunkRetrying) and event.reason is ErrorKind.BACK_PRESSURE:
            until, what = event.next_at, f"chunk {event.id.label} waits: {event.error}"
        else:
            return None
        wait = until - event.at
        if wait < self.long_wait_s or until <= self._said_until + 1.0:
            return None
        self._said_until = until
        return f"waiting {wait:.0f} s ({what})"
