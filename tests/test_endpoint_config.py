"""``[[endpoints]]`` in the config file, end to end (issue 15, Endpoints).

The settings: several endpoints, each naming the environment variable of its key; a key
written in the file is refused without being repeated. The command: ``extractor run`` over
three loopback servers (one with nothing listening, two rate-limited) answers every chunk,
says each endpoint's figures on stderr and in the JSON ``summary``, and the session names the
endpoint of every attempt, while no key reaches the session, stdout or stderr.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from clikit import SAMPLES, ServerThread, cli_env, model_responder, run_cli
from test_failfast import closed_port

from extractor_tui.config import load_settings
from extractor_tui.core.endpoint_setup import endpoint_specs
from extractor_tui.errors import ConfigError

__all__ = ["cli_env"]

KEY_B, KEY_C = "sk-live-b-0123456789abcdef", "sk-live-c-fedcba9876543210"


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_endpoints_are_read_from_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, """
model = "qwen2.5-7b"
[[endpoints]]
name = "fleet-a"
base_url = "https://gpu-a.example.internal/v1"
api_key_env = "FLEET_A_KEY"
models = ["qwen2.5-7b"]
rpm = 600
concurrency = 20
weight = 1

[[endpoints]]
name = "local"
base_url = "http://127.0.0.1:8000/v1"
weight = 2.5
structured_output = "json_object"
""")
    settings = load_settings(path)
    assert [e.name for e in settings.endpoints] == ["fleet-a", "local"]
    first, second = settings.endpoints
    assert (first.api_key_env, first.models, first.rpm, first.concurrency) == (
        "FLEET_A_KEY", ("qwen2.5-7b",), 600, 20)
    assert (second.api_key_env, second.models, second.weight, second.structured_output) == (
        None, (), 2.5, "json_object")
    assert settings.resolved_provider == "openai"


def test_without_endpoints_the_base_url_is_the_one_endpoint(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, 'base_url = "http://127.0.0.1:8000/v1"\n'))
    assert settings.endpoints == () and settings.resolved_provider == "openai"


@pytest.mark.parametrize("text, where", [
    ('api_key = "sk-live-written-here-0123456789"\n', ": api_key: "),
    ('[[endpoints]]\nname = "a"\nbase_url = "http://h/v1"\n'
     'api_key = "sk-live-written-here-0123456789"\n', "[[endpoints]] a: api_key: "),
])
def test_a_key_written_in_the_config_file_is_refused_without_repeating_it(
        tmp_path: Path, text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write_config(tmp_path, text))
    message = str(info.value)
    assert where in message and "never written in the config file" in message
    assert "sk-live" not in message and "0123456789" not in message


def test_a_key_where_a_variable_name_belongs_is_refused_without_repeating_it(
        tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[endpoints]]\nname = "a"\nbase_url = "http://h/v1"\n'
                                  'api_key_env = "sk-live-0123456789abcdef"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "must name an environment variable" in str(info.value)
    assert "sk-live" not in str(info.value)


def test_an_endpoint_url_with_a_password_and_twice_the_same_name_are_refused(
        tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[endpoints]]\nname = "a"\n'
                                  'base_url = "https://user:hunter2@h/v1"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "password in the URL is not supported" in str(info.value)
    assert "hunter2" not in str(info.value)
    path = write_config(tmp_path, '[[endpoints]]\nname = "a"\nbase_url = "http://h/v1"\n'
                                  '[[endpoints]]\nname = "a"\nbase_url = "http://i/v1"\n')
    with pytest.raises(ConfigError, match="two endpoints are named a"):
        load_settings(path)


def test_an_unset_key_variable_is_an_error_before_anything_is_sent(tmp_path: Path) -> None:
    settings = load_settings(write_config(
        tmp_path, '[[endpoints]]\nname = "a"\nbase_url = "http://h/v1"\n'
                  'api_key_env = "FLEET_A_KEY"\n'))
    with pytest.raises(ConfigError, match="endpoint a: the environment variable FLEET_A_KEY "
                                          "is not set"):
        endpoint_specs(settings, modes={}, wrap=lambda client: client, environ={})
    specs = endpoint_specs(settings, modes={}, wrap=lambda client: client,
                           environ={"FLEET_A_KEY": "sk-x"})
    assert [spec.name for spec in specs] == ["a"]
    assert specs[0].gate.maximum == settings.concurrency  # its own, else the setting


def test_extractor_run_over_three_endpoints_one_dead_two_rate_limited(
        cli_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KEY_B", KEY_B)
    monkeypatch.setenv("KEY_C", KEY_C)
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with ServerThread(responder=model_responder, rate_limit=(3, 0.5)) as b, \
            ServerThread(responder=model_responder, rate_limit=(3, 0.5)) as c:
        config = write_config(cli_env, f"""
model = "loopback-1"
[[endpoints]]
name = "dead"
base_url = "{dead}"
[[endpoints]]
name = "b"
base_url = "{b.base_url}"
api_key_env = "KEY_B"
[[endpoints]]
name = "c"
base_url = "{c.base_url}"
api_key_env = "KEY_C"
concurrency = 4
""")
        session = cli_env / "s.sqlite"
        result = run_cli(["run", SAMPLES / "invoices", "--preset", "invoice", "--config",
                          config, "--session", session], capsys)
        b_chats, c_chats = len(b.chats()), len(c.chats())
    assert result.code == 0, result.err
    report = json.loads(result.out)
    endpoints = {e["name"]: e for e in report["summary"]["endpoints"]}
    assert list(endpoints) == ["dead", "b", "c"]
    assert endpoints["dead"]["answers"] == 0 and endpoints["dead"]["errors"] >= 2
    assert endpoints["dead"]["breaker"] == "out-of-service"
    assert "cannot connect" in endpoints["dead"]["reason"]
    assert endpoints["b"]["answers"] > 0 and endpoints["c"]["answers"] > 0
    assert endpoints["b"]["answers"] + endpoints["c"]["answers"] == report["summary"]["chunks"]
    assert endpoints["b"]["requests"] == b_chats and endpoints["c"]["requests"] == c_chats
    assert "provider: openai-compatible, 3 endpoints: dead, b, c" in result.err
    assert "note: endpoint dead is out of service" in result.err
    assert f"endpoint b: {endpoints['b']['answers']} answers" in result.err
    with sqlite3.connect(session) as db:
        named = {row[0] for row in db.execute("SELECT DISTINCT endpoint FROM attempts")}
        stored = "\n".join(db.iterdump())
    assert named == {"dead", "b", "c"}
    for text in (result.out, result.err, stored):
        assert KEY_B not in text and KEY_C not in text


def test_batch_with_several_endpoints_is_refused_before_anything_is_sent(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(responder=model_responder) as b:
        config = write_config(cli_env, f'[[endpoints]]\nname = "b"\nbase_url = "{b.base_url}"\n'
                                       f'[[endpoints]]\nname = "c"\nbase_url = "{b.base_url}"\n')
        result = run_cli(["run", SAMPLES / "invoices", "--preset", "invoice", "--config",
                          config, "--batch"], capsys)
        sent = len(b.server.log)
    assert result.code == 2 and sent == 0
    assert "--batch sends to one endpoint" in result.err
