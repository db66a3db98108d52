"""Starting the app, the same way for the CLI, the Pilot tests and the snapshot tests.

``build_app`` is the one factory (STYLE habit 14, after posting): it takes its
collaborators (settings, fields, a session file, documents, and optionally a client and
a clock) and returns a ready ``ExtractorApp``, so a test sees exactly what a user gets.
``launch_app`` is the CLI's side: flags to settings and fields, then ``build_app``.

Every app run is a session, even without ``--session``: without one, a new file is named
by ``RecentSessions.new_path`` (``recent.py``), and every session the app opens is
remembered there for the Sessions screen.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from extractor_tui.config import Settings
from extractor_tui.core.clock import Clock
from extractor_tui.core.fields import FieldSet, preset
from extractor_tui.core.llm.base import Client
from extractor_tui.core.run_settings import restore
from extractor_tui.core.session import Session
from extractor_tui.errors import SessionBusy
from extractor_tui.heap import settle
from extractor_tui.options import fields_from, flag_warnings, settings_from
from extractor_tui.ui.app import ExtractorApp
from extractor_tui.ui.recent import RecentSessions

__all__ = ["DEFAULT_PRESET", "build_app", "launch_app", "prepare_to_run"]

DEFAULT_PRESET = "invoice"
"""The fields used when neither the flags nor the session name any."""


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


def prepare_to_run(app: ExtractorApp) -> None:
    """What the process does before the app runs for a person (``bench/scale.py`` does the
    same): what setting up left is frozen out of full GC passes now, and what the app builds
    for its first screen once that screen is drawn; all of it lives as long as the app."""
    settle()
    app.freeze_when_drawn = True


def launch_app(args: argparse.Namespace, err: Console) -> int:
    """``extractor [PATH...]``: open the app with those documents; returns the exit code."""
    for warning in flag_warnings(args):
        err.print(Text(f"warning: {warning}", style="yellow"))
    settings = settings_from(args)
    fields = fields_from(args, required=False)
    app = build_app(settings, fields, args.session, list(args.paths))
    prepare_to_run(app)
    code = app.run()
    err.print(Text(f"session saved in {app.controller.session_path}", style="dim"))
    return code or 0
