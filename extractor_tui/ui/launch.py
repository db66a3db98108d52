"""Starting the app, the same way for the CLI, the Pilot tests and the snapshot tests.

``build_app`` is the one factory (STYLE habit 14, after posting): it takes its
collaborators (settings, fields, a session file, documents, and optionally a client and
a clock) and returns a ready ``ExtractorApp``, so a test sees exactly what a user gets.
``launch_app`` is the CLI's side: flags to settings and fields, then ``build_app``.

Every app run is a session, even without ``--session``: a new file is created under
``$XDG_DATA_HOME/extractor/sessions/`` (default ``~/.local/share/extractor/sessions/``),
named by its start time, and every session the app opens is remembered, newest first, in
``recent.json`` beside that folder. That is what the Sessions screen lists, so a run that
was interrupted can be reopened and resumed.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from extractor_tui.config import Settings
from extractor_tui.core.clock import Clock
from extractor_tui.core.fields import FieldSet, preset
from extractor_tui.core.llm.base import Client
from extractor_tui.core.run_settings import restore
from extractor_tui.core.session import Session
from extractor_tui.errors import SessionBusy
from extractor_tui.paths import data_dir

if TYPE_CHECKING:
    from extractor_tui.ui.app import ExtractorApp

__all__ = ["DEFAULT_PRESET", "RecentSession", "RecentSessions", "build_app", "data_dir",
           "launch_app"]

DEFAULT_PRESET = "invoice"
"""The fields used when neither the flags nor the session name any."""
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


def build_app(settings: Settings, fields: FieldSet | None, session_path: Path | None,
              paths: Sequence[Path] = (), *, client: Client | None = None,
              clock: Clock | None = None, now: Callable[[], datetime] | None = None,
              recent: RecentSessions | None = None) -> ExtractorApp:
    """The app on ``session_path`` (a new session when None) with ``paths`` to load.

    A session that was used before is reopened with the settings it was made with
(provider, base URL, model, chunk and overlap tokens, timeout, retries), except those
set in ``settings`` explicitly, which the plan then lists as differing.
``fields`` None means: the session's own fields when it has any, else the
    ``DEFAULT_PRESET``, and the app says so and opens on the Fields screen. ``client``,
    ``clock`` and ``now`` are for tests (a fake or loopback provider, engine time, wall
    time); ``recent`` defaults to the list under ``data_dir()``.
    """
    from extractor_tui.ui.app import ExtractorApp

    recent = recent or RecentSessions(now=now)
    path = session_path or recent.new_path()
    created = session_path is None  # removed again if the app leaves it empty
    busy: str | None = None
    try:
        session = Session.open(path, now=now, lock="the app")
    except SessionBusy as exc:  # another extractor writes it: offered read-only
        busy = exc.holder
        session = Session.open(path, now=now, read_only=True)
    notes: list[str] = []
    info = session.run_info()
    # A reopened session goes on as it was made; what was set this time (flags, env, the
    # config file) wins, and the plan lists where that differs from the session.
    settings, differences = restore(settings, info, keep=settings.model_fields_set)
    if fields is None:
        if info is not None:
            fields = info.fields
        else:
            fields = preset(DEFAULT_PRESET)
            notes.append(f"No fields were given, so the “{DEFAULT_PRESET}” preset is used. "
                         "Choose a preset or edit the fields here before you run.")
    return ExtractorApp(settings, fields, session, recent, paths=paths, client=client,
                        clock=clock, notes=notes, differences=differences,
                        created=created, busy=busy)


def launch_app(args: argparse.Namespace, err: Console) -> int:
    """``extractor [PATH...]``: open the app with those documents; returns the exit code."""
    from extractor_tui.cli_run import fields_from, settings_from, warn_about_flags

    warn_about_flags(args, err)
    settings = settings_from(args)
    fields = fields_from(args, required=False)
    app = build_app(settings, fields, args.session, list(args.paths))
    code = app.run()
    err.print(Text(f"session saved in {app.controller.session_path}", style="dim"))
    return code or 0
