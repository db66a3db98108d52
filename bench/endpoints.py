"""Several endpoints: throughput against their combined limit, and what a dead one costs.

    .venv/bin/python bench/endpoints.py [--n 240] [--rate 20/1.0] [--latency 0.1]
                                        [--repeats 3] [--hang-timeout 5]

Each live endpoint is ``tests/loopback.py`` in its own process (``benchkit.loopback``): it
answers after LATENCY seconds and refuses requests past RATE (N per W seconds, a sliding
window) with 429s, publishing the ``x-ratelimit-*`` headers the engine learns its limits
from; no ``rpm`` is configured. The engine is given ``EndpointSpec``s as ``job.py`` builds
them from ``[[endpoints]]``, and its events are folded by the product's own
``EndpointBoard``, so the per-endpoint counts are those ``summary.endpoints`` would give.
Each scenario starts fresh servers, so no window carries over.

Figures (medians of --repeats runs, each run's walls listed):
1. one rate-limited endpoint: wall and its share of the ideal
2. two of them: wall against the ideal at the sum of their limits, speed-up over one
3. nothing listening on a third (first in the list): wall against (2), i.e. what the dead
   one cost, and the requests it was sent (refused connections)
4. a third that accepts connections and never answers (a hung server), request timeout
   HANG_TIMEOUT: wall against (2), and its timeouts

The ideal at the combined limit, for k endpoints of N requests per W seconds and n
requests: n / (kN / W) + LATENCY, every request sent at the combined rate. A client that
sent each window's N at once could do slightly better on a sliding window (the last request
starting at floor((n - 1) / (kN)) * W); that floor is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from benchkit import loopback  # noqa: E402
from enginekit import FIELDS, items  # noqa: E402
from test_failfast import closed_port  # noqa: E402

from extractor_tui.core.dispatch import GateConfig  # noqa: E402
from extractor_tui.core.endpoint_board import EndpointBoard  # noqa: E402
from extractor_tui.core.engine import Engine, EngineConfig, EndpointSpec  # noqa: E402
from extractor_tui.core.events import Event  # noqa: E402
from extractor_tui.core.llm.openai_client import OpenAIClient  # noqa: E402
from extractor_tui.core.model import ChunkStatus, EndpointHealth  # noqa: E402

MODEL = "loopback-1"


@dataclass
class Run:
    wall: float
    completed: int
    failed: int
    health: tuple[EndpointHealth, ...]


@contextmanager
def nothing_listening() -> Iterator[str]:
    """A port nobody listens on: every connection is refused."""
    yield f"http://127.0.0.1:{closed_port()}/v1"


@contextmanager
def hung() -> Iterator[str]:
    """A port that completes TCP handshakes and never answers: a server that hangs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


async def run_pool(urls: Sequence[tuple[str, str]], n: int, timeout: float) -> Run:
    board = EndpointBoard()

    def sink(event: Event) -> None:
        board.apply(event)

    specs = [EndpointSpec(name, OpenAIClient(base_url=url, api_key=f"bench-{name}",
                                             timeout=timeout), (), 1.0, GateConfig(maximum=20))
             for name, url in urls]
    config = EngineConfig(concurrency=20, retries=6, timeout=timeout)
    engine = Engine(specs, FIELDS, model=MODEL, config=config, sink=sink,
                    rng=random.Random(1))
    start = time.perf_counter()
    try:
        result = await engine.run(items(n, words=24))
    finally:
        wall = time.perf_counter() - start
        await engine.aclose()
    return Run(wall, result.count(ChunkStatus.COMPLETED), result.count(ChunkStatus.FAILED),
               board.health())


def scenario(live: int, extra: Callable[[], AbstractContextManager[str]] | None, extra_name: str,
             args: argparse.Namespace, timeout: float) -> Run:
    server_args = ("--latency", str(args.latency), "--rate-limit", args.rate)
    with ExitStack() as stack:
        urls = []
        if extra is not None:
            urls.append((extra_name, stack.enter_context(extra())))
        for i in range(live):
            urls.append((f"live-{i + 1}", stack.enter_context(loopback(server_args))))
        return asyncio.run(run_pool(urls, args.n, timeout))


def describe(health: EndpointHealth) -> str:
    why = f" ({health.reason[:60]})" if health.reason else ""
    return (f"{health.name}: {health.requests} sent, {health.answers} answers, "
            f"{health.rate_limited}x 429, {health.errors} errors, {health.breaker.value}{why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=240, help="chunks per run")
    parser.add_argument("--rate", default="20/1.0", help="each live endpoint's limit, N/SECONDS")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hang-timeout", type=float, default=5.0,
                        help="request timeout in the hung-endpoint scenario (seconds)")
    args = parser.parse_args()
    per_window, window = args.rate.split("/")
    limit, seconds = int(per_window), float(window)
    n, latency = int(args.n), float(args.latency)

    def ideal(k: int) -> float:
        return n / (k * limit / seconds) + latency

    def floor(k: int) -> float:
        return math.floor((n - 1) / (k * limit)) * seconds + latency

    scenarios: dict[str, Callable[[], Run]] = {
        "1 endpoint": lambda: scenario(1, None, "", args, 30.0),
        "2 endpoints": lambda: scenario(2, None, "", args, 30.0),
        "dead + 2": lambda: scenario(2, nothing_listening, "dead", args, 30.0),
        "hung + 2": lambda: scenario(2, hung, "hung", args, args.hang_timeout),
    }
    runs: dict[str, list[Run]] = {name: [] for name in scenarios}
    for _ in range(args.repeats):  # interleaved, so a busy moment hits every scenario
        for name, run in scenarios.items():
            runs[name].append(run())

    print(f"n = {args.n} chunks, each live endpoint {limit} requests per {seconds:g} s "
          f"(sliding window, limits learned from headers), latency {args.latency:g} s; "
          f"medians of {args.repeats} runs")
    walls = {name: statistics.median(r.wall for r in rs) for name, rs in runs.items()}
    for number, (name, rs) in enumerate(runs.items(), 1):
        k = 1 if name == "1 endpoint" else 2
        spread = " ".join(f"{r.wall:.2f}" for r in rs)
        done = "/".join(str(r.completed) for r in rs)
        failed = sum(r.failed for r in rs)
        line = (f"{number}. {name:<11} {walls[name]:6.2f} s = {walls[name] / ideal(k):.3f} x "
                f"ideal {ideal(k):.2f} s at {k * limit / seconds:g}/s, {walls[name] / floor(k):.3f}"
                f" x the burst floor {floor(k):.2f} s (runs {spread}); "
                f"completed {done}, failed {failed}")
        if name == "2 endpoints":
            line += f"; {walls['1 endpoint'] / walls[name]:.2f}x the speed of one"
        if name in ("dead + 2", "hung + 2"):
            line += f"; costs {walls[name] - walls['2 endpoints']:+.2f} s over 2 endpoints"
        print(line)
        median_run = sorted(rs, key=lambda r: r.wall)[len(rs) // 2]
        for health in median_run.health:
            print(f"     {describe(health)}")
    print(f"   (hung: request timeout {args.hang_timeout:g} s; the others 30 s)")


if __name__ == "__main__":
    main()
