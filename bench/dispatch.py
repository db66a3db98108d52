"""Dispatch benchmark: our engine vs a plain AsyncOpenAI + Semaphore, against real HTTP.

The loopback server (tests/loopback.py) runs in its own process, so its CPU does not count
as the client's. Every figure is printed next to the baseline measured in the same run, on
the same server, because the machine is shared and noisy: compare ratios, not absolutes.

On a machine with two or more CPUs the server process is pinned to one CPU and this process
(every client variant) to another. Unpinned, the kernel often runs the server, woken by a
request, on the client's own CPU and preempts the client in the middle of its send, so each
client pays for the server's work; a real provider runs elsewhere. ``--no-pin`` leaves the
placement to the kernel, for comparison.

    .venv/bin/python bench/dispatch.py [--quick] [--repeats N] [--no-pin]

Figures:
1. makespan / ideal, ideal = ceil(n / C) * L, for n = 400 and 1000, C = 20, L = 0.25 s, for
   the engine on its aiohttp transport and on the SDK's default httpx2 one, the path
   ``extractor run`` takes (a Job: session file, tracker, cache, the first request alone
   before the fan-out), the baseline on
   both, and a floor: 20 raw keep-alive sockets sending pre-built bytes, which is what the
   server itself allows (its own CPU and timer granularity)
2. client CPU per request (process CPU seconds / requests), and how often the kernel preempted
   the client (involuntary context switches per request)
3. rate limits as providers publish them, nothing configured in the client: the share of the
   limit achieved, 429s as a share of all answers, failed chunks and the concurrency limit at
   the end, at 1,200 and 120 requests per minute on three kinds of server (a sliding window
   of one second, a sliding window of a minute, and a per-minute budget enforced quantised,
   a bucket of one second's worth, as OpenAI and Azure say they may), and a 3 RPM free tier
   finishing 10 chunks
4. wall time with 25 % injected faults vs none

    .venv/bin/python bench/dispatch.py --only limits   # one section: dispatch, limits, faults
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import openai  # noqa: E402

from benchkit import loopback  # noqa: E402
from enginekit import FIELDS, items  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from extractor_tui.config import Settings  # noqa: E402
from extractor_tui.core.engine import Engine, EngineConfig  # noqa: E402
from extractor_tui.core.job import Job  # noqa: E402
from extractor_tui.core.session import Session  # noqa: E402
from extractor_tui.core.tracker import RequestTracker  # noqa: E402
from extractor_tui.core.llm.openai_client import OpenAIClient, Transport  # noqa: E402
from extractor_tui.core.prompts import make_request  # noqa: E402


SERVER_CPUS: set[int] | None = None  # set by main(): the server's CPU when pinning


def pin_cpus(enabled: bool) -> str:
    """Pin this process to one CPU and reserve another for the server; say what was done."""
    global SERVER_CPUS
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        SERVER_CPUS = None
        return "not pinned" + ("" if enabled else " (--no-pin)") + f", {len(cpus) or '?'} CPUs"
    client_cpu, SERVER_CPUS = cpus[0], {cpus[1]}
    os.sched_setaffinity(0, {client_cpu})
    return f"client on CPU {client_cpu}, server on CPU {cpus[1]}"


def server(*args: str) -> AbstractContextManager[str]:
    """The loopback server with ``args``, on the server's CPU when pinning."""
    return loopback(args, SERVER_CPUS)


@dataclass
class Figures:
    wall: float
    cpu: float
    preempted: int  # involuntary context switches of this process: the kernel ran another
    completed: int
    failed: int
    rate_limited: int
    requests: int
    limit_end: int = 0  # the engine's concurrency limit when the run ended
    ok_sends: tuple[float, ...] = ()  # when each answered (200) attempt was sent, engine clock


def usage() -> tuple[float, float, int]:
    """Wall clock, process CPU, involuntary context switches so far."""
    return (time.perf_counter(), time.process_time(),
            resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw)


