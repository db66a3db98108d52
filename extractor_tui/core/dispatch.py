"""The gate every request passes before it is sent: the provider's limits are ridden, not fought.

One ``Gate`` per endpoint decides *when* a request may go out. It combines, in one place:

* **Concurrency.** At most ``limit`` requests in flight. ``maximum`` is the user's setting
  (1–100, changeable mid-run); ``limit`` adapts under it (AIMD): halved on a 429, +1 after a
  full window of successes (``limit`` in a row), never above ``maximum``.
* **One shared cool-down, for the 429s the load caused.** Such a 429 stops *every* worker
  until the provider's ``retry-after``/reset time (or a backoff when it gave none), and
  halves the limit. Requests that started before the last decrease do not halve again: one
  burst of 429s is one signal. A 429 the load did not cause (its headers show budget left,
  or it has none and nothing else points to a limit: no limit learned, and few 429s among
  the recent answers) holds back only the request that got it (the engine waits its
  ``Retry-After``): a random 429 in a fault mix used to stop every worker and halve the
  limit, and a 25 % fault mix took 3.4 times its clean run.
* **A circuit breaker.** When most recent calls fail (transient errors), sending stops for
  a while; then exactly one probe goes out, and its result closes or reopens the circuit.
* **Out of service.** An error that is the endpoint's own and will not mend by retrying at
  once (a refused key, no quota, nothing listening) takes it down (``take_down``): the
  breaker opens for ``down_for`` seconds, doubling while its probes fail, and an answered
  probe puts it back. The pool (``endpoints.py``) sends the work elsewhere meanwhile.
* **Stopped for good** (``fatal``): nothing is admitted again; the engine uses it when no
  endpoint is left for the model, or for an error no endpoint can help with.
* **Budgets** (``budget.py``): configured RPM/TPM and what the headers say is left.
* **Pause.** No new request leaves while paused; those in flight finish.
* **Slow start.** Until the endpoint has answered once (``proven``), one request at a time:
  a server that cannot work fails on its first request instead of on twenty, and the
  first answer's ``x-ratelimit-*`` headers set the pace before the fan-out.

Why a gate and not ``Semaphore`` + ``gather``: a semaphore cannot shrink while permits are
out, cannot hold everyone back during a cool-down, and knows nothing of the provider.
The gate never sleeps in a busy loop: time-based waits sleep until their deadline on the
injected clock, slot-based waits park on a condition that ``release`` and settings notify.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from extractor_tui.core.budget import Budget
from extractor_tui.core.clock import Clock
from extractor_tui.core.llm.headers import RateLimitInfo

__all__ = ["CircuitOpen", "Gate", "GateConfig", "GateEvent", "GateEventKind", "GateState",
           "Permit"]

MAX_CONCURRENCY = 100


class CircuitOpen(Exception):
    """Raised from ``try_acquire`` and ``changed`` once a fatal error has stopped the gate."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GateState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"
    FATAL = "fatal"


@dataclass(frozen=True)
class Permit:
    """Admission for one request: breaker probe or not, its send sequence, when it left."""

    probe: bool
    seq: tuple[int, int]
    sent_at: float
    tokens: int = 0


class GateEventKind(StrEnum):
    """What a ``GateEvent`` says: the limit moved, a cool-down, the breaker, out of service,
    a fatal stop."""

    LIMIT = "limit"
    COOLDOWN = "cooldown"
    CIRCUIT_OPEN = "circuit-open"
    DOWN = "down"
    CIRCUIT_CLOSED = "circuit-closed"
    FATAL = "fatal"


