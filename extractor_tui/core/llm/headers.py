"""Reading a provider's rate-limit headers: how long to wait, and how much budget is left.

OpenAI and the servers that imitate it say "wait" in four ways: ``retry-after-ms``,
``Retry-After`` (seconds or an HTTP date), and ``x-ratelimit-reset-requests`` /
``x-ratelimit-reset-tokens`` in a Go-style duration ("1m30.5s", "250ms"). Both the 429 path
(a shared cool-down) and the budget path (pacing before any 429) read them here.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["RateLimitInfo", "parse_duration", "retry_after"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6,
                 "ns": 1e-9}


def parse_duration(text: str) -> float | None:
    """``"1m30.5s"`` → 90.5; ``"250ms"`` → 0.25; a bare number is seconds; junk → None."""
    text = text.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:  # "inf", "nan" and "1e999" parse as floats but are no wait anyone can honour
        return max(0.0, seconds) if math.isfinite(seconds) else None
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait according to the headers, most precise first; None when absent."""
    ms = _get(headers, "retry-after-ms")
    if ms is not None:
        parsed = parse_duration(ms)
        if parsed is not None:
            return parsed / 1000.0
    seconds = _get(headers, "retry-after")
    if seconds is not None:
        parsed = parse_duration(seconds)
        if parsed is not None:
            return parsed
        try:
            return max(0.0, parsedate_to_datetime(seconds).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    resets = [parse_duration(value) for name in ("x-ratelimit-reset-requests",
                                                 "x-ratelimit-reset-tokens")
              if (value := _get(headers, name)) is not None]
    known = [value for value in resets if value is not None]
    return max(known) if known else None


def _int(headers: Mapping[str, str], name: str) -> int | None:
    """A count, or None: absent, junk, infinite, or negative (Azure sends -1 for "unknown")."""
    value = _get(headers, name)
    if value is None:
        return None
    try:
        number = int(float(value))
    except (ValueError, OverflowError):  # junk, or "inf"
        return None
    return number if number >= 0 else None


@dataclass(frozen=True)
class RateLimitInfo:
    """What ``x-ratelimit-*`` headers said about the request and token budgets."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """None when the response carried no rate-limit headers at all."""
        reset_r = _get(headers, "x-ratelimit-reset-requests")
        reset_t = _get(headers, "x-ratelimit-reset-tokens")
        info = cls(
            limit_requests=_int(headers, "x-ratelimit-limit-requests"),
            remaining_requests=_int(headers, "x-ratelimit-remaining-requests"),
            reset_requests=parse_duration(reset_r) if reset_r else None,
            limit_tokens=_int(headers, "x-ratelimit-limit-tokens"),
            remaining_tokens=_int(headers, "x-ratelimit-remaining-tokens"),
            reset_tokens=parse_duration(reset_t) if reset_t else None,
        )
        return None if info == cls() else info