def since(start: tuple[float, float, int]) -> tuple[float, float, int]:
    now = usage()
    return now[0] - start[0], now[1] - start[1], now[2] - start[2]


async def run_engine(base_url: str, n: int, concurrency: int, retries: int = 6,
                     transport: Transport = "aiohttp") -> Figures:
    client = OpenAIClient(base_url=base_url, api_key="bench", timeout=30.0, transport=transport)
    statuses: list[int | None] = []
    started: dict[tuple[object, int], float] = {}
    ok_sends: list[float] = []

    def sink(event: object) -> None:
        status = getattr(event, "status", "-")
        key = (getattr(event, "id", None), getattr(event, "attempt", 0))
        if type(event).__name__ == "AttemptStarted":
            started[key] = getattr(event, "at", 0.0)
        if type(event).__name__ == "AttemptFinished":
            statuses.append(status if isinstance(status, int) or status is None else None)
            if status == 200 and key in started:
                ok_sends.append(started[key])

    engine = Engine(client, FIELDS, model="loopback-1",
                    config=EngineConfig(concurrency=concurrency, retries=retries,
                                        invalid_retries=4, timeout=30.0),
                    sink=sink, rng=random.Random(1))
    work = items(n, words=24)
    start = usage()
    result = await engine.run(work)
    wall, cpu, preempted = since(start)
    await client.aclose()
    return Figures(wall, cpu, preempted, result.count("completed"), result.count("failed"),
                   statuses.count(429), len(statuses), engine.pool.limit, tuple(sorted(ok_sends)))


async def run_job(base_url: str, n: int, concurrency: int) -> Figures:
    """The path ``extractor run`` takes: a Job over n one-chunk files in a session file, the
    tracker as its sink, the answers cached and recorded. Loading and registering the files
    is done before the clock starts; the run itself (the first request alone, then the
    fan-out) is timed, as the engine's is."""
    with tempfile.TemporaryDirectory(prefix="dispatch-job-") as folder:
        docs = Path(folder) / "docs"
        docs.mkdir()
        for i in range(n):
            text = " ".join(f"Sentence {i}.{j} says the total is {j}." for j in range(4))
            (docs / f"doc{i:05d}.txt").write_text(text, encoding="utf-8")
        settings = Settings(base_url=base_url, api_key=SecretStr("bench"), model="loopback-1",
                            concurrency=concurrency, retries=6, timeout_s=30.0)
        tracker = RequestTracker()
        with Session.open(Path(folder) / "s.sqlite") as session:
            job = Job(settings, FIELDS, session, sink=tracker.apply)
            await job.add_paths([docs])
            start = usage()
            result = await job.run()
            wall, cpu, preempted = since(start)
            await job.aclose()
    return Figures(wall, cpu, preempted, result.count("completed"), result.count("failed"),
                   0, job.requests, 0, ())


async def run_baseline(base_url: str, n: int, concurrency: int,
                       transport: Transport = "httpx2") -> Figures:
    """What most code does: a semaphore, gather, and the SDK's own retries (default 2)."""
    http = openai.DefaultAioHttpClient(timeout=30.0) if transport == "aiohttp" else None
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key="bench", timeout=30.0, http_client=http)
    gate = asyncio.Semaphore(concurrency)
    work = items(n, words=24)
    outcome = {"ok": 0, "failed": 0}

    async def one(text: str, key: str) -> None:
        request = make_request(fields=FIELDS, chunk_text=text, model="loopback-1", key=key)
        async with gate:
            try:
                await sdk.chat.completions.create(
                    model=request.model, messages=list(request.messages),  # type: ignore[arg-type]
                    response_format=dict(request.response_format))  # type: ignore[arg-type]
                outcome["ok"] += 1
            except openai.OpenAIError:
                outcome["failed"] += 1
            except ValueError:  # a broken body surfaces as a JSON error from the SDK
                outcome["failed"] += 1

    start = usage()
    await asyncio.gather(*(one(item.text, item.key) for item in work))
    wall, cpu, preempted = since(start)
    await sdk.close()
    return Figures(wall, cpu, preempted, outcome["ok"], outcome["failed"], -1, n)