@dataclass(frozen=True)
class GateEvent:
    """Something the gate decided, for the engine to turn into a public event."""

    kind: GateEventKind
    at: float
    limit: int = 0
    maximum: int = 0
    until: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class GateConfig:
    """Tuning for one endpoint's gate."""

    maximum: int = 20
    rpm: int | None = None
    tpm: int | None = None
    cooldown_without_header: float = 1.0   # first 429 with no wait header
    cooldown_cap: float = 60.0
    # "Most recent calls failed": 14 of the last 20. At a 25 % random failure rate that
    # happens about once in 100,000 windows, so noise does not stop a run; a dead endpoint
    # opens the circuit after 10–14 calls.
    breaker_window: int = 20               # recent calls considered
    breaker_min_calls: int = 10
    breaker_failure_ratio: float = 0.7
    breaker_open_for: float = 2.0          # first open period; doubles while probes fail
    breaker_open_cap: float = 30.0
    down_for: float = 5.0                  # first period out of service (take_down)
    down_cap: float = 120.0
    # Without headers, a 429 is the load's doing when this many of the last answers were 429s.
    # A 5 % random 429 rate gets 4 of 10 in about 0.3 % of windows.
    pressure_window: int = 10
    pressure_429s: int = 4


class Gate:
    """Admission control for one endpoint. Single-threaded: use from one event loop."""

    def __init__(self, config: GateConfig, clock: Clock,
                 on_event: Callable[[GateEvent], None] = lambda event: None) -> None:
        if not 1 <= config.maximum <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1–{MAX_CONCURRENCY}, got {config.maximum}")
        self.config = config
        self._clock = clock
        self._emit = on_event
        self.maximum = config.maximum
        self.limit = config.maximum
        self.in_flight = 0
        self.peak_in_flight = 0
        self.paused = False
        self.cooldown_until = 0.0
        self._consecutive_429 = 0
        self._decrease_seq = 0  # sends made when the limit was last halved
        self._answers: deque[bool] = deque(maxlen=config.pressure_window)  # True: a 429
        self._successes = 0
        self._budget = Budget(rpm=config.rpm, tpm=config.tpm, now=clock.now())
        self._state = GateState.CLOSED
        self._recent: deque[bool] = deque(maxlen=config.breaker_window)
        self._open_until = 0.0
        self._open_for = config.breaker_open_for
        self._probe_out = False
        self.fatal_message: str | None = None
        self.down_reason: str | None = None  # out of service until a probe is answered
        self._down_for = config.down_for
        self.proven = False  # the endpoint has answered (a cached answer does not count)
        self._wake = asyncio.Event()

    @property
    def state(self) -> GateState:
        """The breaker now: an open period that is over reads half-open (the next request
        probes) without anyone having to ask for a permit first."""
        if self._state is GateState.OPEN and self._clock.now() >= self._open_until:
            return GateState.HALF_OPEN
        return self._state

    # -- admission ---------------------------------------------------------------------------

    def try_acquire(self, tokens: int = 0) -> Permit | None:
        """A permit to send now, counted in flight; or None, and ``changed`` says when to ask
        again. The permit says whether this request is the breaker's probe, and its place in
        the send order (for reading budget headers). Raises ``CircuitOpen`` after a fatal
        error. Nothing is held between asking and waiting, so a cancelled waiter holds no
        slot."""
        now = self._clock.now()
        if self._free_at(now, tokens) > now:
            return None
        probe = self.state is GateState.HALF_OPEN
        if probe:
            self._probe_out = True
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return Permit(probe, self._budget.take(now, tokens), now, tokens)

    async def changed(self, tokens: int = 0) -> None:
        """Return when ``try_acquire`` may succeed: at once, at the next deadline (cool-down,
        breaker, budget) or at the next change of slots or settings."""
        now = self._clock.now()
        free_at = self._free_at(now, tokens)
        if free_at == math.inf:
            await self._wake.wait()
        elif free_at > now:
            await self._clock.sleep(free_at - now)

    def _free_at(self, now: float, tokens: int) -> float:
        """When a request may go: ``now`` (at once), a later deadline to sleep until, or
        ``math.inf`` until something changes (a slot, a setting, the probe's outcome).
        Decides nothing; raises ``CircuitOpen`` after a fatal error."""
        if self.fatal_message is not None:
            raise CircuitOpen(self.fatal_message)
        state = self.state
        wait_until = max(self.cooldown_until,
                         self._open_until if state is GateState.OPEN else 0.0,
                         self._budget.ready_at(now, tokens))
        if wait_until > now:
            return wait_until
        if (self.paused or self.in_flight >= (self.limit if self.proven else 1)
                or (state is GateState.HALF_OPEN and self._probe_out)):
            return math.inf
        return now

    def release(self, permit: Permit | None = None) -> None:
        """A request that ``try_acquire`` admitted has finished (whatever its outcome).

        A probe released without an outcome (its call was cancelled) frees the probe slot,
        so the next request can probe instead of every waiter blocking for good.
        """
        self.in_flight -= 1
        if permit is not None and permit.probe:
            self._probe_out = False
        self._notify()

    def _notify(self) -> None:
        # Wake every parked waiter; each re-checks. A fresh Event per round means a waiter
        # that parks after this call waits for the next change, not this one.
        self._wake.set()
        self._wake = asyncio.Event()

    # -- outcomes ----------------------------------------------------------------------------

    def succeeded(self, info: RateLimitInfo | None, permit: Permit, *,
                  cached: bool = False) -> None:
        """The endpoint answered (even if the answer was unusable: that is not its health).
        A ``cached`` answer came from the session, so it proves nothing about the endpoint."""
        now, probe = self._clock.now(), permit.probe
        if not cached and not self.proven:
            self.proven = True
            self._notify()  # slow start is over: the waiters may fan out
        if info is not None:
            self._budget.observe(info, permit.sent_at, permit.seq)
        self._answers.append(False)
        self._consecutive_429 = 0
        self._record(True, probe)
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self._successes = 0
            self._set_limit(self.limit + 1, "a window of successes")

    def rate_limited(self, retry_after: float | None, permit: Permit,
                     info: RateLimitInfo | None = None) -> float:
        """A 429. When the load caused it: one shared cool-down, and halve the limit once
        per burst; returns the shared wait. Otherwise nothing changes for the others, and
        the wait is 0 (the engine holds back the one request).

        A burst is told apart by send order, not by time: a 429 for a request sent before the
        last decrease is part of the burst already answered (clocks can tick coarsely).
        """
        now = self._clock.now()
        if info is not None:
            self._budget.observe(info, permit.sent_at, permit.seq)
        if permit.probe:
            self._probe_out = False
        self._answers.append(True)
        if not self.load_caused(info, permit):
            self._notify()
            return 0.0
        new_signal = permit.seq[0] > self._decrease_seq
        if new_signal:
            self._consecutive_429 += 1
        if retry_after is None:
            retry_after = (self.config.cooldown_without_header
                           * 2.0 ** (max(1, self._consecutive_429) - 1))
        until = now + min(retry_after, self.config.cooldown_cap)
        if until > self.cooldown_until:
            self.cooldown_until = until
            self._emit(GateEvent(GateEventKind.COOLDOWN, now, until=until,
                                 reason="429 rate limit"))
        if new_signal:
            self._decrease_seq = self._budget.sends
            self._successes = 0
            self._set_limit(max(1, self.limit // 2), "429 rate limit")
        self._notify()
        return until - now

    def load_caused(self, info: RateLimitInfo | None, permit: Permit) -> bool:
        """Whether a 429 was the load's doing: its headers say the budget is spent, or,
        without them, a limit is known or most recent answers were 429s too."""
        if info is not None and (info.remaining_requests is not None
                                 or info.remaining_tokens is not None):
            return ((info.remaining_requests is not None and info.remaining_requests < 1)
                    or (info.remaining_tokens is not None
                        and info.remaining_tokens < max(1, permit.tokens)))
        return self._budget.learned or sum(self._answers) >= self.config.pressure_429s

    def failed(self, permit: Permit) -> None:
        """A transient failure (5xx, timeout, dropped connection) counts toward the breaker."""
        self._record(False, permit.probe)

    def take_down(self, reason: str) -> None:
        """Out of service: an error of the endpoint's own that retrying at once cannot mend.

        One probe goes out after ``down_for`` seconds (doubled each time a probe fails, up
        to ``down_cap``); an answered probe brings the endpoint back. Failures of requests
        that were already in flight when it went down do not lengthen the wait again.
        """
        if self.fatal_message is not None or (self.state is GateState.OPEN
                                              and self.down_reason is not None):
            return
        self.down_reason = reason
        self._down(self._clock.now())

    def _down(self, now: float) -> None:
        self._state = GateState.OPEN
        self._open_until = now + self._down_for
        self._down_for = min(self.config.down_cap, self._down_for * 2)
        self._recent.clear()
        self._emit(GateEvent(GateEventKind.DOWN, now, until=self._open_until,
                             reason=self.down_reason or ""))
        self._notify()

    def fatal(self, message: str) -> None:
        """No retry can help: stop admitting anything, for good."""
        if self.fatal_message is None:
            self.fatal_message = message
            self._state = GateState.FATAL
            self._emit(GateEvent(GateEventKind.FATAL, self._clock.now(), reason=message))
        self._notify()

    def _record(self, ok: bool, probe: bool) -> None:
        now = self._clock.now()
        if self.state is GateState.FATAL:
            return
        if probe:
            self._probe_out = False
            if ok:
                self._state = GateState.CLOSED
                self._recent.clear()
                self._open_for = self.config.breaker_open_for
                self.down_reason, self._down_for = None, self.config.down_for
                self._emit(GateEvent(GateEventKind.CIRCUIT_CLOSED, now))
            elif self.down_reason is not None:
                self._down(now)  # still out of service: the longer wait, doubled
            else:
                self._open(now, "the probe failed")
            self._notify()
            return
        self._recent.append(ok)
        if self.state is GateState.CLOSED and len(self._recent) >= self.config.breaker_min_calls:
            failures = self._recent.count(False)
            if failures / len(self._recent) >= self.config.breaker_failure_ratio:
                self._open(now, f"{failures} of the last {len(self._recent)} calls failed")

    def _open(self, now: float, reason: str) -> None:
        self._state = GateState.OPEN
        self._open_until = now + self._open_for
        self._emit(GateEvent(GateEventKind.CIRCUIT_OPEN, now, until=self._open_until,
                             reason=reason))
        self._open_for = min(self.config.breaker_open_cap, self._open_for * 2)
        self._recent.clear()

    # -- settings ----------------------------------------------------------------------------

    def set_maximum(self, maximum: int) -> None:
        """Change the user's concurrency setting mid-run; the adaptive limit follows."""
        if not 1 <= maximum <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be 1–{MAX_CONCURRENCY}, got {maximum}")
        # The limit stays where back-pressure put it: lowering the ceiling only caps it, and
        # raising it lifts the limit only when the limit was at the old ceiling (else the
        # success windows grow it back). Resetting it to the ceiling sent a cooled-down run
        # straight back into 429s.
        at_ceiling, before = self.limit >= self.maximum, self.limit
        self.maximum = maximum
        self._successes = 0
        self._set_limit(maximum if at_ceiling else self.limit, "concurrency setting changed")
        if self.limit == before:  # the ceiling moved alone: say so all the same
            self._emit(GateEvent(GateEventKind.LIMIT, self._clock.now(),
                                 limit=self.limit, maximum=maximum,
                                 reason="concurrency setting changed"))

    def _set_limit(self, limit: int, reason: str) -> None:
        limit = max(1, min(limit, self.maximum))
        if limit != self.limit:
            self.limit = limit
            self._emit(GateEvent(GateEventKind.LIMIT, self._clock.now(), limit=limit,
                                 maximum=self.maximum, reason=reason))
            self._notify()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False
        self._notify()

