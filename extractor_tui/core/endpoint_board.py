"""EndpointBoard: each endpoint's health, folded from the engine's events.

A pure reducer like ``RequestTracker`` (which holds one for the Run screen and the CLI's
progress line), and the Job holds another for the JSON ``summary``: both are fed the same
events, so the screen, stderr and the report agree by construction. It reads no clock and
does no I/O.

Where each figure comes from: ``RunStarted.endpoints`` declares the endpoints (name, ceiling,
limit, mode, models); ``AttemptStarted`` and the end of that attempt (``AttemptFinished``,
or ``ChunkCancelled`` while it was in flight) count it in and out of flight; a finished
call that the endpoint answered counts as an answer (HTTP 200), a 429 or an error (the
cache's answers name no endpoint and count for none); the gate's events set its limit, its
cool-down and its breaker; ``StructuredOutputChanged`` its mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    CircuitClosed,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    EndpointInfo,
    Event,
    RunFinished,
    RunStarted,
    StructuredOutputChanged,
)
from extractor_tui.core.model import BreakerState, ChunkId, EndpointHealth
from extractor_tui.errors import ErrorKind

__all__ = ["EndpointBoard"]


@dataclass
class _Open:
    """An attempt in flight: where it went."""

    attempt: int
    endpoint: str


class EndpointBoard:
    """Every endpoint's ``EndpointHealth``, in the order the engine declared them."""

    def __init__(self) -> None:
        self._health: dict[str, EndpointHealth] = {}
        self._open: dict[ChunkId, _Open] = {}

    def declare(self, endpoints: Sequence[EndpointInfo]) -> None:
        """Set the endpoints (a run starting); their counts so far are kept by name."""
        known = self._health
        self._health = {
            info.name: replace(known.get(info.name) or EndpointHealth(info.name),
                               models=info.models, serves=info.serves, maximum=info.maximum,
                               limit=info.limit, mode=info.mode)
            for info in endpoints}

    def __len__(self) -> int:
        return len(self._health)

    def health(self) -> tuple[EndpointHealth, ...]:
        return tuple(self._health.values())

    @property
    def limit(self) -> int:
        return sum(h.limit for h in self._health.values())

    @property
    def maximum(self) -> int:
        return sum(h.maximum for h in self._health.values())

    def apply(self, event: Event) -> bool:
        """Fold one event in; True when it changed an endpoint's health."""
        if isinstance(event, RunStarted):
            if event.endpoints:
                self.declare(event.endpoints)
            return bool(event.endpoints)
        if isinstance(event, AttemptStarted):
            self._open[event.id] = _Open(event.attempt, event.endpoint)
            return self._update(event.endpoint, in_flight=+1)
        if isinstance(event, AttemptFinished):
            return self._finished(event)
        if isinstance(event, ChunkCancelled):
            opened = self._open.pop(event.id, None)
            return opened is not None and self._update(opened.endpoint, in_flight=-1)
        if isinstance(event, RunFinished):
            self._open.clear()
            for name, health in self._health.items():
                self._health[name] = replace(health, in_flight=0)
            return True
        return self._gate_event(event)

    def _finished(self, event: AttemptFinished) -> bool:
        opened = self._open.get(event.id)
        changed = False
        if opened is not None and opened.attempt == event.attempt:
            del self._open[event.id]
            changed = self._update(opened.endpoint, in_flight=-1)
        if not event.endpoint:  # answered from the session's cache
            return changed
        if event.status == 200:
            return self._update(event.endpoint, answers=+1) or changed
        if event.outcome == ErrorKind.BACK_PRESSURE.value:
            return self._update(event.endpoint, rate_limited=+1) or changed
        return self._update(event.endpoint, errors=+1) or changed

    def _gate_event(self, event: Event) -> bool:
        if isinstance(event, ConcurrencyChanged):
            return self._set(event.endpoint, limit=event.limit, maximum=event.maximum)
        if isinstance(event, CoolDownStarted):
            return self._set(event.endpoint, cooling_until=event.until)
        if isinstance(event, CircuitOpened):
            breaker = (BreakerState.STOPPED if event.fatal else BreakerState.OUT_OF_SERVICE
                       if event.out_of_service else BreakerState.OPEN)
            return self._set(event.endpoint, breaker=breaker, reason=event.reason)
        if isinstance(event, CircuitClosed):
            return self._set(event.endpoint, breaker=BreakerState.CLOSED, reason=None)
        if isinstance(event, StructuredOutputChanged):
            return self._set(event.name, mode=event.mode)
        return False

    def _update(self, name: str, *, in_flight: int = 0, answers: int = 0,
                rate_limited: int = 0, errors: int = 0) -> bool:
        health = self._health.get(name)
        if health is None:
            return False
        self._health[name] = replace(
            health, in_flight=max(0, health.in_flight + in_flight),
            answers=health.answers + answers, rate_limited=health.rate_limited + rate_limited,
            errors=health.errors + errors)
        return True

    def _set(self, name: str, **changes: object) -> bool:
        health = self._health.get(name)
        if health is None:
            return False
        self._health[name] = replace(health, **changes)  # type: ignore[arg-type]
        return True
