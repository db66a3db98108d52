"""Several endpoints behind one engine (issue 15, Endpoints): routing, fallback, health.

Every test runs over real HTTP on 127.0.0.1 with the real ``openai`` SDK: loopback servers
(``tests/loopback.py``), some rate-limited, one with a refused key, one answering nothing at
all (a port nobody listens on). The engine is given ``EndpointSpec``s, each with its own
client, concurrency, limits and structured-output negotiation.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from enginekit import FAST, FIELDS, Recorder, items
from loopback import Fault, LoopbackServer, RequestInfo
from test_failfast import closed_port

from extractor_tui.core.dispatch import GateConfig
from extractor_tui.core.engine import Engine, EngineConfig, EndpointSpec, RunResult
from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    CircuitClosed,
    CircuitOpened,
    RunStarted,
    StructuredOutputChanged,
)
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.stages import ExtractStage, Stage

MODEL = "loopback-1"
COMPLETED, FAILED, CANCELLED = ChunkStatus.COMPLETED, ChunkStatus.FAILED, ChunkStatus.CANCELLED


def spec(name: str, url: str, *, models: Sequence[str] = (), weight: float = 1.0,
         concurrency: int = 20, rpm: int | None = None,
         gate: GateConfig | None = None) -> EndpointSpec:
    client = OpenAIClient(base_url=url, api_key=f"sk-test-{name}", timeout=FAST.timeout)
    return EndpointSpec(name, client, tuple(models), weight,
                        replace(gate or GateConfig(), maximum=concurrency, rpm=rpm))


async def run_pool(specs: Sequence[EndpointSpec], n: int, *, model: str = MODEL,
                   config: EngineConfig = FAST,
                   stages: Sequence[Stage] = ()) -> tuple[RunResult, Recorder, Engine]:
    recorder = Recorder()
    engine = Engine(specs, FIELDS, model=model, config=config, sink=recorder,
                    rng=random.Random(7), stages=stages)
    try:
        result = await engine.run(items(n))
    finally:
        await engine.aclose()
    return result, recorder, engine


def sent_to(recorder: Recorder) -> Counter[str]:
    return Counter(e.endpoint for e in recorder.of(AttemptStarted))  # type: ignore[attr-defined]


def answered_by(recorder: Recorder) -> Counter[str]:
    return Counter(e.endpoint for e in recorder.of(AttemptFinished)  # type: ignore[attr-defined]
                   if e.outcome == "ok")  # type: ignore[attr-defined]


async def test_one_dead_and_two_rate_limited_endpoints_finish_every_chunk_between_them() -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    async with LoopbackServer(rate_limit=(4, 0.5)) as b, \
            LoopbackServer(rate_limit=(4, 0.5)) as c:
        # The dead endpoint is probed again only after a minute: its cost is what it took
        # to find it dead, whatever the machine's speed.
        result, rec, _ = await run_pool(
            [spec("dead", dead, gate=GateConfig(down_for=60)), spec("b", b.base_url),
             spec("c", c.base_url)], 40, config=replace(FAST, retries=2))
    assert result.fatal is None
    assert result.count(COMPLETED) == 40
    sent = sent_to(rec)
    assert sent["dead"] == 2  # two refused connections alike, then out of service
    answered = answered_by(rec)
    assert answered["b"] > 0 and answered["c"] > 0
    assert answered["b"] + answered["c"] == 40 and not answered["dead"]
    down = [e for e in rec.of(CircuitOpened) if e.endpoint == "dead"]  # type: ignore[attr-defined]
    assert down and "cannot connect" in down[0].reason  # type: ignore[attr-defined]


async def test_a_refused_key_on_one_endpoint_moves_its_work_to_the_other() -> None:
    async with LoopbackServer(default=Fault.auth_failed()) as bad, LoopbackServer() as good:
        url = bad.base_url
        result, rec, engine = await run_pool(
            [spec("bad", bad.base_url, gate=GateConfig(down_for=60)),
             spec("good", good.base_url)], 12)
    assert result.fatal is None and result.count(COMPLETED) == 12
    assert len(bad.log) == 1  # its first answer took it out of service
    assert answered_by(rec) == Counter({"good": 12})
    out = engine.pool.endpoints[0].out_of_service
    assert out is not None and out.startswith(f"{url}: 401 the API key was refused")


async def test_a_model_served_by_only_one_endpoint_goes_only_there() -> None:
    async with LoopbackServer() as b, LoopbackServer() as c:
        result, rec, _ = await run_pool(
            [spec("b", b.base_url, models=["other-model"]), spec("c", c.base_url,
                                                                 models=[MODEL])], 10)
    assert result.count(COMPLETED) == 10
    assert not b.log and len(c.log) == 10
    assert set(sent_to(rec)) == {"c"}
    started = rec.of(RunStarted)[0]
    assert [(e.name, e.serves) for e in started.endpoints] == [  # type: ignore[attr-defined]
        ("b", False), ("c", True)]


async def test_a_stage_that_names_an_endpoint_sends_only_there_and_stops_with_it() -> None:
    async with LoopbackServer() as b, LoopbackServer() as c:
        named = ExtractStage(FIELDS, MODEL, endpoint="c")
        result, rec, _ = await run_pool([spec("b", b.base_url), spec("c", c.base_url)], 10,
                                        stages=[named])
        assert result.count(COMPLETED) == 10
        assert not b.log and len(c.log) == 10
        started = rec.of(RunStarted)[0]
        assert [(e.name, e.serves) for e in started.endpoints] == [  # type: ignore[attr-defined]
            ("b", False), ("c", True)]
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    async with LoopbackServer() as b:
        result, rec, _ = await run_pool([spec("b", b.base_url), spec("c", dead)], 4,
                                        stages=[named], config=replace(FAST, retries=2))
    assert not b.log  # b serves the model, but the stage named c
    assert result.fatal is not None and result.fatal.startswith(f"{dead}: cannot connect")
    assert result.count(COMPLETED) == 0


async def test_a_model_no_endpoint_serves_stops_the_run_before_anything_is_sent() -> None:
    async with LoopbackServer() as b:
        result, rec, _ = await run_pool([spec("b", b.base_url, models=["qwen2.5-7b"])], 3)
    assert not b.log and not rec.of(AttemptStarted)
    assert result.fatal == f"no endpoint serves the model {MODEL} (b serves qwen2.5-7b)"
    assert result.count(CANCELLED) == 3


async def test_when_no_endpoint_is_left_for_the_model_the_run_stops_with_one_message() -> None:
    async with LoopbackServer(default=Fault.auth_failed()) as b, \
            LoopbackServer(default=Fault.insufficient_quota()) as c:
        result, rec, _ = await run_pool([spec("b", b.base_url), spec("c", c.base_url)], 6)
    assert len(b.log) == 1 and len(c.log) == 1
    assert result.fatal is not None and "\n" not in result.fatal
    assert result.fatal.startswith(f"no endpoint left for the model {MODEL} (b: ")
    assert "401 the API key was refused" in result.fatal
    assert "c: " in result.fatal and "429 insufficient quota" in result.fatal
    assert result.count(FAILED) == 1 and result.count(CANCELLED) == 5
    assert all(e.reason == f"not sent: {result.fatal}"  # type: ignore[attr-defined]
               for e in rec.of(ChunkCancelled))


async def test_an_endpoint_taken_out_is_probed_and_rejoins_when_it_answers() -> None:
    # b refuses its first request, then works; c is slow and one at a time, so the run
    # lasts past b's first probe.
    async with LoopbackServer(script=[Fault.auth_failed()]) as b, \
            LoopbackServer(default=Fault.ok(latency=0.05)) as c:
        result, rec, engine = await run_pool(
            [spec("b", b.base_url, gate=GateConfig(down_for=0.2)),
             spec("c", c.base_url, concurrency=1)], 30)
    assert result.fatal is None and result.count(COMPLETED) == 30
    assert [e.endpoint for e in rec.of(CircuitClosed)] == ["b"]  # type: ignore[attr-defined]
    assert answered_by(rec)["b"] > 0
    assert engine.pool.endpoints[0].out_of_service is None


async def test_a_context_too_long_stops_every_endpoint_of_the_model() -> None:
    async with LoopbackServer(default=Fault.context_too_long()) as b, LoopbackServer() as c:
        result, _, _ = await run_pool([spec("b", b.base_url, concurrency=1),
                                       spec("c", c.base_url, concurrency=1)], 20)
    assert result.fatal is not None and "400 context too long" in result.fatal
    assert result.count(CANCELLED) > 0  # not moved to c: c would refuse it as well


async def test_weights_share_the_work_while_every_endpoint_has_room() -> None:
    async with LoopbackServer() as b, LoopbackServer() as c:
        result, rec, _ = await run_pool([spec("b", b.base_url, weight=3, concurrency=100),
                                         spec("c", c.base_url, weight=1, concurrency=100)],
                                        40)
    assert result.count(COMPLETED) == 40
    sent = sent_to(rec)
    assert abs(sent["b"] - 30) <= 2 and abs(sent["c"] - 10) <= 2


async def test_each_endpoint_negotiates_its_own_structured_output_mode() -> None:
    async with LoopbackServer(profile="llama-cpp-python") as b, \
            LoopbackServer(profile="openai") as c:
        result, rec, engine = await run_pool([spec("b", b.base_url, concurrency=2),
                                              spec("c", c.base_url, concurrency=2)], 12)
    assert result.count(COMPLETED) == 12
    switches = rec.of(StructuredOutputChanged)
    assert [(e.name, e.mode) for e in switches] == [("b", "json_object")]  # type: ignore[attr-defined]
    assert [e.negotiation.mode.value for e in engine.pool.endpoints] == ["json_object",
                                                                         "json_schema"]
    assert all(r.body is not None and r.body["response_format"]["type"] == "json_schema"
               for r in c.log if r.path.endswith("/chat/completions"))


async def test_a_retry_after_a_transient_failure_goes_to_another_endpoint_first() -> None:
    def overloaded(info: RequestInfo) -> Fault:  # a new message each time: not a dead server
        return Fault.server_error(503, message=f"overloaded ({info.index})")

    async with LoopbackServer(script=overloaded) as b, \
            LoopbackServer(default=Fault.ok(latency=0.02)) as c:
        # The backoff outlasts c's first answer, so c has room when the retries come back.
        result, rec, _ = await run_pool(
            [spec("b", b.base_url), spec("c", c.base_url)], 16,
            config=replace(FAST, retries=2, backoff_base=0.2, backoff_cap=0.4))
    # Two attempts each: a chunk that failed on b has its second on c, not on b again.
    assert result.count(COMPLETED) == 16
    failed_on_b = [e for e in rec.of(AttemptFinished)
                   if e.endpoint == "b" and e.outcome != "ok"]  # type: ignore[attr-defined]
    assert failed_on_b
    assert len({e.id for e in failed_on_b}) == len(failed_on_b)  # type: ignore[attr-defined]
