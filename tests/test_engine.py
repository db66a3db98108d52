"""The engine over real HTTP: the loopback server injects each fault, the SDK really runs.

Backoff is shortened through ``EngineConfig`` and jitter is seeded, so these tests are fast
and deterministic; cool-downs are whatever the server's headers say (tens of milliseconds).
"""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from dataclasses import replace

import pytest
from enginekit import FAST, FIELDS, Recorder, engine_for, items, run_over
from loopback import Fault, LoopbackServer, RequestInfo

from extractor_tui.core.dispatch import GateConfig
from extractor_tui.core.engine import Engine
from extractor_tui.core.events import (
    AttemptStarted,
    ChunkCompleted,
    ChunkSplit,
    CircuitClosed,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    RequestPlanned,
)
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.model import ChunkStatus


SPENT = {"x-ratelimit-remaining-requests": "0"}  # a 429 that says the budget is used up


def completions(server: LoopbackServer) -> list[float]:
    return [r.arrived for r in server.log if r.path.endswith("/chat/completions")]


async def test_in_flight_reaches_the_limit_and_never_exceeds_it() -> None:
    async with LoopbackServer(default=Fault.ok(latency=0.05)) as server:
        result, rec = await run_over(server.base_url, items(60),
                                     replace(FAST, concurrency=7))
    assert result.count("completed") == 60
    assert server.max_in_flight == 7
    assert rec.tracker.summary().counts[ChunkStatus.COMPLETED] == 60


async def test_concurrency_can_change_mid_run() -> None:
    async with LoopbackServer(default=Fault.ok(latency=0.05)) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=2))
        task = asyncio.create_task(engine.run(items(60)))
        await asyncio.sleep(0.2)
        assert server.max_in_flight == 2
        engine.set_concurrency(9)
        result = await task
        await engine.aclose()
    assert result.count("completed") == 60
    assert server.max_in_flight == 9


async def test_a_429_storm_fails_no_chunk() -> None:
    def script(info: RequestInfo) -> Fault:
        return Fault.rate_limited("retry-after-ms", 0.03) if info.index < 40 else Fault.ok()

    async with LoopbackServer(script=script) as server:
        result, rec = await run_over(server.base_url, items(30), replace(FAST, retries=1))
    assert result.count("completed") == 30
    assert rec.tracker.summary().retries.get("back-pressure", 0) >= 40


@pytest.mark.parametrize("header", ["retry-after-ms", "retry-after", "reset-requests",
                                    "reset-tokens", "none"])
async def test_no_request_is_sent_during_a_cool_down(header: str) -> None:
    wait = 1.0 if header == "retry-after" else 0.3
    # The 429's headers say the budget is spent: the load caused it, so every worker waits.
    spent = Fault.hostile(Fault.rate_limited(header, wait),  # type: ignore[arg-type]
                          headers=SPENT)
    script = [Fault.ok(0.02)] * 5 + [spent]
    async with LoopbackServer(script=script, default=Fault.ok(0.02)) as server:
        result, rec = await run_over(server.base_url, items(20), replace(FAST, concurrency=4))
    assert result.count("completed") == 20
    cooldowns = rec.of(CoolDownStarted)
    assert cooldowns
    # Both dated on the engine's clock, a send when the gate admitted it: no margin needed.
    for cool in cooldowns:
        assert isinstance(cool, CoolDownStarted)
        inside = [e for e in rec.of(AttemptStarted)
                  if cool.at < e.at < cool.until]  # type: ignore[attr-defined]
        assert inside == [], f"{len(inside)} requests sent during the cool-down"


async def test_aimd_halves_on_429_then_grows_back() -> None:
    spent = Fault.hostile(Fault.rate_limited("retry-after-ms", 0.05), headers=SPENT)
    script = [Fault.ok()] * 10 + [spent]
    async with LoopbackServer(script=script, default=Fault.ok(0.01)) as server:
        result, rec = await run_over(server.base_url, items(150), replace(FAST, concurrency=8))
    assert result.count("completed") == 150
    limits = [e.limit for e in rec.of(ConcurrencyChanged)]  # type: ignore[attr-defined]
    assert limits[0] == 4
    assert limits[-1] == 8 and limits == [4, 5, 6, 7, 8]