async def run_floor(base_url: str, n: int, concurrency: int) -> Figures:
    """No SDK, no parsing: ``concurrency`` raw keep-alive sockets sending pre-built requests."""
    host, port = base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for item in items(n, words=24):
        request = make_request(fields=FIELDS, chunk_text=item.text, model="loopback-1",
                               key=item.key)
        body = json.dumps({"model": request.model, "messages": list(request.messages),
                           "response_format": dict(request.response_format)}).encode()
        queue.put_nowait(b"POST /v1/chat/completions HTTP/1.1\r\nhost: %s\r\n"
                         b"content-type: application/json\r\ncontent-length: %d\r\n\r\n"
                         % (host.encode(), len(body)) + body)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while not queue.empty():
            writer.write(queue.get_nowait())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
        writer.close()

    start = usage()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu, preempted = since(start)
    return Figures(wall, cpu, preempted, n, 0, 0, n)


KINDS = {"window 1 s": lambda rpm: ("--rate-limit", f"{rpm // 60}/1"),
         "window 60 s": lambda rpm: ("--rate-limit", f"{rpm}/60"),
         "quantised": lambda rpm: ("--rate-limit", f"{rpm}/60", "--quantised")}


def limits(args: argparse.Namespace, concurrency: int, latency: float) -> None:
    """Section 3: each kind of rate limit at 1,200 and 120 RPM, and a 3 RPM free tier."""
    seconds = 10 if args.quick else 25
    print(f"3. rate limits as providers publish them, nothing configured in the client "
          f"(C = {concurrency}, L = {latency} s, about {seconds} s of work each)")
    cases = [(kind, rpm, max(10, rpm * seconds // 60)) for rpm in (1200, 120) for kind in KINDS]
    cases += [(kind, 3, 10) for kind in ("window 60 s", "quantised")]
    for kind, rpm, n in cases:
        with server("--latency", str(latency), *KINDS[kind](rpm)) as url:
            fig = asyncio.run(run_engine(url, n, concurrency))
        # The limit counts requests as they arrive: the rate of the answered requests' sends,
        # first to last (the answers' latency at both ends is not the limit's doing).
        sends = fig.ok_sends
        share = (len(sends) - 1) / (sends[-1] - sends[0]) / (rpm / 60)
        print(f"   {kind:<11} {rpm:>5} RPM, n = {n:>3}: sent at {share:6.1%} of the limit, 429s "
              f"{fig.rate_limited}/{fig.requests} answers ({fig.rate_limited / fig.requests:.1%}), "
              f"{fig.failed} failed chunks, {fig.wall:.1f} s, limit at the end "
              f"{fig.limit_end}/{concurrency}")


def dispatch(args: argparse.Namespace, concurrency: int, latency: float) -> None:
    """Sections 1-2: makespan and CPU against the baselines and the raw-socket floor."""
    sizes = (200,) if args.quick else (400, 1000)
    repeats = 1 if args.quick else args.repeats
    print(f"1-2. makespan / ideal and client CPU per request (C = {concurrency}, "
          f"L = {latency} s); medians of {repeats} interleaved runs")
    baseline = "baseline, httpx2 (SDK default)"
    variants: dict[str, Callable[[str, int], Coroutine[Any, Any, Figures]]] = {
        "engine, aiohttp (default)": lambda url, n: run_engine(url, n, concurrency),
        "engine, httpx2": lambda url, n: run_engine(url, n, concurrency, transport="httpx2"),
        "extractor run path (Job)": lambda url, n: run_job(url, n, concurrency),
        baseline: lambda url, n: run_baseline(url, n, concurrency),
        "baseline, SDK's aiohttp": lambda url, n: run_baseline(url, n, concurrency, "aiohttp"),
        "floor: raw sockets": lambda url, n: run_floor(url, n, concurrency),
    }
    with server("--latency", str(latency)) as url:
        for run in variants.values():  # warm up connections and imports
            asyncio.run(run(url, 40))
        for n in sizes:
            ideal = math.ceil(n / concurrency) * latency
            figures: dict[str, list[Figures]] = {name: [] for name in variants}
            for _ in range(repeats):
                for name, run in variants.items():
                    figures[name].append(asyncio.run(run(url, n)))
            base_cpu = statistics.median(f.cpu / n for f in figures[baseline])
            print(f"   n = {n}, ideal {ideal:.2f} s:")
            for name, runs in figures.items():
                wall = statistics.median(f.wall for f in runs)
                cpu = statistics.median(f.cpu / n for f in runs)
                preempted = statistics.median(f.preempted / n for f in runs)
                spread = " ".join(f"{f.wall / ideal:.3f}" for f in runs)
                print(f"     {name:<31} {wall / ideal:.3f} x ideal ({wall:.2f} s; runs "
                      f"{spread}); CPU/request {cpu * 1000:.2f} ms = "
                      f"{cpu / base_cpu:.2f}x the baseline's; preempted {preempted:.2f}/request")


def faults(args: argparse.Namespace, concurrency: int, latency: float) -> None:
    """Section 4: wall time under 25 % injected faults, with and without 429s."""
    n = 200 if args.quick else 400
    fault_repeats = 1 if args.quick else 3
    print(f"4. wall time with 25 % injected faults vs none (n = {n}, C = {concurrency}, "
          f"L = {latency} s, seed 1); medians of {fault_repeats} runs, each on a fresh server")
    mixes = (("500, 503, drop, malformed, 429 of 100 ms", ()),
             ("500, 503, drop, malformed (no 429)", ("--no-429",)))
    walls: dict[tuple[str, str], list[Figures]] = {}
    for _ in range(fault_repeats):
        with server("--latency", str(latency)) as url:
            walls.setdefault(("clean", "engine"), []).append(
                asyncio.run(run_engine(url, n, concurrency)))
            walls.setdefault(("clean", "baseline"), []).append(
                asyncio.run(run_baseline(url, n, concurrency)))
        for label, extra in mixes:
            fault_args = ("--latency", str(latency), "--fault-rate", "0.25", "--seed", "1",
                          *extra)
            with server(*fault_args) as url:
                walls.setdefault((label, "engine"), []).append(
                    asyncio.run(run_engine(url, n, concurrency, retries=8)))
            with server(*fault_args) as url:
                walls.setdefault((label, "baseline"), []).append(
                    asyncio.run(run_baseline(url, n, concurrency)))
    for label, _ in mixes:
        print(f"   faults: {label}")
        for who in ("engine", "baseline"):
            runs, clean = walls[(label, who)], walls[("clean", who)]
            wall = statistics.median(f.wall for f in runs)
            base = statistics.median(f.wall for f in clean)
            spread = " ".join(f"{f.wall:.2f}" for f in runs)
            print(f"   {who:>8}: {wall:.2f} s vs {base:.2f} s ({wall / base:.2f}x; runs "
                  f"{spread}), failed chunks {' '.join(str(f.failed) for f in runs)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 200 only, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pin", action="store_true",
                        help="let the kernel place the client and the server on any CPU")
    parser.add_argument("--only", choices=("dispatch", "limits", "faults"), default=None)
    args = parser.parse_args()
    concurrency, latency = 20, 0.25
    print(f"CPUs: {pin_cpus(not args.no_pin)}")
    if args.only in (None, "dispatch"):
        dispatch(args, concurrency, latency)
    if args.only in (None, "limits"):
        limits(args, concurrency, latency)
    if args.only in (None, "faults"):
        faults(args, concurrency, latency)


if __name__ == "__main__":
    main()
