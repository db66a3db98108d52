"""Where an ``extractor run``'s event-loop stalls come from: its slowest loop turns, what ran
in each, and its slowest session transactions. Prints figures; asserts nothing.

``bench/scale.py`` says how late a 5 ms timer came back at worst; this says why. It runs
``extractor run`` over generated documents against ``tests/loopback.py`` in a child process
whose loop is instrumented:

* **Loop turns** (``BaseEventLoop._run_once``): every turn whose callbacks took over
  ``--turn-ms``, with its callbacks' wall and thread-CPU time, the coroutine each one resumed
  (where it was suspended before and after the step: ``function:line`` from the outermost
  down), and the GC and session-transaction time inside it. Tasks are the pure-Python kind
  (``asyncio.tasks._PyTask``), so a step can be traced to its coroutine: the run is slower
  than a plain one, and its figures are for finding causes, not for targets.
* **Late timers**: each time a 5 ms sleep came back more than ``--late-ms`` late, the four
  turns before it. A sleeping task needs two turns to run again (the timer's callback, then
  the task), so lateness is often two or three ordinary turns in a row, not one long one.
* **Slow transactions**: ``EventWriter.transaction`` blocks over 10 ms, with their CPU time:
  a long one with little CPU waited for I/O (a WAL checkpoint) or for another connection.

What it found (issue 14): the end of a run sorting 12,000 outcomes through ``__lt__`` (32 ms),
slices of a pass back to back (a sleeping task waited out three), WAL checkpoints inside
commits (25-106 ms, 2 ms of CPU), a tokenizer built on a thread (one call holding the GIL
70 ms: the turns were short and still the timer was late; that shape means another thread).

    .venv/bin/python bench/loop_turns.py --docs 10000 --work /tmp/lt
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import ROOT, loopback  # noqa: E402
from scale import _small_docs  # noqa: E402

_CHILD = r"""
import asyncio, gc, json, sys, threading, time
import asyncio.base_events as base_events, asyncio.events as events, asyncio.tasks as tasks
from contextlib import contextmanager

TURN_S, LATE_S = float(sys.argv[1]) / 1000, float(sys.argv[2]) / 1000
sys.argv = ["extractor", *json.loads(sys.argv[3])]
tasks.Task = asyncio.Task = tasks._PyTask  # steps traceable to their coroutine

from rich.console import Console
from extractor_tui.cli import _parser
from extractor_tui.cli_run import prepare, run_command
from extractor_tui.core import _session_schema

def where(coro):
    out = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is None:
            break
        out.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return ">".join(out[-4:])

turn = {"callbacks": [], "gc": 0.0, "tx": 0.0}
long_turns, ring, late, slow_tx = [], [], [], []
run_handle = events.Handle._run

def timed_run(handle):
    started, cpu = time.perf_counter(), time.thread_time()
    task = getattr(handle._callback, "__self__", None)
    before = where(task.get_coro()) if isinstance(task, tasks._PyTask) else ""
    try:
        return run_handle(handle)
    finally:
        after = where(task.get_coro()) if isinstance(task, tasks._PyTask) else ""
        turn["callbacks"].append((time.perf_counter() - started, time.thread_time() - cpu,
                                  before or repr(handle)[:70], after))

events.Handle._run = timed_run
run_once = base_events.BaseEventLoop._run_once

def timed_once(loop):
    turn["callbacks"], turn["gc"], turn["tx"] = [], 0.0, 0.0
    run_once(loop)
    wall = sum(c[0] for c in turn["callbacks"])
    top = sorted(turn["callbacks"], key=lambda c: -c[0])[:3]
    summary = (wall, sum(c[1] for c in turn["callbacks"]), len(turn["callbacks"]),
               turn["gc"], turn["tx"], top)
    ring.append(summary)
    del ring[:-4]
    if wall > TURN_S:
        long_turns.append(summary)

base_events.BaseEventLoop._run_once = timed_once
gc_started = [0.0]

def on_gc(phase, info):
    if phase == "start":
        gc_started[0] = time.perf_counter()
    else:
        turn["gc"] += time.perf_counter() - gc_started[0]

gc.callbacks.append(on_gc)
transaction = _session_schema.EventWriter.transaction

@contextmanager
def timed_transaction(writer):
    started, cpu = time.perf_counter(), time.thread_time()
    with transaction(writer) as db:
        yield db
    took = time.perf_counter() - started
    turn["tx"] += took
    if took > 0.01:
        slow_tx.append((took, time.thread_time() - cpu, threading.current_thread().name))

_session_schema.EventWriter.transaction = timed_transaction

async def ticker():
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.005)
        lateness = time.perf_counter() - before - 0.005
        if lateness > LATE_S:
            late.append((lateness, list(ring)))

async def main(args):
    tick = asyncio.create_task(ticker())
    try:
        return await run_command(args, Console(stderr=True, file=open("/dev/null", "w")))
    finally:
        tick.cancel()

args = _parser().parse_args(sys.argv[1:])
prepare(args)
code = asyncio.run(main(args))

def ms(seconds):
    return f"{seconds * 1000:.0f}"

def show(summary, indent="  "):
    wall, cpu, count, in_gc, in_tx, top = summary
    print(f"{indent}turn {ms(wall)} ms (cpu {ms(cpu)}), {count} callbacks, gc {ms(in_gc)} ms, "
          f"transactions {ms(in_tx)} ms")
    for took, took_cpu, before, after in top:
        if took >= 0.001:
            print(f"{indent}  {ms(took)} ms (cpu {ms(took_cpu)}) {before} -> {after}")

print(f"exit {code}; turns over {ms(TURN_S)} ms: {len(long_turns)}")
for summary in sorted(long_turns, key=lambda s: -s[0])[:8]:
    show(summary)
print(f"a 5 ms sleep more than {ms(LATE_S)} ms late: {len(late)} times; the worst, with the "
      "four turns before it (oldest first):")
for lateness, turns in sorted(late, key=lambda l: -l[0])[:3]:
    print(f"  {ms(lateness)} ms late")
    for summary in turns:
        show(summary, "    ")
print(f"transactions over 10 ms: {len(slow_tx)}")
for took, cpu, thread in sorted(slow_tx, reverse=True)[:8]:
    print(f"  {ms(took)} ms (cpu {ms(cpu)}) on {thread}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/extractor-loop-turns"))
    parser.add_argument("--turn-ms", type=float, default=40.0)
    parser.add_argument("--late-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    folder = _small_docs(args.work / f"docs-{args.docs}", args.docs, seed=args.docs)
    session = args.work / "turns.sqlite"
    session.unlink(missing_ok=True)
    with loopback(["--latency", "0.005", "--max-requests", "10000000"]) as url:
        run = ["run", str(folder), "--preset", "invoice", "--base-url", url, "--model",
               "gpt-4o-mini", "--session", str(session), "--output",
               str(args.work / "turns.json")]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENAI_API_KEY": "bench",
               "HOME": str(args.work), "XDG_CONFIG_HOME": str(args.work / "config"),
               "XDG_STATE_HOME": str(args.work / "state")}
        import json
        done = subprocess.run([sys.executable, "-c", _CHILD, str(args.turn_ms),
                               str(args.late_ms), json.dumps(run)], env=env, cwd=ROOT,
                              check=False)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