@pytest.mark.parametrize("fault, words", [
    (Fault.auth_failed(), "401"),
    (Fault.insufficient_quota(), "quota"),
    (Fault.model_not_found(), "404"),
    (Fault.context_too_long(), "context"),
])
async def test_a_fatal_error_opens_the_circuit_with_one_message(fault: Fault, words: str) -> None:
    script = [Fault.ok(0.01)] * 4 + [fault]
    async with LoopbackServer(script=script, default=Fault.ok(0.01)) as server:
        result, rec = await run_over(server.base_url, items(30), replace(FAST, concurrency=2))
    opened = [e for e in rec.of(CircuitOpened) if e.fatal]  # type: ignore[attr-defined]
    assert len(opened) == 1 and words in opened[0].reason  # type: ignore[attr-defined]
    assert result.fatal is not None and words in result.fatal
    assert result.count("completed") >= 4  # nothing finished is lost
    assert result.count("failed") == 1
    assert result.count("completed") + result.count("failed") + result.count("cancelled") == 30
    assert len(completions(server)) <= 4 + 1 + 1  # at most the other in-flight call after it


async def test_a_truncated_chunk_is_split_and_both_halves_complete() -> None:
    async with LoopbackServer(script=[Fault.truncated()]) as server:
        result, rec = await run_over(server.base_url, items(3, words=120),
                                     replace(FAST, concurrency=1))
    splits = rec.of(ChunkSplit)
    assert len(splits) == 1
    labels = [o.item.id.label for o in result.outcomes]
    assert labels == ["0.0", "0.1", "1", "2"]
    assert all(o.status == "completed" for o in result.outcomes)
    first, second = result.outcomes[0].item, result.outcomes[1].item
    assert first.end == second.start and first.text + second.text == items(1, words=120)[0].text


async def test_transient_errors_are_retried_with_their_attempt_history() -> None:
    script = [Fault.server_error(500), Fault.server_error(503), Fault.drop(), Fault.broken_body()]
    async with LoopbackServer(script=script) as server:
        result, rec = await run_over(server.base_url, items(1), replace(FAST, retries=5))
    assert result.count("completed") == 1
    row = rec.tracker.rows[result.outcomes[0].item.id]
    assert [a.status for a in row.attempts] == [500, 503, None, 200, 200]
    assert [a.outcome for a in row.attempts] == ["transient"] * 4 + ["ok"]
    assert row.attempt_count == 5 and row.model_name == "loopback-1"


async def test_transient_budget_runs_out_into_a_failure() -> None:
    # One answer first: before any, the same 502 twice would end the run (test_failfast.py).
    async with LoopbackServer(script=[Fault.ok()], default=Fault.server_error(502)) as server:
        result, _ = await run_over(server.base_url, items(3), replace(FAST, retries=3))
    assert [o.status for o in result.outcomes] == ["completed", "failed", "failed"]
    assert all(o.attempts == 3 and o.reason == "transient" for o in result.outcomes[1:])
    assert "gave up after 3 attempts" in (result.outcomes[1].message or "")


async def test_a_hang_times_out_and_is_retried() -> None:
    async with LoopbackServer(script=[Fault.hang(5.0)]) as server:
        result, rec = await run_over(server.base_url, items(1), replace(FAST, timeout=0.3))
    assert result.count("completed") == 1
    assert "no answer within 0.3 s" in (rec.tracker.rows[result.outcomes[0].item.id]
                                        .attempts[0].error or "")


@pytest.mark.parametrize("fault", [Fault.malformed(), Fault.empty()])
async def test_invalid_output_is_re_asked_with_the_error(fault: Fault) -> None:
    async with LoopbackServer(script=[fault]) as server:
        result, _ = await run_over(server.base_url, items(1))
    assert result.count("completed") == 1
    second = [r.body for r in server.log if r.body][1]
    assert second is not None
    last = second["messages"][-1]["content"]
    assert last.startswith("Your previous answer") or "invalid" in last.lower()


