"""Capped answers: every request carries a token cap computed from the field set (or the
configured one), in the field the model takes (``max_completion_tokens`` for OpenAI's
reasoning models), and an answer cut at the cap still splits the chunk, even where the
server does not say "length" (llama-cpp-python ends a cut tool call with "tool_calls")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clikit import model_responder
from loopback import Fault, LoopbackServer

from extractor_tui.config import Settings
from extractor_tui.core.events import ChunkSplit, Event
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType, preset
from extractor_tui.core.job import Job
from extractor_tui.core.llm.openai_client import cap_parameter
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.prompts import answer_token_cap
from extractor_tui.core.session import Session

INVOICE = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices" / "acme-2024-0117.txt"


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str,
              **more: Any) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_MAX_OUTPUT_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    values: dict[str, Any] = {"base_url": base_url, "api_key": "sk-test-not-a-key",
                              "model": "loopback-1", "timeout_s": 5.0}
    values.update(more)
    return Settings(**values)


async def _run(settings: Settings, tmp_path: Path) -> tuple[Job, list[Event]]:
    events: list[Event] = []
    with Session.open(tmp_path / "s.sqlite") as session:
        job = Job(settings, preset("invoice"), session, sink=events.append)
        try:
            await job.add_paths([INVOICE])
            await job.run()
        finally:
            await job.aclose()
    return job, events


def test_the_cap_grows_with_the_fields_and_lists_cost_more() -> None:
    one = FieldSet((FieldSpec("a", FieldType.STRING),))
    single = FieldSet(tuple(FieldSpec(f"f{i}", FieldType.STRING) for i in range(12)))
    lists = FieldSet(tuple(FieldSpec(f"f{i}", FieldType.STRING, many=True) for i in range(12)))
    assert answer_token_cap(one) == 256  # the floor
    assert 256 < answer_token_cap(single) < answer_token_cap(lists)
    # Far above what the offline provider answers for these presets on sample_docs (the
    # largest answer is 556 tokens, medical), far below a runaway answer (6,848 tokens).
    assert 556 * 2 < answer_token_cap(preset("medical")) < 6848 / 2
    assert answer_token_cap(preset("invoice"), "o3-mini") >= 25_000 + answer_token_cap(
        preset("invoice"))


@pytest.mark.parametrize(("model", "field"), [
    ("gpt-4o-mini", "max_tokens"), ("gpt-4.1", "max_tokens"), ("llama3", "max_tokens"),
    ("o1", "max_completion_tokens"), ("o3-mini", "max_completion_tokens"),
    ("o4-mini", "max_completion_tokens"), ("gpt-5", "max_completion_tokens"),
    ("gpt-5-mini", "max_completion_tokens"), ("openai/o3", "max_completion_tokens")])
def test_the_cap_field_follows_the_model(model: str, field: str) -> None:
    assert cap_parameter(model) == field


async def test_every_request_carries_the_cap(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    async with LoopbackServer(responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, chunk_tokens=60,
                             overlap_tokens=0)
        job, _ = await _run(settings, tmp_path)
    chats = [r.body for r in server.log if r.path == "/v1/chat/completions"]
    assert len(chats) > 1
    assert {b["max_tokens"] for b in chats} == {answer_token_cap(preset("invoice"))}
    assert all("max_completion_tokens" not in b for b in chats)


async def test_a_configured_cap_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EXTRACTOR_MAX_OUTPUT_TOKENS", "700")
    async with LoopbackServer(responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url)
        monkeypatch.setenv("EXTRACTOR_MAX_OUTPUT_TOKENS", "700")
        settings = Settings(**{**settings.model_dump(), "max_output_tokens": 700})
        await _run(settings, tmp_path)
    assert {r.body["max_tokens"] for r in server.log if r.body} == {700}


async def test_a_reasoning_model_is_capped_with_max_completion_tokens(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The OpenAI profile refuses max_tokens for o3-mini with OpenAI's own 400.
    async with LoopbackServer(profile="openai", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, model="o3-mini")
        job, _ = await _run(settings, tmp_path)
    assert job.outcomes and all(o.status is ChunkStatus.COMPLETED for o in job.outcomes.values())
    bodies = [r.body for r in server.log if r.body]
    assert all(b["max_completion_tokens"] == answer_token_cap(preset("invoice"), "o3-mini")
               and "max_tokens" not in b for b in bodies)


async def test_a_tool_call_cut_at_the_cap_still_splits_the_chunk(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # llama-cpp-python: the cut call says finish_reason "tool_calls"; only the usage shows
    # that it stopped at max_tokens.
    async with LoopbackServer(profile="llama-cpp-python", responder=model_responder,
                              script=[Fault.truncated()]) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, structured_output="tools",
                             chunk_tokens=1000)
        job, events = await _run(settings, tmp_path)
    splits = [e for e in events if isinstance(e, ChunkSplit)]
    assert len(splits) == 1
    first = server.log[0]
    assert first.fault == "truncated" and first.body is not None and first.body["tool_choice"]
    assert job.outcomes and all(o.status is ChunkStatus.COMPLETED for o in job.outcomes.values())


async def test_a_run_whose_only_chunk_is_cut_sends_both_halves(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The parent used to be finished before its halves were counted: with no other chunk
    # open, the run ended there and both halves were cancelled unsent.
    async with LoopbackServer(responder=model_responder, script=[Fault.truncated()]) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, chunk_tokens=1000)
        job, _ = await _run(settings, tmp_path)
    statuses = sorted((o.item.id.part, o.status) for o in job.outcomes.values())
    assert statuses == [((0,), "completed"), ((1,), "completed")]
    assert len([r for r in server.log if r.path == "/v1/chat/completions"]) == 3
