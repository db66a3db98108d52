"""A virtual-time ``Clock`` for tests: time moves only when the test moves it.

``FakeClock`` implements ``extractor_tui.core.clock.Clock``. ``now()`` returns the virtual
time; ``await sleep(s)`` does *not* move time itself (with several concurrent sleepers that
would be wrong: two tasks sleeping 1 s would together "take" 2 s). Instead each sleeper
registers ``(deadline, future)`` and parks. The test drives time:

* ``await clock.advance(dt)`` moves time forward by ``dt``, waking the sleepers that fall due
  on the way in deadline order (ties in the order they went to sleep). Before each wake-up
  time is set to that sleeper's deadline, and the event loop runs a few rounds so the woken
  tasks (and whatever they wake) act at that instant. Time ends at exactly ``now + dt``.
* ``await clock.run_until_idle()`` keeps waking the earliest sleeper until none is left,
  i.e. jumps straight from deadline to deadline.
* ``await clock.settle()`` only lets the event loop run, without moving time.

A cancelled sleeper is dropped from the schedule. A sleep of zero or less only yields once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

__all__ = ["FakeClock"]


class FakeClock:
    """Virtual monotonic time with a deadline-ordered scheduler of sleepers."""

    def __init__(self, start: float = 0.0, settle_rounds: int = 20) -> None:
        self._now = start
        self._settle_rounds = settle_rounds
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    # -- the Clock protocol ------------------------------------------------------------------

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future  # cancelling the sleeper cancels the future; the driver skips it

    # -- driving time ------------------------------------------------------------------------

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep (cancelled ones excluded)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    def next_deadline(self) -> float | None:
        """The earliest deadline of a live sleeper, or None."""
        self._drop_dead()
        return self._sleepers[0][0] if self._sleepers else None

    async def settle(self) -> None:
        """Let the event loop run a few rounds without moving time."""
        for _ in range(self._settle_rounds):
            await asyncio.sleep(0)

    async def advance(self, dt: float) -> None:
        """Move time forward by ``dt``, waking due sleepers in deadline order on the way."""
        if dt < 0:
            raise ValueError("time only moves forward")
        target = self._now + dt
        await self.settle()
        while (deadline := self.next_deadline()) is not None and deadline <= target:
            await self._wake_earliest()
        self._now = max(self._now, target)
        await self.settle()

    async def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (no-op if it has already passed)."""
        await self.advance(max(0.0, when - self._now))

    async def run_until_idle(self, max_wakeups: int = 100_000) -> None:
        """Wake sleepers, earliest first, until nobody sleeps any more."""
        await self.settle()
        for _ in range(max_wakeups):
            if self.next_deadline() is None:
                return
            await self._wake_earliest()
        raise RuntimeError(f"still sleepers after {max_wakeups} wake-ups")

    # -- internals ---------------------------------------------------------------------------

    def _drop_dead(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    async def _wake_earliest(self) -> None:
        """Set time to the earliest deadline, wake every sleeper due then, let them run."""
        self._drop_dead()
        if not self._sleepers:
            return
        deadline = self._sleepers[0][0]
        self._now = max(self._now, deadline)
        while self._sleepers and self._sleepers[0][0] <= deadline:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        await self.settle()