async def test_invalid_output_budget_runs_out_into_a_failure() -> None:
    async with LoopbackServer(default=Fault.malformed()) as server:
        result, _ = await run_over(server.base_url, items(1), replace(FAST, invalid_retries=2))
    outcome = result.outcomes[0]
    assert outcome.status == "failed" and outcome.attempts == 3
    assert outcome.reason == "invalid-output" and outcome.raw


async def test_the_breaker_opens_when_most_calls_fail_then_a_probe_closes_it() -> None:
    script = [Fault.drop()] * 8
    async with LoopbackServer(script=script, default=Fault.ok()) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(
            FAST, concurrency=1, retries=10, gate=GateConfig(breaker_open_for=0.2)))
        result = await engine.run(items(6))
        await engine.aclose()
    assert result.count("completed") == 6
    opened = rec.of(CircuitOpened)
    assert opened and not opened[0].fatal  # type: ignore[attr-defined]
    assert rec.of(CircuitClosed)
    first_open = opened[0]
    sent_while_open = [e for e in rec.of(AttemptStarted)  # on the engine's clock, as the breaker
                       if first_open.at < e.at < first_open.until]  # type: ignore[attr-defined, operator]
    assert sent_while_open == []


async def test_a_server_side_rate_limit_fails_no_chunk() -> None:
    # 50 requests/s allowed, 20 in flight at 10 ms each could send ~2,000/s. How rare the
    # remaining/reset headers keep the 429s is a figure of bench/dispatch.py (section 3).
    async with LoopbackServer(rate_limit=(25, 0.5), default=Fault.ok(0.01)) as server:
        result, rec = await run_over(server.base_url, items(200), replace(FAST, concurrency=20))
    assert result.count("completed") == 200
    refused = server.status_counts.get(429, 0)
    assert rec.tracker.summary().retries.get("back-pressure", 0) == refused


async def test_configured_rpm_paces_requests() -> None:
    async with LoopbackServer(default=Fault.ok()) as server:
        result, rec = await run_over(server.base_url, items(30),
                                     replace(FAST, rpm=1200, concurrency=20))  # 20 per second
    assert result.count("completed") == 30
    # Send times on the engine's clock (arrival times would add connection set-up jitter):
    # one second's worth (20) may go at once, the other 10 are spread at 20 per second.
    sent = sorted(e.at for e in rec.of(AttemptStarted))  # type: ignore[attr-defined]
    # The budget's promise, whatever the machine's speed: past one second's burst (20), the
    # sends between any two span at least the time 20 per second needs for them.
    for first in range(len(sent)):
        for last in range(first + 20, len(sent)):
            assert sent[last] - sent[first] >= (last - first + 1 - 20) / 20 - 1e-9


async def test_cancel_leaves_no_task_behind_and_keeps_what_finished() -> None:
    script = [Fault.ok()] * 3
    async with LoopbackServer(script=script, default=Fault.hang(10.0)) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=4, timeout=20.0))
        before = asyncio.all_tasks()
        task = asyncio.create_task(engine.run(items(20)))
        await asyncio.sleep(0.3)
        engine.cancel()
        result = await asyncio.wait_for(task, 2.0)
        await engine.aclose()
        leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert [t for t in leftover if not t.done()] == []
    assert result.cancelled and result.count("completed") == 3
    assert result.count("cancelled") == 17
    assert rec.tracker.summary().counts[ChunkStatus.CANCELLED] == 17


