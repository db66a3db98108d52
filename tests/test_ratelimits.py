"""429s from a hostile or a busy server (issue 13, items 6 and 7), over real HTTP.

* ``Retry-After: 0`` or a negative ``retry-after-ms`` never skips the wait: each 429 of a
  chunk waits at least a floor that doubles, and counts toward the chunk's cap (one chunk
  made 13,574 requests in 15 s).
* ``Retry-After: 999999`` ends the chunk at once, saying what was asked and what was waited
  (it claimed 60 s of waiting after failing at once).
* A 429 the load did not cause holds back only its own chunk: no shared cool-down, no
  halving (a 25 % fault mix with 429s took 3.4x its clean run).
* A limit enforced quantised, as OpenAI and Azure document it, is paced from its first
  answer's headers: few 429s, none stuck at a concurrency of 1 (61 % refused at 120 RPM).
* A long wait is said on stderr even when it is not a terminal.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from clikit import ServerThread, cli_env, run_cli
from enginekit import FAST, items, run_over
from loopback import Fault, LoopbackServer, RequestInfo

from extractor_tui.core.events import ChunkRetrying, ConcurrencyChanged, CoolDownStarted
from extractor_tui.core.notices import LongWaits

__all__ = ["cli_env"]

# (a generous timeout: on a loaded machine a 2 s one turned a 429 into a transient error)
FLOORED = replace(FAST, rate_limit_floor=0.01, max_rate_limit_wait=1.0, concurrency=2,
                  timeout=10.0)


def rate_limited(**headers: str) -> Fault:
    return Fault.hostile(Fault.rate_limited("none"), headers=headers)


@pytest.mark.parametrize("headers", [{"retry-after": "0"}, {"retry-after-ms": "-5"},
                                     {"retry-after": "-3"}])
async def test_a_zero_or_negative_wait_never_skips_the_floor_or_the_cap(
        headers: dict[str, str]) -> None:
    async with LoopbackServer(default=rate_limited(**headers), max_requests=200) as server:
        result, rec = await run_over(server.base_url, items(1), FLOORED)
    # waits of 0.01, 0.02, 0.04 … s: six fit in the 1 s cap, the seventh would not
    assert len(server.log) == 7
    [outcome] = result.outcomes
    assert outcome.status == "failed"
    assert outcome.message is not None
    assert outcome.message.startswith("still rate limited after waiting 0.6 s in total "
                                      "(cap 1 s)")
    waits = [e.next_at - e.at for e in rec.of(ChunkRetrying)]  # type: ignore[attr-defined]
    assert waits == pytest.approx([0.01 * 2**n for n in range(6)], rel=0.01)


async def test_a_wait_longer_than_the_cap_ends_the_chunk_at_once_saying_so() -> None:
    script = [rate_limited(**{"retry-after-ms": "200"})] * 2 + [
        rate_limited(**{"retry-after": "999999"})]
    async with LoopbackServer(script=script) as server:
        result, _ = await run_over(server.base_url, items(1),
                                   replace(FLOORED, max_rate_limit_wait=600.0))
    assert len(server.log) == 3
    [outcome] = result.outcomes
    assert outcome.status == "failed" and outcome.message is not None
    assert outcome.message.startswith(
        "the server asks to wait 11.6 days (999999 s), more than is left of the 600 s a "
        "chunk may wait out 429s (waited 0.4 s)")


async def test_a_429_the_load_did_not_cause_holds_back_only_its_chunk() -> None:
    def script(info: RequestInfo) -> Fault:
        if info.index == 5:  # no rate-limit headers, nothing else refused around it
            return Fault.rate_limited("retry-after-ms", 0.3)
        return Fault.ok(0.02)

    async with LoopbackServer(script=script) as server:
        result, rec = await run_over(server.base_url, items(40), replace(FAST, concurrency=4))
    assert result.count("completed") == 40
    assert rec.of(CoolDownStarted) == []
    assert [e for e in rec.of(ConcurrencyChanged)
            if "429" in e.reason] == []  # type: ignore[attr-defined]
    refused = server.log[5]
    retried = [r for r in server.log[6:]
               if r.body == refused.body]  # the same chunk, sent again
    assert retried and retried[0].arrived - refused.arrived >= 0.3
    others = [r for r in server.log[6:] if refused.arrived < r.arrived < refused.arrived + 0.25]
    assert len(others) >= 4  # the other workers did not wait


@pytest.mark.parametrize("rpm", [1200, 120])
async def test_a_quantised_limit_is_paced_from_the_first_answer(rpm: int) -> None:
    n = rpm // 60 * 3  # about three seconds at the limit
    async with LoopbackServer(rate_limit=(rpm, 60.0), limiter="quantised",
                              default=Fault.ok(0.02)) as server:
        result, rec = await run_over(server.base_url, items(n), FAST)
    assert result.count("completed") == n
    refused = server.status_counts.get(429, 0)
    assert refused <= max(1, n // 20), server.status_counts  # was 56 % of answers at 120 RPM
    limits = [e.limit for e in rec.of(ConcurrencyChanged)]  # type: ignore[attr-defined]
    assert min(limits, default=FAST.concurrency) > 1


def test_a_long_wait_is_said_on_stderr_when_it_is_not_a_terminal(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(script=[rate_limited(**{"retry-after": "6"})]) as slow:
        done = run_cli(["run", "sample_docs/invoices/acme-2024-0117.txt", "--preset",
                        "invoice", "--base-url", slow.base_url, "--api-key", "sk-test"],
                       capsys)
    assert done.code in (0, 1)
    said = [line for line in done.err.splitlines() if line.startswith("waiting ")]
    assert said == ["waiting 6 s (chunk 0 waits: 429 rate limited: Rate limit reached for "
                    "requests.)"]


def test_long_waits_are_said_once_per_wait() -> None:
    from extractor_tui.core.events import ChunkId
    from extractor_tui.errors import ErrorKind

    waits = LongWaits(long_wait_s=5.0)
    first = ChunkRetrying(ChunkId(0, 1), ErrorKind.BACK_PRESSURE, "429", 30.0, 0.0)
    same_end = ChunkRetrying(ChunkId(0, 2), ErrorKind.BACK_PRESSURE, "429", 30.5, 0.2)
    short = ChunkRetrying(ChunkId(0, 3), ErrorKind.BACK_PRESSURE, "429", 3.0, 0.0)
    transient = ChunkRetrying(ChunkId(0, 4), ErrorKind.TRANSIENT, "500", 60.0, 0.0)
    shared = CoolDownStarted(90.0, "429 rate limit", 1.0)
    assert [waits.notice(e) for e in (first, same_end, short, transient, shared)] == [
        "waiting 30 s (chunk 1 waits: 429)", None, None, None,
        "waiting 89 s (every request waits: 429 rate limit)"]
