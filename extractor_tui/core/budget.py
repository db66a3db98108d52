"""Request and token budgets, so the client paces itself instead of collecting 429s.

A refused request still counts against a provider's limit, so hammering a limit makes a run
slower, not faster. Two sources of pacing, both on the injected clock:

* **Configured** RPM/TPM: a token bucket per limit, refilled continuously, holding at most
  one second's worth, so requests are spread evenly instead of burst at the top of a minute
  (providers enforce per-minute limits at sub-minute granularity).
* **Learned** from the ``x-ratelimit-*`` headers (as curator does), when the user
  configured nothing. The limit header gives how many requests (or tokens) the provider
  allows; the reset header, read when the budget is used up, gives the window it refills
  over (the largest reset seen: OpenAI's reset is the time until the budget is full again).
  The client then keeps its *own* sliding window of what it sent: at most ``limit`` in any
  ``window``. That is exact against a sliding-window server, and never more than a token
  bucket of the same limit allows, so it is safe against both. When no limit header comes,
  only ``remaining``/``reset`` are used: once what remains, minus what was sent after the
  answered request, is used up, nothing is sent until the reset time.

Why not aiolimiter: it reads the event loop's clock (tests could not inject time), it cannot
be told "the provider allows 40 per second", and a limit cannot change while a run goes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from extractor_tui.core.llm.headers import RateLimitInfo

__all__ = ["Budget", "SlidingWindow", "TokenBucket"]


class TokenBucket:
    """``rate`` units per second, at most ``capacity`` banked."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._level = self.capacity
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
            self._at = now

    def ready_at(self, now: float, amount: float) -> float:
        """When ``amount`` units will be available (``now`` if they already are)."""
        self._refill(now)
        need = min(amount, self.capacity) - self._level
        return now if need <= 0 else now + need / self.rate

    def take(self, now: float, amount: float) -> None:
        self._refill(now)
        self._level -= min(amount, self.capacity)


class SlidingWindow:
    """At most ``limit`` units sent in any ``window`` seconds, counted from our own sends."""

    def __init__(self, limit: float, window: float) -> None:
        self.limit = limit
        self.window = window
        self._sent: deque[tuple[float, float]] = deque()
        self._total = 0.0

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0][0] <= now - self.window:
            self._total -= self._sent.popleft()[1]

    def ready_at(self, now: float, amount: float) -> float:
        self._expire(now)
        amount = min(amount, self.limit)
        excess = self._total + amount - self.limit
        if excess <= 0:
            return now
        for at, units in self._sent:  # the oldest sends must leave first
            excess -= units
            if excess <= 0:
                return at + self.window
        return now + self.window

    def take(self, now: float, amount: float) -> None:
        self._sent.append((now, amount))
        self._total += amount


@dataclass
class _Remaining:
    """An answer said ``remaining`` until ``reset_at``; ``seq`` sends had gone out then."""

    remaining: int
    reset_at: float
    seq: int

    def ready_at(self, now: float, sent: int, amount: int) -> float:
        if now >= self.reset_at or self.remaining - (sent - self.seq) >= amount:
            return now
        return self.reset_at


class _Learned:
    """What the headers taught about one budget (requests or tokens)."""

    def __init__(self) -> None:
        self.window: SlidingWindow | None = None
        self.pace: TokenBucket | None = None
        self.remaining: _Remaining | None = None

    # Our clock and the provider's differ by network and scheduling delays: a window a little
    # longer than the provider's keeps a send from arriving just before a slot frees.
    MARGIN_S = 0.03
    PACE_BURST = 8  # at most 1/8 of the limit goes out at once

    def observe(self, limit: int | None, remaining: int | None, reset: float | None,
                sent_at: float, seq: int, history: Iterable[tuple[float, float]]) -> None:
        if limit is not None and reset is not None and limit > 0:
            span = (reset + self.MARGIN_S
                    if remaining is None or remaining <= limit // 2 else 0.0)
            if self.window is None and span > 0:
                self.window = SlidingWindow(limit, span)
                for at, units in history:  # what we already sent counts
                    self.window.take(at, units)
            elif self.window is not None:
                self.window.limit = limit
                self.window.window = max(self.window.window, span)
            if self.window is not None:
                # Spread sends evenly inside the window: a burst of sends leaves the event
                # loop one by one (the SDK spends milliseconds on each), so burst send times
                # drift from arrival times and race the provider's window boundary.
                rate = self.window.limit / self.window.window
                if self.pace is None:
                    self.pace = TokenBucket(rate, max(1.0, limit / self.PACE_BURST), sent_at)
                self.pace.rate = rate
            return
        if remaining is not None and reset is not None:
            self.remaining = _Remaining(remaining, sent_at + reset, seq)

    def ready_at(self, now: float, sent: int, amount: int) -> float:
        when = now
        if self.window is not None:
            when = max(when, self.window.ready_at(now, amount))
        if self.pace is not None:
            when = max(when, self.pace.ready_at(now, amount))
        if self.remaining is not None:
            when = max(when, self.remaining.ready_at(now, sent, amount))
        return when


class Budget:
    """Decides when the next request may be sent; ``ready_at`` is never earlier than now."""

    _HISTORY_S = 120.0  # sends remembered for a window learned later

    def __init__(self, *, rpm: int | None, tpm: int | None, now: float) -> None:
        self._requests = TokenBucket(rpm / 60.0, rpm / 60.0, now) if rpm else None
        self._tokens = TokenBucket(tpm / 60.0, tpm / 60.0, now) if tpm else None
        self._sends = 0
        self._tokens_sent = 0
        self._learned_requests = _Learned()
        self._learned_tokens = _Learned()
        self._history: deque[tuple[float, int]] = deque()

    @property
    def sends(self) -> int:
        """Requests sent so far."""
        return self._sends

    def ready_at(self, now: float, tokens: int) -> float:
        """The earliest time a request of ``tokens`` may go out."""
        when = now
        if self._requests is not None:
            when = max(when, self._requests.ready_at(now, 1))
        if self._tokens is not None:
            when = max(when, self._tokens.ready_at(now, tokens))
        when = max(when, self._learned_requests.ready_at(now, self._sends, 1))
        return max(when, self._learned_tokens.ready_at(now, self._tokens_sent, tokens))

    def take(self, now: float, tokens: int) -> tuple[int, int]:
        """Count one request of ``tokens`` as sent; returns its (request, token) sequence."""
        self._sends += 1
        self._tokens_sent += tokens
        for bucket, amount in ((self._requests, 1), (self._tokens, tokens)):
            if bucket is not None:
                bucket.take(now, amount)
        for learned, amount in ((self._learned_requests, 1), (self._learned_tokens, tokens)):
            if learned.window is not None:
                learned.window.take(now, amount)
            if learned.pace is not None:
                learned.pace.take(now, amount)
        self._history.append((now, tokens))
        while self._history and self._history[0][0] < now - self._HISTORY_S:
            self._history.popleft()
        return self._sends, self._tokens_sent

    def observe(self, info: RateLimitInfo, sent_at: float, seq: tuple[int, int]) -> None:
        """Take in what the headers of the answer to request number ``seq`` said.

        The provider counted the budget when the request arrived, about when it was sent
        (``sent_at``), so times are measured from then, not from when the answer came back.
        """
        self._learned_requests.observe(
            info.limit_requests, info.remaining_requests, info.reset_requests, sent_at, seq[0],
            ((at, 1.0) for at, _ in self._history))
        self._learned_tokens.observe(
            info.limit_tokens, info.remaining_tokens, info.reset_tokens, sent_at, seq[1],
            ((at, float(units)) for at, units in self._history))
