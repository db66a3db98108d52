"""The sessions the app opened, newest first: what the Sessions screen lists.

Every app run is a session, even without ``--session``: ``new_path`` names a fresh file
under ``$XDG_DATA_HOME/extractor/sessions/`` by its start time, and every session the app
opens is remembered in ``recent.json`` beside that folder, so an interrupted run can be
reopened and resumed. A module of its own because the app, its controller and the factory
all read the list: kept in ``launch.py`` it tied those three (and every screen) into one
import loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractor_tui.paths import data_dir

__all__ = ["RecentSession", "RecentSessions"]

_KEEP = 20


@dataclass(frozen=True)
class RecentSession:
    path: Path
    opened_at: str


class RecentSessions:
    """Session files the app opened, newest first (at most 20), in ``recent.json``.

    A list the user never edits by hand, so a missing or broken file is an empty list and a
    write that fails is skipped: forgetting a recent session must never stop the app.
    """

    def __init__(self, directory: Path | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.directory = directory or data_dir()
        self._now = now or datetime.now
        self._file = self.directory / "recent.json"

    def entries(self) -> list[RecentSession]:
        """The remembered sessions whose files still exist."""
        return [row for row in self._rows() if row.path.is_file()]

    def _rows(self) -> list[RecentSession]:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
            return [RecentSession(Path(d["path"]), str(d["opened_at"])) for d in data]
        except (OSError, ValueError, TypeError, KeyError):
            return []

    def add(self, path: Path) -> None:
        """Put ``path`` first, stamped with the time it was opened."""
        path = path.resolve()
        stamp = self._now().strftime("%Y-%m-%d %H:%M")
        self._write([RecentSession(path, stamp)]
                    + [r for r in self.entries() if r.path != path])

    def remove(self, path: Path) -> None:
        """Forget ``path`` (deleted, or left empty)."""
        self._write([r for r in self.entries() if r.path != path.resolve()])

    def rename(self, old: Path, new: Path) -> None:
        """``old`` is now called ``new``; it keeps its place and time."""
        old, new = old.resolve(), new.resolve()
        self._write([RecentSession(new, r.opened_at) if r.path == old else r
                     for r in self._rows() if r.path == old or r.path.is_file()])

    def _write(self, rows: list[RecentSession]) -> None:
        data = [{"path": str(r.path), "opened_at": r.opened_at} for r in rows[:_KEEP]]
        temp = self._file.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(temp, self._file)
        except OSError:
            pass

    def new_path(self) -> Path:
        """A fresh session file name under ``sessions/``, from the current time."""
        folder = self.directory / "sessions"
        folder.mkdir(parents=True, exist_ok=True)
        stem = self._now().strftime("%Y%m%d-%H%M%S")
        path, n = folder / f"{stem}.sqlite", 1
        while path.exists():
            n += 1
            path = folder / f"{stem}-{n}.sqlite"
        return path
