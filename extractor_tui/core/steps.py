"""Long passes over every document, written once and run two ways.

A pass over 10,000 documents (storing their merged results, the report, the JSON text) took
the event loop 1-3 s each at the end of a run: the Run screen froze, and the CLI's progress
line and Ctrl-C with it. Threads would not help: the passes read the one SQLite connection
and the Job's dictionaries, which the loop's other tasks use too. So each pass is a
generator that yields between documents, at points where everything it touched is
consistent. ``finish`` runs it straight through (synchronous callers, tests); ``finish_async``
runs it in slices of ``SLICE_S`` and lets the loop run between them.

Between two slices the loop goes round ``TURNS`` times, not once. A task asleep on a timer
takes two turns to run again (the timer fires and sets a future; the task wakes in the next
turn), so with one turn between slices it waited out two or three whole slices: a 5 ms sleep
came back 68-80 ms late while the results of 10,000 documents were stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any, TypeVar

from extractor_tui.heap import keep

__all__ = ["DROP", "KEEP_SLICES", "SLICE_S", "TURNS", "Steps", "drop_async", "finish",
           "finish_async"]

_T = TypeVar("_T")

Steps = Generator[None, None, _T]
"""A pass that yields at each point where the loop may run, and returns its result."""

SLICE_S = 0.02
"""How long a slice of a pass may hold the loop: well under a frame of the app (and the
100 ms a person notices), well over the cost of one trip around the loop."""


KEEP_SLICES = 3
"""Slices of a pass between two ``heap.keep``-s."""

TURNS = 3
"""Trips around the loop between two slices: the turn a due timer fires in, the turn the
task it woke runs in, and one for what that task started (a socket read, a screen update)."""


def finish(steps: Generator[None, None, _T]) -> _T:
    """Run a pass to its end without letting anything else run."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def finish_async(steps: Generator[None, None, _T]) -> _T:
    """Run a pass on the event loop, giving the loop back every ``SLICE_S`` seconds."""
    slice_s = SLICE_S  # read now: a test makes it 0
    keep()  # what came before the pass (a run's outcomes) out of its full GC passes
    await _give_way()  # the pass starts in a turn of its own, not after what came before it
    ends = time.perf_counter() + slice_s
    slices = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if time.perf_counter() >= ends:
            slices += 1
            if slices % KEEP_SLICES == 0:
                keep()  # what the pass builds lives on (results, the report): ``heap.py``
            await _give_way()
            ends = time.perf_counter() + slice_s


DROP = 1000
"""Items freed per turn by ``drop_async``."""


async def drop_async(items: list[Any]) -> None:
    """Empty ``items`` ``DROP`` at a time, the loop running between: the 10,000 documents of
    a report, freed at once when the command returned, held it 40-60 ms. (A thread would
    not help: freeing is one C call that keeps the GIL.)"""
    while items:
        del items[-DROP:]
        await _give_way()


async def _give_way() -> None:
    for _ in range(TURNS):
        await asyncio.sleep(0)
