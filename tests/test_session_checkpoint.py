"""The session's WAL is copied into the database by a thread, not by commits on the event
loop (``core/_session_checkpoint.py``): those checkpoints were the longest stalls of a
10,000-document run (25-106 ms each)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

from extractor_tui.core.session import Session


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "extractor-checkpoint"]


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


def test_what_a_session_commits_reaches_the_database_file_with_no_commit_checkpointing(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        for n in range(200):  # far below the 1,000 pages at which a commit would checkpoint
            session.set_meta(f"note_{n}", "x" * 100)
        checkpointer = session._checkpointer
        assert checkpointer is not None
        assert _wait_for(lambda: checkpointer.checkpoints > 0)
        # The database file alone, without its log, already holds every row.
        alone = tmp_path / "alone.sqlite"
        shutil.copyfile(path, alone)
        db = sqlite3.connect(alone)
        try:
            rows = db.execute("SELECT count(*) FROM meta WHERE key LIKE 'note_%'").fetchone()
        finally:
            db.close()
        assert rows == (200,)


def test_closing_a_session_stops_its_checkpointer_and_removes_the_log(tmp_path: Path) -> None:
    before = len(_checkpoint_threads())
    session = Session.open(tmp_path / "s.sqlite")
    assert len(_checkpoint_threads()) == before + 1
    session.set_meta("note", "x")
    session.close()
    assert len(_checkpoint_threads()) == before
    assert not (tmp_path / "s.sqlite-wal").exists()  # the session's connection closed last


def test_a_read_only_or_in_memory_session_has_no_checkpointer(tmp_path: Path) -> None:
    Session.open(tmp_path / "s.sqlite").close()
    before = len(_checkpoint_threads())
    with Session.open(tmp_path / "s.sqlite", read_only=True) as reader, \
            Session.open(":memory:") as memory:
        assert reader._checkpointer is None and memory._checkpointer is None
        assert len(_checkpoint_threads()) == before
