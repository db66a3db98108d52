"""``extractor run --batch`` as a user runs it: a real process that waits on the fake Batch
API, is killed with SIGKILL while it waits, and is run again; ``extractor batch status``
and ``batch cancel`` from another terminal; progress lines on a stderr that is a pipe.

The CLI runs as a subprocess (``python -m extractor_tui``) so it can be killed; the loopback
server runs on a thread of the test process with its batches held (``hold``): at the kill a
batch is created and waiting, so the moment of the kill cannot race its completion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import REPO, ServerThread, fields_and_statuses, isolate, model_responder, run_cli, wait_for

from extractor_tui.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, main
from extractor_tui.core.session import Session

COMMAND = ["run", "sample_docs/invoices", "--preset", "invoice", "--chunk-tokens", "200",
           "--overlap-tokens", "20", "--batch"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("EXTRACTOR_") and name not in ("OPENAI_API_KEY",
                                                                  "OPENAI_BASE_URL")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["EXTRACTOR_BATCH_POLL_S"] = "0.05"
    env["EXTRACTOR_BATCH_POLL_MAX_S"] = "0.2"
    return env


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "extractor_tui", *args], cwd=REPO,
                            env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _batches(session: Path) -> list[tuple[str | None, str]]:
    with Session.open(session, read_only=True) as stored:
        return [(b.batch_id, b.status) for b in stored.batches.batches()]


def test_a_run_killed_while_waiting_resumes_and_pays_nothing_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    session, out = tmp_path / "s.sqlite", tmp_path / "out.json"
    with ServerThread(responder=model_responder, batch={"hold": True}) as srv:
        batch = srv.server.batch
        assert batch is not None
        args = [*COMMAND, "--base-url", srv.base_url, "--session", str(session), "--output",
                str(out)]
        first = _start(args, tmp_path)
        try:
            wait_for(lambda: batch.retrieves >= 3, 60.0, "the run polling its batch")
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            _, err1 = first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert (batch.uploads, batch.creates) == (1, 1)
        [(batch_id, status)] = _batches(session)
        assert batch_id is not None and status == "validating"
        assert f"batch 1: {batch_id} validating" in err1  # said on a pipe, not a terminal

        isolate(monkeypatch, tmp_path)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        shown = run_cli(["batch", "status", session], capsys)
        assert shown.code == EXIT_OK
        assert f"batch 1: {batch_id} validating" in shown.err and "waiting" in shown.err

        batch.hold = False
        second = _start(args, tmp_path)
        _, err2 = second.communicate(timeout=120)
        assert second.returncode == EXIT_OK, err2
        assert (batch.uploads, batch.creates) == (1, 1)  # polled again, never submitted again
        assert not srv.chats()  # and nothing went live
        assert f"batch 1: {batch_id} completed" in err2
        assert "read back:" in err2 and "waiting in a batch" in err2
    resumed = json.loads(out.read_text(encoding="utf-8"))
    assert resumed["summary"]["failed_chunks"] == 0
    assert resumed["summary"]["batch"]["requests"] == resumed["summary"]["chunks"]
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    offline = [a for a in COMMAND if a != "--batch"]
    assert main([*offline, "--offline"]) == EXIT_OK
    assert fields_and_statuses(resumed) == fields_and_statuses(json.loads(capsys.readouterr().out))


def test_batch_cancel_from_another_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "s.sqlite"
    with ServerThread(responder=model_responder,
                      batch={"hold": True, "lines_per_poll": 5}) as srv:
        batch = srv.server.batch
        assert batch is not None
        args = [*COMMAND, "--base-url", srv.base_url, "--session", str(session), "--output",
                str(tmp_path / "out.json")]
        running = _start(args, tmp_path)
        try:
            wait_for(lambda: batch.retrieves >= 2, 60.0, "the run polling its batch")
            srv.call(lambda: batch.advance(2))  # validated, then 5 of its lines answered
            isolate(monkeypatch, tmp_path)
            monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
            cancelled = run_cli(["batch", "cancel", session], capsys)
            assert cancelled.code == EXIT_OK, cancelled.err
            assert "cancelling" in cancelled.err
            batch.hold = False
            _, err = running.communicate(timeout=60)
        finally:
            running.kill()
        assert running.returncode == EXIT_PARTIAL, err
        assert "read back: 5 answered, 0 to ask again, 0 failed, 27 not run" in err
        assert "a batch was cancelled" in err
        assert batch.creates == 1  # not submitted again by this run
    with Session.open(session, read_only=True) as stored:
        assert len(stored.pending_items()) == 27  # back in the queue for the next run


def test_batch_needs_an_endpoint_and_status_needs_a_session(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(REPO)
    offline = run_cli([*COMMAND, "--offline"], capsys)
    assert offline.code == EXIT_USAGE
    assert "--batch needs an OpenAI-compatible endpoint" in offline.err
    assert "Traceback" not in offline.err
    missing = run_cli(["batch", "status", tmp_path / "none.sqlite"], capsys)
    assert missing.code == EXIT_USAGE and "no such session file" in missing.err
    empty = tmp_path / "empty.sqlite"
    Session.open(empty).close()
    nothing = run_cli(["batch", "status", empty], capsys)
    assert nothing.code == EXIT_OK and "no batch was sent" in nothing.err
