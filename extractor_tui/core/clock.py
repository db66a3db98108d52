"""Time comes in through a parameter, so backoff and cool-downs can be tested without waiting.

The engine never calls ``time`` or ``asyncio.sleep`` directly: it asks a ``Clock``. The
default is the real monotonic clock; tests pass a virtual one (``tests/fakeclock.py``) that
moves only when the test moves it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Monotonic seconds and a sleep that agrees with them."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
