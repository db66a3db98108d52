"""Secrets and the terminal: a key the server echoes back is redacted everywhere, a base URL
with a password is refused without being printed, a key on the command line draws a
warning, escape sequences from a hostile server never reach the terminal raw, and crash
logs go to a private folder without ever following a planted symlink.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from clikit import ServerThread, cli_env, model_responder, run_cli
from loopback import Fault, RequestInfo

from extractor_tui.cli import EXIT_INTERNAL, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.core.job import Job

__all__ = ["cli_env"]

INVOICES = "sample_docs/invoices"
KEY = "sk-test-ECHOED-4f9a1c77"
HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m\u009b31m\u202egnp.exe"


def _echoing_server() -> ServerThread:
    """Echoes the Authorization header: in a 500's message for the Acme chunks, inside the
    answer (a field value) for the others, and as raw output for Mueller (not JSON)."""
    seen: list[str] = []

    def script(info: RequestInfo) -> Fault:
        seen.append(info.headers.get("authorization", ""))
        text = json.dumps(info.body)
        if "Acme Cloud" in text:  # each 500 its own: the same twice at first ends the run
            return Fault.server_error(500, message=f"upstream refused {seen[-1]} "
                                                   f"({info.index})")
        return Fault.ok()

    def responder(body: dict[str, object]) -> str:
        content = model_responder(body)
        if "Mueller" in json.dumps(body):
            return f"not JSON, but here is your key: {seen[-1]}"
        return content.replace("Kestrel", f"Kestrel {seen[-1]}")

    return ServerThread(responder=responder, script=script)


def test_a_key_the_server_echoes_is_redacted_everywhere(cli_env: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    session = cli_env / "s.sqlite"
    outputs = [cli_env / name for name in ("out.json", "out.csv", "out.jsonl")]
    errs = []
    with _echoing_server() as srv:
        for out in outputs:
            result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url",
                              srv.base_url, "--api-key", KEY, "--retries", "1",
                              "--session", session, "--output", out], capsys)
            assert result.code == EXIT_PARTIAL, result.err
            errs.append(result.err)
        stdout = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url",
                          srv.base_url, "--api-key", KEY, "--retries", "1"], capsys)
    report = json.loads(outputs[0].read_text(encoding="utf-8"))
    text = json.dumps(report)
    assert "Bearer [redacted]" in text  # the echo arrived, and was redacted
    assert "upstream refused Bearer [redacted]" in outputs[2].read_text(encoding="utf-8")
    for path in [*outputs, *cli_env.glob("s.sqlite*")]:
        assert KEY.encode() not in path.read_bytes(), path
        assert b"ECHOED" not in path.read_bytes(), path
    for err in [*errs, stdout.err, stdout.out]:
        assert "ECHOED" not in err


@pytest.mark.parametrize("where", ["flag", "env"])
def test_a_base_url_with_a_password_is_refused_and_never_printed(
        where: str, cli_env: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://alice:hunter2-secret@llm.example.com/v1"
    args = ["run", INVOICES, "--preset", "invoice", "--dry-run"]
    if where == "flag":
        args += ["--base-url", url]
    else:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
    result = run_cli(args, capsys)
    assert result.code == EXIT_USAGE
    assert "hunter2" not in result.err and "alice" not in result.err
    assert re.search(r"a user name or password in the URL is not supported", result.err)


def test_a_key_on_the_command_line_draws_a_warning(cli_env: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["run", INVOICES, "--preset", "invoice", "--base-url", "http://127.0.0.1:9/v1",
            "--dry-run"]
    flagged = run_cli([*base, "--api-key", KEY], capsys)
    assert ("warning: --api-key is visible to other users of this machine (ps, shell "
            "history); set OPENAI_API_KEY instead") in flagged.err
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    quiet = run_cli(base, capsys)
    assert "warning" not in quiet.err


def test_escape_sequences_from_the_server_and_file_names_never_reach_the_terminal(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = cli_env / "docs"
    docs.mkdir()
    evil = docs / f"invoice{HOSTILE}.txt"
    evil.write_text("Invoice No.: 7\nTotal: 12\n", encoding="utf-8")
    (docs / "other.txt").write_text("Invoice No.: 8\n", encoding="utf-8")

    def script(info: RequestInfo) -> Fault:
        if "No.: 8" in json.dumps(info.body):
            return Fault.server_error(503, message=f"overloaded {HOSTILE}")
        return Fault.auth_failed(message=f"who are you {HOSTILE}")

    with ServerThread(responder=model_responder, script=script) as srv:
        result = run_cli(["run", docs, "--preset", "invoice", "--base-url", srv.base_url,
                          "--api-key", KEY, "--retries", "1", "--concurrency", "1"], capsys)
    assert "\x1b" not in result.err and "\x07" not in result.err, result.err
    assert "\u009b" not in result.err and "\u202e" not in result.err
    assert "invoice\\x1b]0;PWNED\\x07" in result.err  # shown, escaped
    report = result.out
    assert "\x1b" not in report and "\u009b" not in report and "\u202e" not in report
    assert str(evil) in [d["path"] for d in json.loads(report)["documents"]]  # the real name


def test_a_crash_log_is_private_and_never_follows_a_planted_symlink(
        cli_env: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Job) -> None:
        raise RuntimeError(f"boom with {KEY}")

    state = cli_env / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setattr(Job, "plan_async", broken)
    protected = cli_env / "root-only.conf"
    protected.write_text("keep me\n", encoding="utf-8")
    protected.chmod(0o600)
    (state / "extractor").mkdir(parents=True)
    for name in _likely_names():  # every name a crash this second could pick
        (state / "extractor" / name).symlink_to(protected)
    args = ["run", f"{INVOICES}/acme-2024-0117.txt", "--preset", "invoice", "--offline",
            "--api-key", KEY]
    result = run_cli(args, capsys)
    assert result.code == EXIT_INTERNAL
    assert protected.read_text(encoding="utf-8") == "keep me\n"
    logged = re.search(r"internal error \(a bug\): details in (\S+)", result.err)
    assert logged is not None, result.err
    log = Path(logged[1])
    assert log.parent == state / "extractor"
    assert not log.is_symlink()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    text = log.read_text(encoding="utf-8")
    assert "RuntimeError: boom with [redacted]" in text and KEY not in text


def test_a_crash_log_folder_that_is_a_symlink_is_not_used(
        cli_env: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Job) -> None:
        raise RuntimeError("boom")

    state = cli_env / "state"
    state.mkdir()
    elsewhere = cli_env / "elsewhere"
    elsewhere.mkdir()
    (state / "extractor").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setattr(Job, "plan_async", broken)
    result = run_cli(["run", f"{INVOICES}/acme-2024-0117.txt", "--preset", "invoice",
                      "--offline"], capsys)
    assert result.code == EXIT_INTERNAL
    assert list(elsewhere.iterdir()) == []
    assert "internal error (a bug); no log was written" in result.err
    assert "is not a private folder" in result.err
    assert "Traceback" not in result.err


def _likely_names() -> list[str]:
    from extractor_tui.crashlog import log_names
    return list(log_names(os.getpid()))[:50]
