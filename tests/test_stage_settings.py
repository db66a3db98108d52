"""Each stage's model, endpoint and sampling: set in the config file's ``[stages.*]`` tables,
the environment and flags, and carried by every request of that stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from enginekit import FIELDS, Recorder, items
from loopback import LoopbackServer

from extractor_tui.config import Settings, load_settings
from extractor_tui.core.engine import Engine
from extractor_tui.core.llm.base import LLMRequest
from extractor_tui.core.llm.openai_client import OpenAIClient, request_body
from extractor_tui.core.prompts import chunk_key
from extractor_tui.core.model import Sampling
from extractor_tui.core.stages import ExtractStage
from extractor_tui.errors import ConfigError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in Settings.model_fields:
        monkeypatch.delenv(f"EXTRACTOR_{name.upper()}", raising=False)
    monkeypatch.delenv("EXTRACTOR_CONFIG", raising=False)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


ISSUE_EXAMPLE = """
[stages.extract]
model = "gpt-4o-mini"
temperature = 0

[stages.verify]
enabled = true
model = "gpt-4o"
temperature = 0
"""


def test_the_issues_example_reads_as_two_stages(tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, ISSUE_EXAMPLE))
    assert settings.model == "gpt-4o-mini"
    assert settings.stages.extract.temperature == 0
    assert settings.stages.verify.enabled is True
    assert settings.verify_model == "gpt-4o"
    assert settings.stages.verify.temperature == 0


def test_verify_is_off_and_uses_the_extract_model_by_default() -> None:
    settings = load_settings(model="qwen2.5-7b")
    assert settings.stages.verify.enabled is False
    assert settings.stages.extract.enabled is True
    assert settings.verify_model == "qwen2.5-7b"
    assert settings.extract_sampling() == Sampling()


def test_the_model_flag_wins_over_the_extract_table(tmp_path: Path) -> None:
    config = _config(tmp_path, ISSUE_EXAMPLE)
    assert load_settings(config, model="llama3").model == "llama3"
    # the verify model named in the file stays the verify model
    assert load_settings(config, model="llama3").verify_model == "gpt-4o"


def test_two_extract_models_in_one_file_are_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, 'model = "a"\n[stages.extract]\nmodel = "b"\n')
    with pytest.raises(ConfigError, match=r"stages\.extract.*model"):
        load_settings(config)


def test_stage_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRACTOR_STAGES__VERIFY__MODEL", "gpt-4o")
    monkeypatch.setenv("EXTRACTOR_STAGES__VERIFY__SEED", "11")
    settings = load_settings()
    assert settings.verify_model == "gpt-4o"
    assert settings.verify_sampling().seed == 11


def test_the_environment_and_flags_leave_the_files_other_stage_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, ISSUE_EXAMPLE + "seed = 5\n")
    monkeypatch.setenv("EXTRACTOR_STAGES__VERIFY__SEED", "11")
    settings = load_settings(config, stages={"verify": {"model": "llama3"}})
    assert settings.verify_model == "llama3"  # the flag over the file
    assert settings.verify_sampling().seed == 11  # the environment over the file
    assert settings.stages.verify.enabled is True  # the file's, kept
    assert settings.stages.verify.temperature == 0
    assert settings.stages.extract.temperature == 0


@pytest.mark.parametrize("table,message", [
    ("[stages.verify]\ntemperature = 3\n", "temperature"),
    ("[stages.extract]\ntop_p = 0\n", "top_p"),
    ("[stages.verify]\ncolour = 'blue'\n", "colour"),
    ("[stages.review]\nenabled = true\n", "review"),
])
def test_bad_stage_settings_are_one_readable_error(tmp_path: Path, table: str,
                                                   message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_config(tmp_path, table))


def test_sampling_reaches_the_request_body_only_when_set() -> None:
    request = LLMRequest(key="k", model="m", messages=(), response_format=None,
                         chunk_text="", fields=FIELDS)
    body = request_body(request)
    assert not {"temperature", "top_p", "seed"} & set(body)
    sampled = LLMRequest(key="k", model="m", messages=(), response_format=None,
                         chunk_text="", fields=FIELDS, temperature=0.0, top_p=0.9, seed=7)
    body = request_body(sampled)
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.0, 0.9, 7)


def test_sampling_changes_the_request_key_only_when_set() -> None:
    plain = chunk_key("d" * 64, 0, 10, FIELDS, "m")
    assert chunk_key("d" * 64, 0, 10, FIELDS, "m", sampling=Sampling()) == plain
    assert chunk_key("d" * 64, 0, 10, FIELDS, "m", sampling=Sampling(temperature=0)) != plain
    assert (chunk_key("d" * 64, 0, 10, FIELDS, "m", sampling=Sampling(temperature=0))
            != chunk_key("d" * 64, 0, 10, FIELDS, "m", sampling=Sampling(temperature=1)))


async def test_every_request_of_the_extract_stage_carries_its_sampling() -> None:
    async with LoopbackServer() as server:
        client = OpenAIClient(base_url=server.base_url, api_key="sk-test-not-a-key")
        stage = ExtractStage(FIELDS, "loopback-1", Sampling(temperature=0.0, top_p=0.5, seed=3),
                             max_tokens=300)
        engine = Engine(client, FIELDS, model="loopback-1", sink=Recorder(), stages=[stage])
        try:
            result = await engine.run(items(3))
        finally:
            await client.aclose()
    assert result.count("completed") == 3
    bodies = [record.body for record in server.log if record.body is not None]
    assert len(bodies) == 3
    for body in bodies:
        assert (body["temperature"], body["top_p"], body["seed"]) == (0.0, 0.5, 3)
        assert body["max_tokens"] == 300
        assert json.dumps(body["messages"])  # still the extraction prompt


async def test_a_job_sends_the_configured_extract_sampling_and_keys_by_it(
        tmp_path: Path) -> None:
    from extractor_tui.core.fields import preset
    from extractor_tui.core.job import Job
    from extractor_tui.core.session import Session

    sample = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices"
    config = _config(tmp_path, "[stages.extract]\ntemperature = 0.2\nseed = 5\n")
    async with LoopbackServer() as server:
        settings = load_settings(config, base_url=server.base_url, api_key="sk-test-not-a-key",
                                 model="loopback-1")
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, preset("invoice"), session)
            try:
                await job.add_paths([sample / "acme-2024-0117.txt"])
                keys = {item.key for item in session.pending_items()}
                await job.run()
            finally:
                await job.aclose()
        plain = load_settings(None, base_url=server.base_url, api_key="sk-test-not-a-key",
                              model="loopback-1")
        with Session.open(tmp_path / "other.sqlite") as session:
            job = Job(plain, preset("invoice"), session)
            await job.add_paths([sample / "acme-2024-0117.txt"])
            assert not keys & {item.key for item in session.pending_items()}
            await job.aclose()
    bodies = [record.body for record in server.log if record.body is not None]
    assert bodies and all((b["temperature"], b["seed"]) == (0.2, 5) for b in bodies)


def test_a_stage_cannot_name_an_endpoint_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fleet-a.*no endpoint has that name"):
        load_settings(_config(tmp_path, "[stages.verify]\nendpoint = 'fleet-a'\n"))


async def test_a_server_that_refuses_the_seed_is_sent_none_from_then_on() -> None:
    """Azure's Mistral and some proxies refuse ``seed`` (422 extra_forbidden at body.seed):
    the run goes on without it, says so once, and spends no retry on the refusal."""
    from loopback import Fault, RequestInfo

    from extractor_tui.core.events import ChunkCompleted, SamplingDropped
    from extractor_tui.core.failfast import endpoint_label

    def script(info: RequestInfo) -> Fault:
        if "seed" in info.body:
            return Fault.server_error(422, message="[{'type': 'extra_forbidden', 'loc': "
                                                   "['body', 'seed'], 'msg': 'Extra inputs "
                                                   "are not permitted'}]")
        return Fault.ok()

    recorder = Recorder()
    async with LoopbackServer(script=script) as server:
        client = OpenAIClient(base_url=server.base_url, api_key="sk-test-not-a-key")
        stage = ExtractStage(FIELDS, "loopback-1", Sampling(temperature=0.0, seed=3))
        engine = Engine(client, FIELDS, model="loopback-1", sink=recorder, stages=[stage])
        try:
            result = await engine.run(items(3))
        finally:
            await client.aclose()
    assert result.count("completed") == 3 and result.fatal is None
    bodies = [record.body for record in server.log if record.body is not None]
    assert ["seed" in body for body in bodies] == [True, False, False, False]
    assert all(body["temperature"] == 0.0 for body in bodies)
    [dropped] = recorder.of(SamplingDropped)
    assert (dropped.parameter, dropped.endpoint) == ("seed", endpoint_label(client.endpoint))
    assert "extra_forbidden" in dropped.reason
    attempts = {event.id.chunk: event.attempts for event in recorder.of(ChunkCompleted)}
    assert attempts == {0: 2, 1: 1, 2: 1}  # the refused one is visible, and costs no retry


def test_extractor_run_says_once_that_the_seed_was_dropped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from clikit import ServerThread, run_cli
    from loopback import Fault, RequestInfo

    def script(info: RequestInfo) -> Fault:
        return (Fault.server_error(400, message="Unsupported parameter: 'seed'")
                if "seed" in info.body else Fault.ok())

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = _config(tmp_path, "[stages.extract]\nseed = 9\n")
    sample = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices"
    with ServerThread(script=script) as thread:
        result = run_cli(["run", sample, "--preset", "invoice", "--config", config,
                          "--base-url", thread.server.base_url, "--model", "loopback-1"],
                         capsys)
    assert result.code in (0, 1), result.err
    notes = [line for line in result.err.splitlines() if "does not take seed" in line]
    assert notes == ["note: the server does not take seed; sending without it (400 the "
                     "request was refused: Unsupported parameter: 'seed')"]


def test_a_stage_names_one_of_the_endpoints_that_serves_its_model(tmp_path: Path) -> None:
    endpoints = ("[[endpoints]]\nname = 'fleet-a'\nbase_url = 'http://a/v1'\n"
                 "[[endpoints]]\nname = 'fleet-b'\nbase_url = 'http://b/v1'\n"
                 "models = ['gpt-4o']\n")
    settings = load_settings(_config(tmp_path, "model = 'small'\n" + endpoints
                                     + "[stages.verify]\nendpoint = 'fleet-b'\n"
                                       "model = 'gpt-4o'\n"))
    assert settings.endpoint_names() == {"fleet-a", "fleet-b"}
    assert settings.stages.verify.endpoint == "fleet-b"
    with pytest.raises(ConfigError, match=r"\[stages.verify\] endpoint = 'fleet-c': no "
                                          r"endpoint has that name \(fleet-a, fleet-b\)"):
        load_settings(_config(tmp_path, endpoints + "[stages.verify]\nendpoint = 'fleet-c'\n"))
    with pytest.raises(ConfigError, match=r"\[stages.extract\] endpoint = 'fleet-b' does not "
                                          r"serve the model small \(it serves gpt-4o\)"):
        load_settings(_config(tmp_path, "model = 'small'\n" + endpoints
                                        + "[stages.extract]\nendpoint = 'fleet-b'\n"))
