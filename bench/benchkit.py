"""What the benchmarks share: an event-loop ticker and a loopback server in its own process.

The ticker measures the event loop's worst lateness for a 5 ms sleep while work runs beside
it (the figure every stall target in the issues means); the server is ``tests/loopback.py``
started as a child process, so its CPU is not the measured process's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Ticker", "loopback"]

ROOT = Path(__file__).resolve().parent.parent


class Ticker:
    """The longest time the event loop was late for a 5 ms sleep, while running, and the CPU
    the loop's thread used meanwhile (``worst_cpu``): on a busy machine a stall is partly
    waiting for a core, which the CPU figure leaves out."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.005)
            late = time.perf_counter() - before - 0.005
            if late > self.worst:
                self.worst, self.worst_cpu = late, time.thread_time() - cpu

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> float:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.worst


@contextmanager
def loopback(args: Sequence[str] = (), cpus: set[int] | None = None) -> Iterator[str]:
    """``tests/loopback.py ARGS`` on 127.0.0.1 in a child process (pinned to ``cpus`` when
    given); yields its base URL and stops it afterwards."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "loopback.py"), "--port", "0",
                             "--lifetime", "3600", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if cpus is not None:
        os.sched_setaffinity(proc.pid, cpus)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"loopback server did not start: {line!r}")
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
