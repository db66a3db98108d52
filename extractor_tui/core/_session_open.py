"""Opening a session file, and saying why it cannot be opened.

Kept apart from ``session.py`` because the failures are many and each needs its own words:
a file another program has locked, a folder this user cannot write, a file that is no
SQLite database, a database of another program, a damaged one. Before, every one of them
read "is not an extractor session", which sent users looking for the wrong problem.

A session is in WAL mode, and SQLite reads a WAL database only beside its ``-shm`` file,
which it creates. In a folder the user cannot write (a read-only mount, a colleague's
folder), a session closed cleanly has no ``-shm``, and a read-only open fails. A reader
then opens it ``immutable``: no ``-shm`` means no writer is open on it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from extractor_tui.errors import ConfigError

__all__ = ["cannot_open", "connect", "not_a_session"]

_TIMEOUT_S = 5.0


def _error_name(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", ""))


def connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    """A connection to ``path`` (read-only: ``mode=ro``), whose first read has worked; a
    ``ConfigError`` saying why when there is none."""
    try:
        if not read_only:
            return sqlite3.connect(path, isolation_level=None, timeout=_TIMEOUT_S)
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_TIMEOUT_S)
        try:
            db.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except sqlite3.OperationalError as exc:
            db.close()
            if not (_error_name(exc).startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY"))
                    and not os.access(path.resolve().parent, os.W_OK)):
                raise
            return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None,
                                   timeout=_TIMEOUT_S)
        return db
    except sqlite3.Error as exc:
        raise cannot_open(path, exc, read_only=read_only) from exc


def not_a_session(path: Path, why: str = "") -> ConfigError:
    return ConfigError(f"{path} is not an extractor session" + (f" ({why})" if why else ""))


def cannot_open(path: Path, exc: BaseException, *, read_only: bool) -> ConfigError:
    """Why ``path`` could not be opened, in the user's terms, from SQLite's error (or the
    OS's, for the lock file) and what the file system says about the file and its folder."""
    name = _error_name(exc)
    folder = path.resolve().parent
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ConfigError(f"{path} is locked by another program (SQLite: {exc}); try again "
                           "when it has finished")
    if name.startswith("SQLITE_NOTADB"):
        return not_a_session(path, "not a SQLite file")
    if name.startswith("SQLITE_CORRUPT"):
        return ConfigError(f"{path} is damaged (SQLite: {exc})")
    if not folder.is_dir():
        return ConfigError(f"cannot open session {path}: there is no folder {folder}")
    if path.exists() and not os.access(path, os.R_OK):
        return ConfigError(f"cannot read {path}: permission denied")
    if not read_only and not os.access(folder, os.W_OK):
        return ConfigError(f"cannot write in {folder}: the folder is read-only, and a session "
                           "is written as the work goes (`extractor export` reads one "
                           "without writing)")
    if not read_only and path.exists() and not os.access(path, os.W_OK):
        return ConfigError(f"{path} is read-only: a session is written as the work goes "
                           "(`extractor export` reads one without writing)")
    if isinstance(exc, OSError) and exc.strerror:  # the lock file beside it (a planted link)
        where = f"{exc.filename}: " if exc.filename else ""
        return ConfigError(f"cannot open session {path}: {where}{exc.strerror}")
    return ConfigError(f"cannot open session {path}: {exc}")
