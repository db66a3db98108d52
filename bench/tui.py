"""Bench: the run view under a fake 20,000-request run, timed flush by flush.

Why: the run view must stay responsive when a run has tens of thousands of requests and
the engine reports hundreds of facts every 50 ms. This drives a headless app holding a
``RunView`` and pushes a realistic event stream (all requests planned at once, then ~20 in
flight, some retries, failures and splits, a 429 cool-down) into its ``EventBuffer`` as
fast as the loop allows. Every flush is timed with ``perf_counter``, and so is every paint
of the table (``render_lines``), because a cheap flush is no use if the redraw is slow.
A frame is what a person sees freeze: a 5 ms ticker on the same loop measures every gap in
which the loop ran something else (flush, layout, compositor, paint, a GC pause), less the
time the bench's own event producer held it. The backlog is how many events waited for a
flush and how long the oldest of them waited.
For comparison it also times ``DataTable.add_rows`` for the same number of rows, which is
what the table would cost if it were a DataTable.

    .venv/bin/python bench/tui.py [--requests 20000] [--no-tracemalloc]

The timed pass runs without ``tracemalloc``, which slows allocation several-fold; a second,
identical pass under ``tracemalloc`` gives the peak of Python allocations. ``ru_maxrss`` is
read after the timed pass, before anything else is loaded. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable, Footer

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCompleted,
    ChunkFailed,
    ChunkRetrying,
    ChunkSplit,
    ConcurrencyChanged,
    CoolDownStarted,
    Event,
    RequestPlanned,
    RunFinished,
    RunStarted,
)
from extractor_tui.core.model import ChunkId
from extractor_tui.errors import ErrorKind
from extractor_tui.heap import settle
from extractor_tui.ui import EventBuffer, RequestTable, RunView

SIZE = (160, 50)
IN_FLIGHT = 20
EVENTS_PER_TICK = 500  # pushed per 50 ms of loop time


class Controller:
    """A run controller that steers nothing; its clock is the real monotonic one."""

    def __init__(self) -> None:
        self.maximum = IN_FLIGHT

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def cancel(self) -> None: ...

    def set_concurrency(self, n: int) -> None:
        self.maximum = n

    @property
    def concurrency(self) -> int:
        return self.maximum

    @property
    def concurrency_cap(self) -> int:
        return 100

    @property
    def limit(self) -> int:
        return self.maximum

    @property
    def in_flight(self) -> int:
        return IN_FLIGHT

    def now(self) -> float:
        return time.monotonic()


class BacklogBuffer(EventBuffer):
    """An EventBuffer that remembers when each event arrived, to report how long the
    oldest one waited before a flush applied it."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: deque[float] = deque()
        self.most_pending = 0
        self.longest_wait = 0.0

    def __call__(self, event: Event) -> None:
        super().__call__(event)
        self.arrived.append(time.perf_counter())

    def drain(self, limit: int | None = None) -> list[ChunkId]:
        self.most_pending = max(self.most_pending, self.pending)
        if self.arrived:
            self.longest_wait = max(self.longest_wait, time.perf_counter() - self.arrived[0])
        changed = super().drain(limit)
        while len(self.arrived) > self.pending:
            self.arrived.popleft()
        return changed


class Frames:
    """Gaps in a 5 ms ticker on the app's loop, less the producer's own time in each."""

    TICK = 0.005

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.producing: list[tuple[float, float]] = []  # the producer's (start, end)

    async def tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.TICK)
            after = time.perf_counter()
            held = sum(max(0.0, min(end, after) - max(start, before))
                       for start, end in self.producing[-4:])
            self.gaps.append(max(0.0, after - before - self.TICK - held))


class TimedRunView(RunView):
    """RunView whose every flush is timed."""

    durations: list[float] = []
    without_gc: list[float] = []  # the flushes no full collection landed in

    def flush(self) -> None:
        collections, start = len(GC_PAUSES), time.perf_counter()
        super().flush()
        took = time.perf_counter() - start
        self.durations.append(took)
        if len(GC_PAUSES) == collections:
            self.without_gc.append(took)


PAINTS: list[float] = []
GC_PAUSES: list[float] = []  # full (generation 2) collections; they land in flushes or paints
_gc_started = 0.0


