"""Structured-output modes, negotiated per endpoint, against each real server's profile.

Every run goes through the real ``openai`` SDK over HTTP to the loopback server taking and
refusing structured output the way that server does (``server_profiles.py``). ``auto`` must
end with every chunk answered, having spent none of a chunk's attempts on a refusal; a fixed
mode is never changed behind the user's back.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clikit import ServerThread, model_responder, run_cli
from loopback import LoopbackServer
from server_profiles import PROFILES

from extractor_tui.config import Settings
from extractor_tui.core.events import ChunkFailed, Event, StructuredOutputChanged
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.prompts import request_key
from extractor_tui.core.session import Session
from extractor_tui.core.structured import Mode, names_a_mode
from extractor_tui.errors import FatalProviderError, RateLimited, TransientError

INVOICES = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices"
TWO = [INVOICES / "acme-2024-0117.txt", INVOICES / "kestrel-kp-24-1009.txt"]

# What auto settles on with each server, and the refusals it costs on the way.
SETTLES = {"openai": ("json_schema", 0), "vllm": ("json_schema", 0),
           "llama-server": ("json_schema", 0), "llama-server-2024": ("json_object", 1),
           "llama-cpp-python": ("json_object", 1), "ollama": ("json_schema", 0),
           "lmstudio": ("json_schema", 0), "text-only": ("prompt", 3)}


def _settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, base_url: str,
              **more: Any) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EXTRACTOR_STRUCTURED_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    values: dict[str, Any] = {"base_url": base_url, "api_key": "sk-test-not-a-key",
                              "model": "loopback-1", "chunk_tokens": 120, "overlap_tokens": 0,
                              "retries": 2, "timeout_s": 5.0}
    values.update(more)
    return Settings(**values)


async def _run(server: LoopbackServer, settings: Settings, session: Session,
               paths: list[Path] = TWO) -> tuple[Job, list[Event]]:
    events: list[Event] = []
    job = Job(settings, preset("invoice"), session, sink=events.append)
    try:
        await job.add_paths(paths)
        await job.run()
    finally:
        await job.aclose()
    return job, events


def _chats(server: LoopbackServer) -> list[Any]:
    return [r for r in server.log if r.path == "/v1/chat/completions"]


def _mode_of(body: dict[str, Any]) -> str:
    if body.get("tools"):
        return "tools"
    fmt = body.get("response_format")
    return fmt["type"] if fmt else "prompt"


@pytest.mark.parametrize("profile", sorted(SETTLES))
async def test_auto_answers_every_chunk_under_each_server(
        profile: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mode, refusals = SETTLES[profile]
    async with LoopbackServer(profile=profile, responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url)
        with Session.open(tmp_path / "s.sqlite") as session:
            job, events = await _run(server, settings, session)
            outcomes = list(job.outcomes.values())
            assert outcomes and all(o.status is ChunkStatus.COMPLETED for o in outcomes)
            assert job.engine.pool.endpoints[0].negotiation.mode == Mode(mode)
            switches = [e for e in events if isinstance(e, StructuredOutputChanged)]
            assert len(switches) == refusals
            # A refusal costs no attempt: every request but the refused ones answered a
            # chunk, and no chunk retried for anything else.
            chats = _chats(server)
            refused = [r for r in chats if r.fault == "refused"]
            assert len(chats) - len(refused) == len(outcomes)
            assert all(o.attempts - sum(1 for r in refused if r.body and _sent_for(r, o))
                       == 1 for o in outcomes)
            assert {_mode_of(r.body) for r in chats if r.fault != "refused"} == {mode}
            assert job.report()["summary"]["failed_chunks"] == 0


def _sent_for(record: Any, outcome: Any) -> bool:
    return outcome.item.text in record.body["messages"][-1]["content"]


async def test_llama_cpp_python_moves_to_json_object_once_and_says_so(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # 20 chunks in flight at once all meet the 500; the endpoint moves on once.
    async with LoopbackServer(profile="llama-cpp-python", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, chunk_tokens=40)
        with Session.open(tmp_path / "s.sqlite") as session:
            job, events = await _run(server, settings, session)
    switches = [e for e in events if isinstance(e, StructuredOutputChanged)]
    assert [s.message for s in switches] == [
        "the server does not take json_schema; using json_object with the schema"]
    assert "Input should be 'text' or 'json_object'" in switches[0].reason
    assert not [e for e in events if isinstance(e, ChunkFailed)]
    bodies = [r.body for r in _chats(server) if r.fault != "refused"]
    assert bodies and all(b["response_format"]["type"] == "json_object"
                          and b["response_format"]["schema"]["required"] for b in bodies)


async def test_text_only_server_walks_every_mode_down_to_prompt(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with LoopbackServer(profile="text-only", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url)
        with Session.open(tmp_path / "s.sqlite") as session:
            _, events = await _run(server, settings, session)
    assert [(e.previous, e.mode) for e in events if isinstance(e, StructuredOutputChanged)] == [
        ("json_schema", "json_object"), ("json_object", "tools"), ("tools", "prompt")]
    answered = [r.body for r in _chats(server) if r.fault != "refused"]
    prompt = answered[0]["messages"][-1]["content"]
    assert "must match this JSON Schema" in prompt and "For example" in prompt
    assert all("response_format" not in b and "tools" not in b for b in answered)


async def test_a_resumed_run_starts_in_the_mode_the_session_kept(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with LoopbackServer(profile="llama-cpp-python", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url)
        path = tmp_path / "s.sqlite"
        with Session.open(path) as session:
            await _run(server, settings, session, TWO[:1])
        server.reset_stats()
        with Session.open(path) as session:
            _, events = await _run(server, settings, session, TWO)
        chats = _chats(server)
        assert chats and all(r.fault != "refused" for r in chats)
        assert {_mode_of(r.body) for r in chats} == {"json_object"}
        assert not [e for e in events if isinstance(e, StructuredOutputChanged)]


async def test_a_fixed_mode_is_never_changed(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    async with LoopbackServer(profile="lmstudio", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url,
                             structured_output="json_object")
        with Session.open(tmp_path / "s.sqlite") as session:
            job, events = await _run(server, settings, session)
    assert not [e for e in events if isinstance(e, StructuredOutputChanged)]
    assert job.last_run is not None and job.last_run.fatal is not None
    assert "'response_format.type' must be 'json_schema' or 'text'" in job.last_run.fatal


@pytest.mark.parametrize(("profile", "mode"), [
    ("openai", "tools"), ("vllm", "tools"), ("llama-cpp-python", "tools"),
    ("lmstudio", "tools"), ("llama-server", "tools"), ("openai", "json_object"),
    ("ollama", "json_object"), ("llama-server", "json_object"), ("openai", "prompt"),
    ("ollama", "prompt"), ("llama-cpp-python", "prompt")])
async def test_each_fixed_mode_is_answered_where_the_server_takes_it(
        profile: str, mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with LoopbackServer(profile=profile, responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url, structured_output=mode)
        with Session.open(tmp_path / "s.sqlite") as session:
            job, _ = await _run(server, settings, session)
            assert all(o.status is ChunkStatus.COMPLETED for o in job.outcomes.values())
            report = job.report()
        chats = _chats(server)
        assert {_mode_of(r.body) for r in chats} == {mode}
        if mode == "tools" and PROFILES[profile].tools == "call":
            assert all(r.body["tool_choice"]["function"]["name"] == "extraction" for r in chats)
        # The answers carry real values (the model answered through its tool call or text).
        invoice = report["documents"][0]["fields"]
        assert invoice["invoice_number"]["value"]


async def test_openai_json_schema_is_strict_mode_valid(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    # The profile refuses a schema OpenAI's strict mode would refuse; ours passes.
    async with LoopbackServer(profile="openai", responder=model_responder) as server:
        settings = _settings(monkeypatch, tmp_path, server.base_url)
        with Session.open(tmp_path / "s.sqlite") as session:
            job, _ = await _run(server, settings, session)
        assert Counter(r.fault for r in _chats(server)) == Counter(
            {"ok": len(job.outcomes)})


def test_the_request_key_holds_a_fixed_mode_but_not_auto() -> None:
    fields = preset("invoice")
    auto = request_key("text", 0, 4, fields, "m")
    assert request_key("text", 0, 4, fields, "m", "json_schema") == auto
    keys = {request_key("text", 0, 4, fields, "m", mode)
            for mode in ("json_object", "tools", "prompt")}
    assert len(keys) == 3 and auto not in keys


@pytest.mark.parametrize(("error", "names"), [
    (TransientError("500 server error: 1 validation error ... Input should be 'text' or "
                    "'json_object'", status=500), True),
    (FatalProviderError("400 the request was refused: 'response_format.type' must be "
                        "'json_schema' or 'text'", status=400), True),
    (TransientError("500 server error: tools param requires --jinja flag", status=500), True),
    (FatalProviderError("400 the request was refused: registry.ollama.ai/library/x:latest does "
                        "not support tools", status=400), True),
    (TransientError("500 server error: out of memory", status=500), False),
    (TransientError("no answer within 5 s"), False),
    (RateLimited("429 rate limited: response_format quota"), False),
    (FatalProviderError("401 the API key was refused: json_schema", status=401), False),
])
def test_which_errors_name_a_mode(error: Any, names: bool) -> None:
    assert names_a_mode(error) is names


def test_the_flag_and_the_env_var_choose_the_mode(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from clikit import isolate
    isolate(monkeypatch, tmp_path)
    with ServerThread(profile="llama-cpp-python", responder=model_responder) as thread:
        args = ["run", *map(str, TWO), "--preset", "invoice", "--base-url", thread.base_url,
                "--api-key", "sk-test-not-a-key", "--model", "loopback-1"]
        result = run_cli(args, capsys)
        assert result.code == 0, result.err
        line = "the server does not take json_schema; using json_object with the schema"
        assert result.err.count(line) == 1
        thread.server.reset_stats()
        monkeypatch.setenv("EXTRACTOR_STRUCTURED_OUTPUT", "prompt")
        assert run_cli(args, capsys).code == 0
        assert {_mode_of(r.body) for r in thread.chats()} == {"prompt"}
        thread.server.reset_stats()
        assert run_cli([*args, "--structured-output", "tools"], capsys).code == 0
        assert {_mode_of(r.body) for r in thread.chats()} == {"tools"}
        bad = run_cli([*args, "--structured-output", "xml"], capsys)
        assert bad.code == 2 and "--structured-output xml: must be" in bad.err


def test_grammar_modes_bound_each_field_and_strict_json_schema_does_not() -> None:
    # llama.cpp-family servers turn the json_object schema (and a forced tool's parameters)
    # into a grammar: maxItems ends a field's array where the answer cap assumes it ends,
    # instead of a small model adding candidates until the cap (SmolLM2 did).
    from extractor_tui.core.prompts import structured_parts
    fields = preset("contract")
    fmt, _, _ = structured_parts(fields, Mode.JSON_OBJECT)
    _, tools, _ = structured_parts(fields, Mode.TOOLS)
    strict, _, _ = structured_parts(fields, Mode.JSON_SCHEMA)
    assert fmt is not None and strict is not None
    for schema in (fmt["schema"], tools[0]["function"]["parameters"]):
        bounds = {name: prop["maxItems"] for name, prop in schema["properties"].items()}
        assert bounds == {spec.name: 8 if spec.many else 2 for spec in fields}
    assert all("maxItems" not in prop
               for prop in strict["json_schema"]["schema"]["properties"].values())
