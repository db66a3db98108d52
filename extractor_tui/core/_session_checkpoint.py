"""WAL checkpoints made on a thread of their own, so that a commit on the event loop rarely
has one to make, and then a short one.

SQLite checkpoints a WAL database inside the commit that takes the log past
``wal_autocheckpoint`` pages (1,000, 4 MB): that commit copies the log into the database file
and waits for two fsyncs. On the event loop this was the longest stall left in a
10,000-document run: commits of 25-106 ms that used 0.4-3 ms of CPU (measured with a
per-transaction timer), and none at all once the commit's checkpoints were turned off.

A ``Checkpointer`` copies the log into the database from a connection of its own every
``INTERVAL_S`` (``PASSIVE``: it neither waits for a writer nor holds one up). When a commit
on the loop reaches the limit, nearly every page is already copied and synced, so its
checkpoint is short; the same run had no commit over 20 ms on the loop.

Why the commit's own checkpoints stay on: the log restarts from its beginning only when a
checkpoint has copied all of it between two commits. A run commits every millisecond or two,
so checkpoints made only on a thread let the log grow to 443 MB in one run (tried, and
reverted, in b7c241f). The commit's checkpoint is the bound; the thread makes it cheap.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["IDLE_S", "INTERVAL_S", "Checkpointer"]

INTERVAL_S = 0.05
"""Between two checkpoints while the log grows: at about 1,000 commits a second, 50 ms of them
is a few hundred pages, copied in a few milliseconds off the loop."""

IDLE_S = 1.0
"""Between two looks at a log that did not grow (a session open in the app, waiting)."""


class Checkpointer:
    """A daemon thread checkpointing ``path``'s WAL until ``close``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stop = threading.Event()
        self.checkpoints = 0
        """Checkpoints that found pages in the log, all of them copied into the database
        by now (what a test reads to know this thread did the work)."""
        self._thread = threading.Thread(target=self._run, name="extractor-checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error:
            return  # the commits' own checkpoints still bound the log
        try:
            wait, seen = INTERVAL_S, -1
            while not self._stop.wait(wait):
                try:
                    _, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    continue  # a checkpoint already under way, or a locked file: next time
                if log > 0 and copied == log and log != seen:
                    self.checkpoints += 1
                wait = INTERVAL_S if log != seen else IDLE_S  # the log grew, or restarted
                seen = log
        finally:
            db.close()

    def close(self) -> None:
        """Stop and wait for the thread (before the session's own connection closes, so that
        one is the last and removes the log, as without a checkpointer)."""
        self._stop.set()
        self._thread.join()
