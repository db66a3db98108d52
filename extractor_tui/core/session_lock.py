"""One session, one writer: a lock file beside the session, held for as long as it is open.

Two ``extractor run``s on the same ``--session`` once paid for 632 duplicate calls out of
653: each saw the same chunks pending and sent them. SQLite's own locks are per
transaction, so they cannot say "this session is being worked on". So a writer takes
``<session>.lock``:

* ``flock(LOCK_EX | LOCK_NB)`` on it: the kernel drops the lock when the process ends, even
  by ``kill -9``, so a crash never leaves a session locked for good, and nothing has to
  guess whether a recorded pid is still alive;
* the holder writes who it is (pid, host, what it runs, since when) into the file, so the
  second one can say who holds it;
* on release the file is removed while still locked; a process that opened it just before
  and then got the lock on the removed file notices (its inode is no longer the path's) and
  tries again, so two writers can never both hold "the" lock.

Readers (``extractor export``, the app's list of sessions, the app opening a busy session
read-only) take no lock. Where ``fcntl`` does not exist (Windows) there is no lock.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractor_tui.errors import SessionBusy

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LockHolder", "SessionLock", "lock_path"]

_TRIES = 5


def lock_path(session: Path) -> Path:
    return session.with_name(session.name + ".lock")


@dataclass(frozen=True)
class LockHolder:
    """Who holds a session: read from its lock file (empty when it is just being taken)."""

    pid: int | None
    host: str
    command: str
    since: str

    def describe(self) -> str:
        if self.pid is None:
            return "another extractor (just starting)"
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"{self.command} (pid {self.pid}{where}, since {self.since})"

    @classmethod
    def read(cls, path: Path) -> LockHolder:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(int(data["pid"]), str(data["host"]), str(data["command"]),
                       str(data["since"]))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(None, "", "", "")


class SessionLock:
    """A held lock; ``release()`` (or closing the session) gives it back."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def acquire(cls, session: Path, command: str) -> SessionLock:
        """Take the lock of ``session`` for ``command`` ("extractor run", "the app"), or
        raise ``SessionBusy`` naming who holds it."""
        path = lock_path(session)
        if fcntl is None:
            return cls(path, None)
        for _ in range(_TRIES):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = LockHolder.read(path)
                raise SessionBusy(session, holder.describe()) from None
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed it as we took it: take the new one
                os.close(fd)
                continue
            record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                      "since": datetime.now().strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(record).encode())
            return cls(path, fd)
        raise SessionBusy(session, "another extractor (the lock keeps changing hands)")

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: see the module docstring
        except OSError:
            pass  # a read-only folder: the kernel lock goes away on close all the same
        os.close(self._fd)
        self._fd = None
