"""Reads never write: ``extractor export`` and the Sessions list read a session that is a
read-only file in a read-only folder, from the file alone; a session that cannot be opened
says why.

Root writes anywhere, so as root the readers run as ``nobody``, in a folder made for them.
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
from clikit import REPO, child_env, isolate, run_cli

from extractor_tui.core import _session_open
from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError

NOBODY = 65534
INVOICE = REPO / "sample_docs" / "invoices" / "acme-2024-0117.txt"
READER = {"user": NOBODY} if os.geteuid() == 0 else {}


@pytest.fixture
def shelf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
          capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A session made by an offline run, then its file made 0444 and its folder 0555; the
    run's own report beside it (outside the folder)."""
    isolate(monkeypatch, tmp_path)
    top = Path(tempfile.mkdtemp(prefix="extractor-ro-"))
    top.chmod(0o755)
    folder = top / "sessions"
    folder.mkdir()
    session = folder / "s.sqlite"
    report = top / "run.json"
    done = run_cli(["run", INVOICE, "--preset", "invoice", "--offline", "--session", session,
                    "--output", report], capsys)
    assert done.code == 0, done.err
    assert sorted(p.name for p in folder.iterdir()) == ["s.sqlite"]  # closed cleanly
    session.chmod(0o444)
    folder.chmod(0o555)
    home = top / "home"
    home.mkdir()
    home.chmod(0o777)
    try:
        yield session, json.loads(report.read_text(encoding="utf-8"))
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


def _as_reader(session: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = session.parents[1] / "home"
    return subprocess.run([sys.executable, *args], env=child_env(home), cwd=home,
                          capture_output=True, text=True, timeout=120, **READER)


def test_export_reads_a_read_only_session_in_a_read_only_folder(
        shelf: tuple[Path, dict[str, Any]]) -> None:
    session, ran = shelf
    done = _as_reader(session, "-m", "extractor_tui", "export", str(session), "--output", "-")
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert [d["fields"] for d in exported["documents"]] == [d["fields"] for d in ran["documents"]]
    assert [d["status"] for d in exported["documents"]] == ["complete"]
    # From the file alone: the provider and model it was made with, and what its calls cost
    # (the first run made every call, so the two agree).
    for key in ("provider", "model", "prompt_tokens", "completion_tokens", "requests"):
        assert exported["summary"][key] == ran["summary"][key], key
    assert exported["documents"][0]["tokens"] == ran["documents"][0]["tokens"]
    assert sorted(p.name for p in session.parent.iterdir()) == ["s.sqlite"]


_LIST = """
import sys
from pathlib import Path
from extractor_tui.core.session import Session
from extractor_tui.ui.screens.sessions import read_session
row = read_session(Path(sys.argv[1]), "today")
print(row.problem, row.documents, row.completed, row.fields)
try:
    Session.open(sys.argv[1])
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_the_sessions_list_reads_it_and_a_writer_is_told_the_folder_is_read_only(
        shelf: tuple[Path, dict[str, Any]]) -> None:
    session, _ = shelf
    done = _as_reader(session, "-c", _LIST, str(session))
    assert done.returncode == 0, done.stderr
    listed, opened = done.stdout.splitlines()
    assert listed == "None 1 1 invoice"
    assert opened == (f"ConfigError cannot write in {session.parent}: the folder is read-only, "
                      "and a session is written as the work goes (`extractor export` reads "
                      "one without writing)")


def test_a_session_locked_by_another_program_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.sqlite"
    Session.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(_session_open, "_TIMEOUT_S", 0.05)  # SQLite's wait for the lock
    try:
        with pytest.raises(ConfigError, match=r"s.sqlite is locked by another program"):
            Session.open(path, read_only=True)
    finally:
        holder.close()


@pytest.mark.parametrize(("make", "why"), [
    ("text", "not a SQLite file"),
    ("other", "a SQLite database of another program"),
    ("folder", "a folder"),
])
def test_a_file_that_is_no_session_says_what_it_is(tmp_path: Path, make: str,
                                                   why: str) -> None:
    path = tmp_path / "thing"
    if make == "text":
        path.write_text("notes, not a database\n" * 100, encoding="utf-8")
    elif make == "other":
        other = sqlite3.connect(path)
        other.execute("CREATE TABLE notes (x)")
        other.commit()
        other.close()
    else:
        path.mkdir()
    for read_only in (False, True):
        with pytest.raises(ConfigError) as caught:
            Session.open(path, read_only=read_only)
        assert str(caught.value) == f"{path} is not an extractor session ({why})"