def _on_gc(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if info["generation"] == 2:
        if phase == "start":
            _gc_started = time.perf_counter()
        else:
            GC_PAUSES.append(time.perf_counter() - _gc_started)


gc.callbacks.append(_on_gc)
_render_lines = RequestTable.render_lines


def _timed_render_lines(self: RequestTable, crop: Region) -> list[Strip]:
    start = time.perf_counter()
    lines = _render_lines(self, crop)
    PAINTS.append(time.perf_counter() - start)
    return lines


RequestTable.render_lines = _timed_render_lines  # type: ignore[method-assign]


class BenchApp(App[None]):
    freeze = True  # as ``extractor`` does before it runs the app (heap.settle)

    def __init__(self) -> None:
        super().__init__()
        self.buffer = BacklogBuffer()
        self.controller = Controller()

    def compose(self) -> ComposeResult:
        yield TimedRunView(self.buffer, self.controller,
                           cost=lambda p, c: (p * 0.15 + c * 0.6) / 1_000_000)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunView).table.focus()
        if self.freeze:
            settle()


class FakeRun:
    """A deterministic stream of engine events for ``n`` requests, ~20 in flight."""

    def __init__(self, n: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.ready: deque[tuple[ChunkId, int]] = deque()  # (id, next attempt number)
        self.waiting: list[tuple[float, ChunkId, int]] = []  # retries: (due, id, attempt)
        self.flight: dict[ChunkId, tuple[int, float]] = {}  # id -> (attempt, start)
        self.documents: dict[int, str] = {}

    def plan(self, now: float) -> Iterable[Event]:
        yield RunStarted(self.n, IN_FLIGHT, "openai", "gpt-4o-mini", now)
        for i in range(self.n):
            doc, chunk = divmod(i, 25)
            name = self.documents.setdefault(doc, f"contracts/2024/agreement-{doc:05d}.pdf")
            yield RequestPlanned(ChunkId(doc, chunk), name, (chunk + 1, chunk + 2),
                                 self.rng.randint(300, 2000), now)
            self.ready.append((ChunkId(doc, chunk), 1))

    @property
    def done(self) -> bool:
        return not (self.ready or self.waiting or self.flight)

    def step(self, now: float) -> list[Event]:
        """Finish about half of what is in flight, then refill to the limit."""
        rng, events = self.rng, list[Event]()
        for cid in [c for c in self.flight if rng.random() < 0.5]:
            attempt, start = self.flight.pop(cid)
            took = rng.uniform(0.4, 9.0)
            roll = rng.random()
            if roll < 0.05 and attempt < 3:
                events += [AttemptFinished(cid, attempt, now, took, "transient", 503, "503"),
                           ChunkRetrying(cid, ErrorKind.TRANSIENT, "503 Service Unavailable",
                                         now + rng.uniform(0.5, 3.0), now)]
                self.waiting.append((now + rng.uniform(0.05, 0.3), cid, attempt + 1))
            elif roll < 0.06:
                events += [AttemptFinished(cid, attempt, now, took, "invalid-output", 200,
                                           "not JSON", 1200, 80),
                           ChunkFailed(cid, attempt, now, ErrorKind.INVALID_OUTPUT, "not JSON")]
            elif roll < 0.062 and len(cid.part) < 2:
                halves = tuple(RequestPlanned(h, self.documents[cid.doc], (1, 1), 400, now)
                               for h in cid.halves())
                events += [AttemptFinished(cid, attempt, now, took, "truncated", 200, "length"),
                           ChunkSplit(cid, (halves[0], halves[1]), now)]
                self.ready.extendleft((h.id, 1) for h in reversed(halves))
            else:
                prompt, completion = rng.randint(500, 2500), rng.randint(20, 300)
                events += [AttemptFinished(cid, attempt, now, took, "ok", 200, None, prompt,
                                           completion),
                           ChunkCompleted(cid, attempt, now, took, prompt, completion,
                                          "gpt-4o-mini", (), "{}")]
        due = [w for w in self.waiting if w[0] <= now]
        self.waiting = [w for w in self.waiting if w[0] > now]
        self.ready.extendleft((cid, attempt) for _, cid, attempt in reversed(due))
        while self.ready and len(self.flight) < IN_FLIGHT:
            cid, attempt = self.ready.popleft()
            self.flight[cid] = (attempt, now)
            events.append(AttemptStarted(cid, attempt, now))
        if rng.random() < 0.002:
            events += [CoolDownStarted(now + 2.0, "429 rate_limit_exceeded", now),
                       ConcurrencyChanged(IN_FLIGHT // 2, IN_FLIGHT, "429", now)]
        return events


async def run_view_bench(n: int) -> dict[str, Any]:
    app = BenchApp()
    fake = FakeRun(n)
    frames = Frames()
    async with app.run_test(size=SIZE) as pilot:
        buffer = app.buffer
        ticker = asyncio.create_task(frames.tick())
        started = time.perf_counter()
        for event in fake.plan(app.controller.now()):
            buffer(event)
        frames.producing.append((started, time.perf_counter()))
        while not fake.done:
            pushed, began = 0, time.perf_counter()
            while pushed < EVENTS_PER_TICK and not fake.done:
                batch = fake.step(app.controller.now())
                for event in batch:
                    buffer(event)
                pushed += len(batch)
            frames.producing.append((began, time.perf_counter()))
            await asyncio.sleep(0.05)
        buffer(RunFinished(0, 0, 0, app.controller.now()))
        await pilot.pause(0.3)  # the last flush and paint
        elapsed = time.perf_counter() - started
        ticker.cancel()
        view = app.query_one(RunView)
        summary = buffer.tracker.summary(app.controller.now())
        assert buffer.pending == 0 and view.table.rebuilds == 0
        return {"events": buffer.received, "elapsed": elapsed, "rows": view.table.row_count,
                "done": summary.done, "total": summary.total, "frames": sorted(frames.gaps),
                "most_pending": buffer.most_pending, "longest_wait": buffer.longest_wait}


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()


async def datatable_baseline(n: int) -> tuple[float, float]:
    """Seconds for ``DataTable.add_rows`` with ``n`` rows of the run view's ten columns, and
    until the table has measured them and painted (DataTable defers that to the next idle)."""
    rows = [(Text(f"contracts/2024/agreement-{i // 25:05d}.pdf"), Text(str(i % 25)),
             Text("1–2"), Text("pending"), Text(""), Text(""), Text(""), Text(""),
             Text(f"{800 + i % 1000:,}"), Text("")) for i in range(n)]
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        table.add_columns("Document", "Chunk", "Pages", "Status", "Try", "Error", "Retry",
                          "Time", "Tokens", "In/Out")
        start = time.perf_counter()
        table.add_rows(rows)
        added = time.perf_counter() - start
        await pilot.pause()
        painted = time.perf_counter() - start
    return added, painted


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the setup's objects in the collector's passes (as before "
                             "heap.settle) to compare")
    parser.add_argument("--no-tracemalloc", action="store_true",
                        help="skip the second pass that measures Python's peak allocation")
    args = parser.parse_args(argv)
    BenchApp.freeze = not args.no_freeze
    result = asyncio.run(run_view_bench(args.requests))
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    flushes, paints, pauses = sorted(TimedRunView.durations), sorted(PAINTS), sorted(GC_PAUSES)
    quiet = sorted(TimedRunView.without_gc)  # copies: the tracemalloc pass appends more
    peak = None
    if not args.no_tracemalloc:
        tracemalloc.start()
        asyncio.run(run_view_bench(args.requests))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    baseline = asyncio.run(datatable_baseline(args.requests))

    p95 = flushes[min(len(flushes) - 1, round(0.95 * (len(flushes) - 1)))]
    print(f"run view: {result['rows']:,} rows, {result['events']:,} events in "
          f"{result['elapsed']:.1f} s ({result['done']:,}/{result['total']:,} done), "
          f"{SIZE[0]}x{SIZE[1]} headless, {EVENTS_PER_TICK} events per 50 ms, "
          f"setup {'left in GC passes' if args.no_freeze else 'frozen (heap.settle)'}")
    frames = result["frames"]
    print(f"  slowest frame      {_ms(frames[-1])}   (target < 100 ms: flush, layout, paint "
          "and GC, the producer's time left out)")
    print(f"  p99 frame          {_ms(frames[min(len(frames) - 1, round(0.99 * len(frames)))])}")
    print(f"  event backlog      {result['most_pending']:8,d}   events waiting at a flush at "
          f"most; the oldest waited {_ms(result['longest_wait']).strip()}")
    print(f"  flushes            {len(flushes):8d}")
    print(f"  slowest flush      {_ms(flushes[-1])}   (target < 100 ms)")
    print(f"  slowest, no GC     {_ms(quiet[-1])}   (no full collection inside)")
    print(f"  median flush       {_ms(statistics.median(flushes))}")
    print(f"  p95 flush          {_ms(p95)}")
    print(f"  table paints       {len(paints):8d}   slowest {_ms(paints[-1]).strip()}, "
          f"median {_ms(statistics.median(paints)).strip()}")
    if pauses:
        print(f"  full GC pauses     {len(pauses):8d}   slowest {_ms(pauses[-1]).strip()} "
              "(inside whichever flush or paint it hit)")
    print(f"  max RSS            {maxrss_mb:8.1f} MB   (process, after the timed pass)")
    if peak is not None:
        print(f"  peak (tracemalloc) {peak / 2**20:8.1f} MB   (second pass, same run)")
    print(f"baseline: DataTable.add_rows({args.requests:,} rows) {baseline[0]:.2f} s, "
          f"{baseline[1]:.2f} s until painted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
