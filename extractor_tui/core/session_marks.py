"""The session's urgent marks: documents, or single chunks, to send before the rest.

A table of its own, created by the first mark (as ``file_stamps`` and the batch tables), so
older session files open unchanged and a reader of one with no marks finds none. A mark on
a document is ``label = ''``; a mark on a chunk names its label, and covers the halves it is
split into (``"3"`` covers ``"3.0"`` and ``"3.1.0"``). Marks go with their document when it
is removed (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from extractor_tui.core.model import ChunkId

__all__ = ["UrgentMarks"]

_DDL = ("CREATE TABLE IF NOT EXISTS urgent (doc_id INTEGER NOT NULL REFERENCES documents(id) "
        "ON DELETE CASCADE, label TEXT NOT NULL DEFAULT '', PRIMARY KEY (doc_id, label))")


class UrgentMarks:
    """Reads and writes the urgent marks of one open session."""

    def __init__(self, db: sqlite3.Connection,
                 transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self._db = db
        self._transaction = transaction

    def set(self, docs: Sequence[int] = (), chunks: Sequence[ChunkId] = (), *,
            urgent: bool = True) -> int:
        """Mark (or unmark) whole documents and single chunks; how many marks changed."""
        rows = [(doc, "") for doc in docs] + [(c.doc, c.label) for c in chunks]
        if not rows:
            return 0
        changed = 0
        with self._transaction() as db:
            db.execute(_DDL)
            for row in rows:
                if urgent:
                    changed += db.execute("INSERT OR IGNORE INTO urgent(doc_id, label) "
                                          "VALUES (?, ?)", row).rowcount
                else:
                    changed += db.execute("DELETE FROM urgent WHERE doc_id = ? AND label = ?",
                                          row).rowcount
        return changed

    def get(self) -> tuple[frozenset[int], frozenset[tuple[int, str]]]:
        """(urgent documents, urgent (document, chunk label) pairs)."""
        exists = self._db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                                  "name = 'urgent'").fetchone()
        if exists is None:
            return frozenset(), frozenset()
        rows = self._db.execute("SELECT doc_id, label FROM urgent").fetchall()
        return (frozenset(int(doc) for doc, label in rows if not label),
                frozenset((int(doc), str(label)) for doc, label in rows if label))

    @staticmethod
    def covers(docs: frozenset[int], chunks: frozenset[tuple[int, str]], chunk: ChunkId) -> bool:
        """Whether ``chunk`` is urgent: its document is, or it or a chunk it was split
        from is."""
        if chunk.doc in docs:
            return True
        label = chunk.label
        return any(doc == chunk.doc and (label == marked or label.startswith(marked + "."))
                   for doc, marked in chunks)
