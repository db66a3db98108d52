"""Request and token budgets, so the client paces itself instead of collecting 429s.

A refused request still counts against a provider's limit, so hammering a limit makes a run
slower, not faster. Two sources of pacing, both on the injected clock:

* **Configured** RPM/TPM: a token bucket per limit, refilled continuously, holding at most
  one second's worth, so requests are spread evenly instead of burst at the top of a minute
  (providers enforce per-minute limits at sub-minute granularity).
* **Learned** from ``x-ratelimit-remaining-*`` / ``x-ratelimit-reset-*`` (as curator does):
  when the newest answer says the remaining budget, minus what we sent since, is used up,
  nothing is sent until its reset time. This works whatever window the provider uses,
  because it reads the provider's own count instead of assuming one.

Why not aiolimiter: it reads the event loop's clock (tests could not inject time), it cannot
be told "the provider says 3 left, reset in 2 s", and a limit cannot change while a run goes.
"""

from __future__ import annotations

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
    remaining: int
    reset_at: float
    sends_at_observation: int


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
        learned = self._learned_requests
        if learned is not None and now < learned.reset_at:
            if learned.remaining - (self._sends - learned.sends_at_observation) <= 0:
                when = max(when, learned.reset_at)
        learned_t = self._learned_tokens
        if learned_t is not None and now < learned_t.reset_at:
            if learned_t.remaining - (self._tokens_sent - learned_t.sends_at_observation) < tokens:
                when = max(when, learned_t.reset_at)
        return when

    def take(self, now: float, tokens: int) -> None:
        """Count one request of ``tokens`` as sent."""
        self._sends += 1
        self._tokens_sent += tokens
        if self._requests is not None:
            self._requests.take(now, 1)
        if self._tokens is not None:
            self._tokens.take(now, tokens)

    def observe(self, info: RateLimitInfo, now: float) -> None:
        """Take in what the provider's headers said about the remaining budget."""
        if info.remaining_requests is not None and info.reset_requests is not None:
            self._learned_requests = _Learned(info.remaining_requests,
                                              now + info.reset_requests, self._sends)
        if info.remaining_tokens is not None and info.reset_tokens is not None:
            self._learned_tokens = _Learned(info.remaining_tokens,
                                            now + info.reset_tokens, self._tokens_sent)