async def test_cancelling_the_run_task_also_accounts_for_every_chunk() -> None:
    async with LoopbackServer(default=Fault.hang(10.0)) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=3, timeout=20.0))
        task = asyncio.create_task(engine.run(items(5)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await engine.aclose()
    counts = rec.tracker.summary().counts
    assert counts[ChunkStatus.CANCELLED] == 5 and not engine.running


async def test_an_error_inside_the_run_ends_it_loudly_instead_of_hanging() -> None:
    """A sink that cannot record (a full disk, a bug) must not be lost in a task nobody awaits."""
    async with LoopbackServer(default=Fault.ok(0.01)) as server:
        rec = Recorder()

        def sink(event: object) -> None:
            rec(event)  # type: ignore[arg-type]
            if isinstance(event, ChunkCompleted) and event.id.chunk == 3:
                raise OSError(28, "No space left on device")

        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=4))
        engine._sink = sink
        before = asyncio.all_tasks()
        with pytest.raises(OSError, match="No space left"):
            await asyncio.wait_for(engine.run(items(40)), 5.0)
        await engine.aclose()
        leftover = asyncio.all_tasks() - before - {asyncio.current_task()}
    assert [t for t in leftover if not t.done()] == [] and not engine.running
    counts = rec.tracker.summary().counts
    assert counts[ChunkStatus.COMPLETED] + counts[ChunkStatus.CANCELLED] == 40


async def test_an_engine_keeps_nothing_of_the_runs_it_finished() -> None:
    """An engine lives as long as the app: a run's chunks (their text) go with the run."""
    async with LoopbackServer(default=Fault.ok()) as server:
        client = OpenAIClient(base_url=server.base_url, api_key="sk-test-not-a-key")
        engine = Engine(client, FIELDS, model="loopback-1", config=FAST)  # no sink keeps events
        try:
            for doc in range(3):
                work = items(4, doc=doc)
                held = [weakref.ref(item) for item in work]
                result = await engine.run(work)
                assert result.count("completed") == 4
                del work, result
                await asyncio.sleep(0)  # the loop lets go of the callback that woke us
                gc.collect()
                assert [ref() for ref in held] == [None] * 4, f"run {doc}'s chunks are held"
        finally:
            await engine.aclose()


async def test_pause_holds_new_requests_until_resume() -> None:
    async with LoopbackServer(default=Fault.ok(0.02)) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=2))
        task = asyncio.create_task(engine.run(items(30)))
        await asyncio.sleep(0.1)
        engine.pause()
        await asyncio.sleep(0.1)  # let the in-flight pair finish
        paused_at = len(completions(server))
        await asyncio.sleep(0.3)
        assert len(completions(server)) == paused_at
        engine.resume()
        result = await task
        await engine.aclose()
    assert result.count("completed") == 30


async def test_every_chunk_is_accounted_for_under_mixed_faults() -> None:
    rng = random.Random(3)
    kinds = [Fault.server_error(500), Fault.server_error(503), Fault.drop(), Fault.malformed(),
             Fault.empty(), Fault.broken_body(), Fault.rate_limited("retry-after-ms", 0.02),
             Fault.truncated()]

    def script(info: RequestInfo) -> Fault:
        return rng.choice(kinds) if rng.random() < 0.25 else Fault.ok(0.005)

    work = items(80, words=120)
    async with LoopbackServer(script=script) as server:
        result, rec = await run_over(server.base_url, work, replace(FAST, retries=8,
                                                                    invalid_retries=5))
    planned = {e.id for e in rec.of(RequestPlanned)}  # type: ignore[attr-defined]
    split = {e.id for e in rec.of(ChunkSplit)}  # type: ignore[attr-defined]
    planned |= {half.id for e in rec.of(ChunkSplit) for half in e.into}  # type: ignore[attr-defined]
    assert split, "the seeded fault mix includes a truncated answer"
    assert {o.item.id for o in result.outcomes} == planned - split
    assert result.count("completed") == len(result.outcomes)
    assert len(rec.of(ChunkCompleted)) == len(result.outcomes)
    assert [o.item.id for o in result.outcomes] == sorted(o.item.id for o in result.outcomes)
    summary = rec.tracker.summary()
    assert summary.done == len(planned - split)
    assert summary.p50 is not None and summary.p95 is not None and summary.p99 is not None
