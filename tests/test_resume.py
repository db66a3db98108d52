"""A real ``extractor run`` process killed mid-run: what it stored survives, and the next run
sends only what has no stored answer; SIGINT ends it cleanly with exit 130, SIGTERM with 143.

The CLI runs as a subprocess (``python -m extractor_tui``) so it can be SIGKILLed; the
loopback server runs on a thread of the test process, where the test can watch its log.
Phase 1 answers the first ``ANSWERED`` requests after 0.2 s and leaves every later one
hanging, so at the kill the in-flight requests are exactly the hanging ones: the moment of
the kill cannot race a response, and the test is deterministic.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from clikit import (
    REPO,
    ServerThread,
    chunk_text,
    fields_and_statuses,
    isolate,
    model_responder,
    wait_for,
)
from loopback import Fault, RequestInfo

from extractor_tui.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, main
from extractor_tui.core.session import Session

ANSWERED = 12
CONCURRENCY = 4
COMMAND = ["run", "sample_docs/contracts", "--preset", "contract", "--chunk-tokens", "120",
           "--overlap-tokens", "10", "--concurrency", str(CONCURRENCY)]


class PhasedScript:
    """Phase 1: the first ``answered`` requests answered after ``latency``, the rest hang.
    Phase 2 (``phase = 2``): everything answered at once."""

    def __init__(self, answered: int, latency: float = 0.2) -> None:
        self.answered, self.latency, self.phase = answered, latency, 1

    def __call__(self, info: RequestInfo) -> Fault:
        if self.phase == 2:
            return Fault.ok()
        return Fault.ok(self.latency) if info.index < self.answered else Fault.hang(30.0)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("EXTRACTOR_") and name not in ("OPENAI_API_KEY",
                                                                  "OPENAI_BASE_URL")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    return env


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "extractor_tui", *args], cwd=REPO,
                            env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stored_answers(session: Path) -> int:
    """Rows in the session's response cache, read as another process would."""
    if not session.exists():
        return 0
    db = sqlite3.connect(f"file:{session}?mode=ro", uri=True, timeout=1.0)
    try:
        return int(db.execute("SELECT count(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not created yet
        return 0
    finally:
        db.close()


def _texts(records: list[Any]) -> Counter[str]:
    return Counter(chunk_text(record.body) for record in records)


def test_a_killed_run_resumes_and_resends_at_most_what_was_in_flight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    session, out = tmp_path / "s.sqlite", tmp_path / "out.json"
    script = PhasedScript(ANSWERED)
    with ServerThread(responder=model_responder, script=script) as srv:
        args = [*COMMAND, "--base-url", srv.base_url, "--api-key", "sk-test-123", "--session",
                str(session), "--output", str(out)]
        first = _start(args, tmp_path)
        try:
            wait_for(lambda: _stored_answers(session) >= ANSWERED
                     and srv.server.in_flight >= CONCURRENCY, 30.0,
                     f"{ANSWERED} stored answers and {CONCURRENCY} requests in flight")
            in_flight_at_kill = srv.server.in_flight
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        run1 = srv.chats()
        assert [r.status for r in run1[:ANSWERED]] == [200] * ANSWERED
        assert len(run1) == ANSWERED + in_flight_at_kill  # nothing else was ever sent

        with Session.open(session) as stored:  # what the next run finds
            pending = Counter(item.text for item in stored.pending_items())
            total = len(stored.work_items())
        assert sum(pending.values()) == total - ANSWERED > 300

        script.phase = 2
        second = _start(args, tmp_path)
        _, err = second.communicate(timeout=60)
        assert second.returncode == EXIT_OK, err
        run2 = srv.chats()[len(run1):]

    assert f"to send: {total - ANSWERED} request(s) ({ANSWERED} answered from the session)" \
        in err
    assert _texts(run2) == pending  # exactly the chunks without a stored answer, once each
    sent_twice = sum((_texts(run1) & _texts(run2)).values())
    with capsys.disabled():  # the numbers, for the record (visible with -s)
        print(f"\nsent twice: {sent_twice}; in flight at the kill: {in_flight_at_kill}")
    assert sent_twice <= in_flight_at_kill

    resumed = json.loads(out.read_text(encoding="utf-8"))
    assert {d["status"] for d in resumed["documents"]} == {"complete"}
    assert resumed["summary"]["chunks"] == total and resumed["summary"]["failed_chunks"] == 0
    # The resumed result is the one an uninterrupted run gives.
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(REPO)
    capsys.readouterr()
    assert main([*COMMAND, "--offline"]) == EXIT_OK
    assert fields_and_statuses(resumed) == fields_and_statuses(json.loads(capsys.readouterr().out))


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, EXIT_INTERRUPTED),
                                      (signal.SIGTERM, EXIT_TERMINATED)],
                         ids=["sigint", "sigterm"])
def test_a_signal_stops_the_run_and_keeps_what_finished_with_its_real_cost(
        sig: signal.Signals, code: int, tmp_path: Path) -> None:
    """Ctrl-C and SIGTERM (what ``kill``, systemd and ``timeout`` send) end alike: what
    finished is written to --output, with the tokens it really cost and the time spent."""
    session, out = tmp_path / "s.sqlite", tmp_path / "out.json"
    with ServerThread(responder=model_responder, script=PhasedScript(ANSWERED)) as srv:
        run = _start([*COMMAND, "--base-url", srv.base_url, "--api-key", "sk-test-123",
                      "--session", str(session), "--output", str(out)], tmp_path)
        try:
            wait_for(lambda: _stored_answers(session) >= ANSWERED
                     and srv.server.in_flight >= CONCURRENCY, 30.0, "requests hanging")
            run.send_signal(sig)
            _, err = run.communicate(timeout=20)
        finally:
            run.kill()
            run.communicate()
    assert run.returncode == code, err
    assert f"interrupted: everything finished so far is kept in {session}" in err
    assert "Traceback" not in err
    report = json.loads(out.read_text(encoding="utf-8"))
    chunks = [d["chunks"] for d in report["documents"]]
    assert sum(c["completed"] for c in chunks) == ANSWERED
    assert sum(c["cancelled"] for c in chunks) == sum(c["total"] for c in chunks) - ANSWERED
    summary = report["summary"]
    assert summary["cancelled"] is True
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0
    assert sum(d["tokens"]["prompt"] for d in report["documents"]) \
        == summary["prompt_tokens"]
    assert summary["cost_usd"] > 0  # gpt-4o-mini is priced: the answers were paid for
    assert summary["elapsed_seconds"] > 0
    assert f"tokens {summary['prompt_tokens']:,} prompt" in err  # the summary line too
