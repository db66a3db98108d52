"""Request and token budgets, so the client paces itself instead of collecting 429s.

A refused request still counts against a provider's limit, so hammering a limit makes a run
slower, not faster. Two sources of pacing, both on the injected clock:

* **Configured** RPM/TPM: a token bucket per limit, refilled continuously, holding at most
  one second's worth, so requests are spread evenly instead of burst at the top of a minute
  (providers enforce per-minute limits at sub-minute granularity).
* **Learned** from ``x-ratelimit-limit-*`` / ``-remaining-*`` / ``-reset-*`` (as curator
  does): the newest answer gives the remaining budget; requests sent after the answered
  one are subtracted (the provider may not have counted them yet), and the budget refills
  at ``(limit - remaining) / reset`` per second, since the reset header is the time until
  the budget is full again. This works whatever window the provider uses, because it reads
  the provider's own count instead of assuming one.

Why not aiolimiter: it reads the event loop's clock (tests could not inject time), it cannot
be told "the provider says 3 left, reset in 2 s", and a limit cannot change while a run goes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from extractor_tui.core.llm.headers import RateLimitInfo

__all__ = ["Budget", "TokenBucket"]


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


@dataclass
class _Learned:
    """What one answer said: ``remaining`` at ``at``, refilling at ``rate`` per second.

    ``seq`` is how many requests had been sent when the answered one went out: requests sent
    after it may not be counted in ``remaining`` yet, so they are subtracted.
    """

    remaining: float
    limit: float | None
    rate: float | None
    reset_at: float
    at: float
    seq: int

    def available(self, now: float, sent: int) -> float:
        level = self.remaining
        if self.rate is not None:
            level = min(self.limit or math.inf, level + self.rate * max(0.0, now - self.at))
        elif now >= self.reset_at:
            return math.inf
        return level - (sent - self.seq)

    def ready_at(self, now: float, sent: int, amount: float) -> float:
        missing = amount - self.available(now, sent)
        if missing <= 0:
            return now
        if self.rate:
            return now + missing / self.rate
        return max(now, self.reset_at)


def _learn(remaining: int | None, limit: int | None, reset: float | None, now: float,
           seq: int) -> _Learned | None:
    if remaining is None or reset is None:
        return None
    # OpenAI's reset header is the time until the budget is full again; a provider that
    # refills evenly (token bucket, sliding window) refills (limit - remaining) in that time.
    rate = None
    if limit is not None and reset > 0 and limit > remaining:
        rate = (limit - remaining) / reset
    return _Learned(float(remaining), float(limit) if limit else None, rate, now + reset, now,
                    seq)


class Budget:
    """Decides when the next request may be sent; ``ready_at`` is never earlier than now."""

    def __init__(self, *, rpm: int | None, tpm: int | None, now: float) -> None:
        self._requests = TokenBucket(rpm / 60.0, rpm / 60.0, now) if rpm else None
        self._tokens = TokenBucket(tpm / 60.0, tpm / 60.0, now) if tpm else None
        self._sends = 0
        self._learned_requests: _Learned | None = None
        self._learned_tokens: _Learned | None = None
        self._tokens_sent = 0

    def ready_at(self, now: float, tokens: int) -> float:
        """The earliest time a request of ``tokens`` may go out."""
        when = now
        if self._requests is not None:
            when = max(when, self._requests.ready_at(now, 1))
        if self._tokens is not None:
            when = max(when, self._tokens.ready_at(now, tokens))
        if self._learned_requests is not None:
            when = max(when, self._learned_requests.ready_at(now, self._sends, 1))
        if self._learned_tokens is not None:
            when = max(when, self._learned_tokens.ready_at(now, self._tokens_sent, tokens))
        return when

    def take(self, now: float, tokens: int) -> tuple[int, int]:
        """Count one request of ``tokens`` as sent; returns its (request, token) sequence."""
        self._sends += 1
        self._tokens_sent += tokens
        if self._requests is not None:
            self._requests.take(now, 1)
        if self._tokens is not None:
            self._tokens.take(now, tokens)
        return self._sends, self._tokens_sent

    def observe(self, info: RateLimitInfo, now: float, seq: tuple[int, int]) -> None:
        """Take in what the headers of the answer to request number ``seq`` said."""
        learned = _learn(info.remaining_requests, info.limit_requests, info.reset_requests,
                         now, seq[0])
        if learned is not None:
            self._learned_requests = learned
        learned = _learn(info.remaining_tokens, info.limit_tokens, info.reset_tokens, now,
                         seq[1])
        if learned is not None:
            self._learned_tokens = learned
