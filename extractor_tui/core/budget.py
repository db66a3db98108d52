"""Request and token budgets, so the client paces itself instead of collecting 429s.

A refused request still counts against a provider's limit, so hammering a limit makes a run
slower, not faster. Two sources of pacing, both on the injected clock:

* **Configured** RPM/TPM: a token bucket per limit, refilled continuously, holding at most
  one second's worth, so requests are spread evenly instead of burst at the top of a minute
  (providers enforce per-minute limits at sub-minute granularity).
* **Learned** from the ``x-ratelimit-*`` headers, when the user configured nothing. OpenAI
  and Azure OpenAI document them the same way: ``limit`` is a budget *per minute*,
  ``remaining`` counts down, ``reset`` is the time until the budget is full again, and the
  limit "may be enforced over shorter periods" (OpenAI: 60,000 a minute as 1,000 a second;
  Azure: over 1 or 10 seconds). So from the first answer that carries a limit, sends are
  paced evenly at ``limit / 60`` per second, with at most half a second's worth at once,
  never more than ``limit`` in any minute of our own sends, and never beyond what the last
  ``remaining`` (refilled at that pace) allows, before any 429.

  A server whose budget refills faster than a minute's says so in its headers, and is
  ridden faster: when the budget's use (``limit - remaining``) is our own sends of the last
  ``reset`` seconds, and ``reset`` is much shorter than a per-minute budget would need to
  refill them, the limit applies to a sliding window of ``reset`` seconds (the loopback
  server's kind, and proxies that count per second), and the client keeps its own sliding
  window of at most ``limit`` sends per window, as before. Usage that our sends do not
  account for (another client, or a ``remaining`` read from a one-second bucket, as a
  quantised limiter reports it) keeps the per-minute pace: the safe reading.
  When no limit header comes, only ``remaining``/``reset`` are used: once what remains,
  minus what was sent after the answered request, is used up, nothing is sent until the
  reset time.

Why not aiolimiter: it reads the event loop's clock (tests could not inject time), it cannot
be told "the provider allows 40 per second", and a limit cannot change while a run goes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
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


@dataclass
class _Level:
    """The server's ``remaining`` when request ``seq`` arrived (about ``at``), refilled at
    ``rate`` since: what may go now, less what we sent after that request. The request
    arrived a little after we sent it, so its refill is counted from ``margin`` later: with
    a bucket of one (3 a minute) a send at exactly the refill time arrived just before it."""

    remaining: int
    at: float
    seq: int
    rate: float
    margin: float

    def ready_at(self, now: float, sent: int, amount: int) -> float:
        need = amount + (sent - self.seq) - self.remaining
        return max(now, self.at + self.margin + need / self.rate) if need > 0 else now


class _Learned:
    """What the headers taught about one budget (requests or tokens)."""

    # Our clock and the provider's differ by network and scheduling delays: a window a little
    # longer than the provider's keeps a send from arriving just before a slot frees.
    MARGIN_S = 0.03
    PACE_BURST = 8        # a short window: at most 1/8 of its limit goes out at once
    MINUTE_BURST_S = 0.5  # per minute: at most half a second's worth at once
    FASTER = 1.25         # a reset this much shorter than a minute's pace needs: a short window
    LONGEST_RESET_S = 120.0

    def __init__(self) -> None:
        self.window: SlidingWindow | None = None    # a short window learned, or a minute's
        self.pace: TokenBucket | None = None
        self.level: _Level | None = None            # per minute: the server's last remaining
        self.remaining: _Remaining | None = None    # no limit header: remaining/reset only
        self.short = False

    def observe(self, limit: int | None, remaining: int | None, reset: float | None,
                sent_at: float, seq: int, history: Sequence[tuple[float, float]]) -> None:
        """Take in one answer's headers about this budget; ``history`` is every send of
        the last two minutes, (time, units), this request's included."""
        if limit is not None and limit > 0:
            if self.short or self._short_window(limit, remaining, reset, sent_at, history):
                self._observe_short(limit, remaining, reset, sent_at, history)
            else:
                self._observe_minute(limit, remaining, sent_at, seq, history)
            return
        if remaining is not None and reset is not None:
            # A budget refills within a minute or two; a longer reset (a daily quota, or a
            # hostile "999999h") would hold the run for good, so it is read as two minutes.
            self.remaining = _Remaining(remaining, sent_at + min(reset, self.LONGEST_RESET_S),
                                        seq)

    def _short_window(self, limit: int, remaining: int | None, reset: float | None,
                      sent_at: float, history: Sequence[tuple[float, float]]) -> bool:
        """Whether the headers show a sliding window much shorter than a minute: the budget
        used is our own sends of the last ``reset`` seconds, and it comes back far sooner
        than a per-minute budget would give it back."""
        if remaining is None or reset is None or reset <= 0:
            return False
        used = limit - remaining
        ours = sum(units for at, units in history
                   if sent_at - reset - self.MARGIN_S < at <= sent_at)
        per_minute_reset = used * 60.0 / limit
        return 1 <= used <= ours + ours // 10 and reset * self.FASTER < per_minute_reset

    def _observe_short(self, limit: int, remaining: int | None, reset: float | None,
                       sent_at: float, history: Sequence[tuple[float, float]]) -> None:
        """The sliding-window reading: at most ``limit`` of our sends in any window."""
        span = reset + self.MARGIN_S if reset is not None else 0.0
        if not self.short:  # the first sign of a short window: drop the per-minute pacing
            self.short, self.window, self.pace, self.level = True, None, None, None
        if self.window is None:
            if span <= 0:
                return
            self.window = SlidingWindow(limit, span)
            for at, units in history:  # what we already sent counts
                self.window.take(at, units)
        else:  # a later, longer reset widens the window; a shorter one never shrinks it
            self.window.limit = limit
            self.window.window = max(self.window.window, span)
        # Spread sends evenly inside the window: a burst of sends leaves the event loop one
        # by one (the SDK spends milliseconds on each), so burst send times drift from
        # arrival times and race the provider's window boundary.
        rate = self.window.limit / self.window.window
        if self.pace is None:
            self.pace = TokenBucket(rate, max(1.0, limit / self.PACE_BURST), sent_at)
        self.pace.rate = rate

    def _observe_minute(self, limit: int, remaining: int | None, sent_at: float, seq: int,
                        history: Sequence[tuple[float, float]]) -> None:
        """The per-minute reading: ``limit / 60`` per second, evenly, from this answer on."""
        rate = limit / 60.0
        if self.window is None:
            self.window = SlidingWindow(limit, 60.0 + self.MARGIN_S)
            for at, units in history:
                self.window.take(at, units)
        self.window.limit = limit
        if self.pace is None:
            # As of the answered request's send: what went out since has used the burst.
            self.pace = TokenBucket(rate, max(1.0, rate * self.MINUTE_BURST_S), sent_at)
            for at, units in history:
                if at >= sent_at:
                    self.pace.take(at, units)
        self.pace.rate = rate
        self.pace.capacity = max(1.0, rate * self.MINUTE_BURST_S)
        if remaining is not None and (self.level is None or seq >= self.level.seq):
            self.level = _Level(remaining, sent_at, seq, rate, self.MARGIN_S)

    @property
    def learned(self) -> bool:
        """A limit is known (from a limit header)."""
        return self.pace is not None

    def ready_at(self, now: float, sent: int, amount: int) -> float:
        when = now
        if self.window is not None:
            when = max(when, self.window.ready_at(now, amount))
        if self.pace is not None:
            when = max(when, self.pace.ready_at(now, amount))
        if self.level is not None:
            when = max(when, self.level.ready_at(now, sent, amount))
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
            [(at, 1.0) for at, _ in self._history])
        self._learned_tokens.observe(
            info.limit_tokens, info.remaining_tokens, info.reset_tokens, sent_at, seq[1],
            [(at, float(units)) for at, units in self._history])

    @property
    def learned(self) -> bool:
        """A request or token limit has been learned from the headers."""
        return self._learned_requests.learned or self._learned_tokens.learned
