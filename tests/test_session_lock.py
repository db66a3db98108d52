"""One session, one writer: a second ``extractor run`` on a session in use says who holds it
and exits 2 without sending anything; the lock goes with its process, however it ends; the
app offers to open a busy session read-only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import REPO, ServerThread, child_env, model_responder, wait_for
from loopback import Fault, RequestInfo

from extractor_tui.cli import EXIT_OK, EXIT_TERMINATED, EXIT_USAGE
from extractor_tui.core.session import Session
from extractor_tui.core.session_lock import SessionLock, lock_path
from extractor_tui.errors import ConfigError, SessionBusy, SessionWriteError

COMMAND = [sys.executable, "-m", "extractor_tui", "run", "sample_docs/invoices", "--preset",
           "invoice", "--concurrency", "2"]


class FirstAnsweredRestHang:
    """The first request is answered, every later one hangs (until ``release``)."""

    def __init__(self) -> None:
        self.hang = True

    def __call__(self, info: RequestInfo) -> Fault:
        return Fault.hang(30.0) if self.hang and info.index > 0 else Fault.ok()


def test_a_second_run_on_a_busy_session_says_who_holds_it_and_sends_nothing(
        tmp_path: Path) -> None:
    session = tmp_path / "s.sqlite"
    script = FirstAnsweredRestHang()
    with ServerThread(responder=model_responder, script=script) as srv:
        args = [*COMMAND, "--base-url", srv.base_url, "--session", str(session)]
        env_key = {"OPENAI_API_KEY": "sk-test-123"}
        first = subprocess.Popen(args, cwd=REPO, env={**child_env(tmp_path), **env_key},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: srv.server.in_flight >= 2, 30.0, "the first run's requests")
            sent = len(srv.chats())
            second = subprocess.run(args, cwd=REPO, env={**child_env(tmp_path), **env_key},
                                    capture_output=True, text=True, timeout=60)
            assert len(srv.chats()) == sent  # the second paid for nothing
            first.send_signal(signal.SIGTERM)
            _, first_err = first.communicate(timeout=30)
        finally:
            first.kill()
            first.communicate()
        assert first.returncode == EXIT_TERMINATED, first_err
        assert not lock_path(session).exists()  # given back on the way out
        script.hang = False
        third = subprocess.run(args, cwd=REPO, env={**child_env(tmp_path), **env_key},
                               capture_output=True, text=True, timeout=60)
    assert second.returncode == EXIT_USAGE, second.stderr
    assert (f"error: {session} is in use by extractor run (pid {first.pid}, since "
            in second.stderr), second.stderr
    assert "wait for it to finish, or use another --session" in second.stderr
    assert second.stdout == ""
    assert third.returncode == EXIT_OK, third.stderr  # free again: it resumes
    assert "(1 answered from the session)" in third.stderr


def test_a_lock_held_by_a_killed_process_is_free(tmp_path: Path) -> None:
    session = tmp_path / "s.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from extractor_tui.core.session import Session\n"
         f"s = Session.open({str(session)!r}, lock='extractor run')\n"
         "print('held', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(SessionBusy, match=rf"pid {holder.pid}"):
            Session.open(session, lock="extractor run")
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        holder.kill()
        holder.communicate()
    assert lock_path(session).exists()  # left behind by kill -9, and no obstacle:
    with Session.open(session, lock="extractor run") as again:
        assert again.stats().documents == 0
    assert not lock_path(session).exists()


def test_one_writer_at_a_time_and_readers_never_wait(tmp_path: Path) -> None:
    session = tmp_path / "s.sqlite"
    writer = Session.open(session, lock="the app")
    try:
        with pytest.raises(SessionBusy) as busy:
            Session.open(session, lock="extractor run")
        assert busy.value.holder.startswith(f"the app (pid {os.getpid()}, since ")
        with Session.open(session, read_only=True) as reader:  # export, the sessions list
            assert reader.run_info() is None
            with pytest.raises(SessionWriteError, match="open read-only"):
                reader.set_meta("model", "x")
    finally:
        writer.close()
    lock = SessionLock.acquire(session, "extractor run")  # free once the writer closed
    lock.release()


def test_a_planted_symlink_is_not_taken_as_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep\n", encoding="utf-8")
    session = tmp_path / "s.sqlite"
    lock_path(session).symlink_to(target)
    with pytest.raises(ConfigError, match="s.sqlite.lock: Too many levels of symbolic links"):
        Session.open(session, lock="extractor run")
    assert target.read_text(encoding="utf-8") == "keep\n"


def test_export_reads_a_session_while_a_run_holds_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    from clikit import isolate, run_cli
    isolate(monkeypatch, tmp_path)
    monkeypatch.chdir(REPO)
    session = tmp_path / "s.sqlite"
    made = run_cli(["run", "sample_docs/invoices/acme-2024-0117.txt", "--preset", "invoice",
                    "--offline", "--session", session], capsys)
    assert made.code == EXIT_OK
    held = Session.open(session, lock="extractor run")
    try:
        exported = run_cli(["export", session], capsys)
    finally:
        held.close()
    assert exported.code == EXIT_OK, exported.err
    assert json.loads(exported.out)["documents"][0]["status"] == "complete"


