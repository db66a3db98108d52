"""Where the results go: the output path is checked before anything is sent, and a closed or
broken stdout is an error, never a silent exit 0 (nor a report written into another file).

The stream tests start the installed console script as a child process, because what they
test (a closed file descriptor 1, a reader that goes away) happens between processes.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clikit import ServerThread, child_env, cli_env, model_responder, run_cli

from extractor_tui.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE

__all__ = ["cli_env"]

REPO = Path(__file__).resolve().parents[1]
INVOICES = REPO / "sample_docs" / "invoices"
EXTRACTOR = Path(sys.executable).parent / "extractor"
NOBODY = 65534

needs_script = pytest.mark.skipif(not EXTRACTOR.exists(), reason="console script not installed")


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(responder=model_responder) as thread:
        yield thread


@pytest.mark.parametrize("target,message", [
    ("missing-folder/out.json", "--output {tmp}/missing-folder/out.json: the folder "
                                "{tmp}/missing-folder does not exist"),
    ("folder.json", "--output {tmp}/folder.json: is a folder; name a file in it"),
    ("out.xlsx", "--output {tmp}/out.xlsx: use a .json, .csv or .jsonl file, or - for JSON "
                 "on stdout"),
])
def test_an_output_that_cannot_be_written_is_refused_before_any_call(
        target: str, message: str, cli_env: Path, server: ServerThread,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (cli_env / "folder.json").mkdir()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url", server.base_url,
                      "--output", cli_env / target], capsys)
    assert result.code == EXIT_USAGE, result.err
    assert result.err.strip().splitlines() == [f"error: {message.format(tmp=cli_env)}"]
    assert server.chats() == []  # nothing was paid for


@needs_script
def test_an_output_folder_without_write_permission_is_refused_before_any_call(
        server: ServerThread) -> None:
    """Root writes anywhere, so as root the command runs as ``nobody``."""
    top = Path(tempfile.mkdtemp(prefix="extractor-perm-"))
    try:
        top.chmod(0o755)
        locked = top / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        home = top / "home"
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        user: dict[str, Any] = {"user": NOBODY} if os.geteuid() == 0 else {}
        done = subprocess.run(
            [EXTRACTOR, "run", INVOICES, "--preset", "invoice", "--base-url", server.base_url,
             "--api-key", "sk-test-123", "--output", locked / "out.json"],
            env=child_env(home), cwd=home, capture_output=True, text=True, timeout=120,
            **user)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert f"error: --output {locked}/out.json: cannot write in {locked}: Permission " \
           "denied" in done.stderr
    assert server.chats() == []


@needs_script
def test_a_closed_stdout_is_refused_and_the_session_stays_intact(tmp_path: Path) -> None:
    """With fd 1 closed, the next file opened would get it: the report must not go there."""
    session = tmp_path / "s.sqlite"
    args = [str(EXTRACTOR), "run", str(INVOICES), "--preset", "invoice", "--offline",
            "--session", str(session)]
    closed = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", *args],
                            env=child_env(tmp_path), capture_output=False,
                            stderr=subprocess.PIPE, text=True, timeout=120)
    assert closed.returncode == EXIT_USAGE, closed.stderr
    assert "error: stdout is closed: give --output FILE" in closed.stderr
    assert "internal error" not in closed.stderr
    to_file = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", *args, "--output",
                              str(tmp_path / "out.json")],
                             env=child_env(tmp_path), stderr=subprocess.PIPE, text=True,
                             timeout=120)
    assert to_file.returncode == EXIT_OK, to_file.stderr
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["summary"][
        "chunks"] == 7
    with sqlite3.connect(session) as db:  # still a database, not a JSON report
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@needs_script
def test_a_broken_pipe_on_stdout_is_not_a_success(tmp_path: Path) -> None:
    """The reader goes away before the report is written (``| head -c 100`` on a large
    report does the same, after the first 64 KiB)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write gets EPIPE
    try:
        child = subprocess.Popen(
            [EXTRACTOR, "run", INVOICES, "--preset", "invoice", "--offline"],
            stdout=write_end, stderr=subprocess.PIPE, env=child_env(tmp_path), text=True)
    finally:
        os.close(write_end)
    _, err = child.communicate(timeout=120)
    assert child.returncode == EXIT_PARTIAL, err
    assert "error: stdout was closed before the whole report was written" in err
    assert "Traceback" not in err and "internal error" not in err
    assert "Exception ignored" not in err


def test_the_output_folder_is_checked_for_export_too(cli_env: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    session = cli_env / "s.sqlite"
    made = run_cli(["run", INVOICES, "--preset", "invoice", "--offline", "--session", session,
                    "--output", cli_env / "first.json"], capsys)
    assert made.code == EXIT_OK, made.err
    result = run_cli(["export", session, "--output", cli_env / "nowhere" / "out.csv"], capsys)
    assert result.code == EXIT_USAGE
    assert "the folder" in result.err and "does not exist" in result.err


