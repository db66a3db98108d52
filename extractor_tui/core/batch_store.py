"""The session's record of Batch API hand-offs: every batch and every request line in it.

Why it is kept like this:

* **Written before anything is paid for.** A batch's row (its input file and the request
  keys in it) is committed after the upload and *before* ``batches.create``; the provider's
  batch id follows as soon as it is known. A run killed at any point therefore knows every
  key that may be in a batch, and the same command resumes polling instead of submitting
  them again; a row with a file but no batch id is looked up by its input file (the provider
  lists batches with it) before anything new is created.
* **Tables created by the first write** (as ``file_stamps``), so a session made before
  batches existed opens unchanged, and a read-only reader (``extractor batch status``, the
  Sessions list) of such a file finds no batch rather than an error.
* **One row per (batch, request key)**, with how that line ended once the batch's files
  are read: ``answered``, ``invalid`` (its answer and the error, for the re-ask), ``failed``
  (the error line) or ``not_run`` (expired, cancelled, failed validation). The tokens of
  every answered line are kept, so what was billed at the batch price is known later.
* Never a credential: the endpoint is stored as ``redact_url`` leaves it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from extractor_tui.core.model import ChunkId

__all__ = ["BatchLine", "BatchStore", "StoredBatch"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, "
    "batch_id TEXT, input_file_id TEXT NOT NULL, status TEXT NOT NULL, "
    "total INTEGER NOT NULL DEFAULT 0, completed INTEGER NOT NULL DEFAULT 0, "
    "failed INTEGER NOT NULL DEFAULT 0, requests INTEGER NOT NULL DEFAULT 0, "
    "bytes INTEGER NOT NULL DEFAULT 0, message TEXT, created_at TEXT NOT NULL, "
    "updated_at TEXT NOT NULL, in_progress_at INTEGER, collected INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS batch_lines (batch INTEGER NOT NULL REFERENCES batches(id) "
    "ON DELETE CASCADE, key TEXT NOT NULL, doc_id INTEGER NOT NULL, label TEXT NOT NULL, "
    "outcome TEXT, message TEXT, raw TEXT, prompt_tokens INTEGER NOT NULL DEFAULT 0, "
    "completion_tokens INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (batch, key))",
    "CREATE INDEX IF NOT EXISTS batch_lines_key ON batch_lines(key)",
)
_COLUMNS = ("id, endpoint, batch_id, input_file_id, status, total, completed, failed, "
            "requests, bytes, message, created_at, updated_at, in_progress_at, collected")


@dataclass(frozen=True)
class StoredBatch:
    """A batch as the session knows it (``id`` is the session's own number for it)."""

    id: int
    endpoint: str
    batch_id: str | None
    input_file_id: str
    status: str
    total: int
    completed: int
    failed: int
    requests: int
    bytes: int
    message: str | None
    created_at: str
    updated_at: str
    in_progress_at: int | None
    collected: bool

    @property
    def live(self) -> bool:
        """Not collected yet: its requests are in it, not in the queue."""
        return not self.collected


@dataclass(frozen=True)
class BatchLine:
    """How one request line of a collected batch ended."""

    key: str
    outcome: str  # answered · invalid · failed · not_run
    message: str | None = None
    raw: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]


class BatchStore:
    """Reads and writes the two batch tables of one open session."""

    def __init__(self, db: sqlite3.Connection, transaction: Transaction,
                 timestamp: Callable[[], str]) -> None:
        self._db = db
        self._transaction = transaction
        self._timestamp = timestamp

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._transaction()

    def _exists(self) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                                "name = 'batch_lines'").fetchone() is not None

    def _rows(self, sql: str, params: Sequence[object] = ()) -> Iterator[sqlite3.Row]:
        if not self._exists():
            return iter(())
        return iter(self._db.execute(sql, tuple(params)).fetchall())

    # -- writing -------------------------------------------------------------------------

    def add(self, endpoint: str, input_file_id: str, lines: Sequence[tuple[str, ChunkId]],
            size: int) -> int:
        """Record a batch about to be created: its input file and (key, chunk) per line."""
        now = self._timestamp()
        with self._write() as db:
            for statement in _DDL:
                db.execute(statement)
            cursor = db.execute(
                "INSERT INTO batches(endpoint, input_file_id, status, requests, bytes, "
                "created_at, updated_at) VALUES (?, ?, 'uploaded', ?, ?, ?, ?)",
                (endpoint, input_file_id, len(lines), size, now, now))
            local = int(cursor.lastrowid or 0)
            db.executemany("INSERT INTO batch_lines(batch, key, doc_id, label) "
                           "VALUES (?, ?, ?, ?)",
                           [(local, key, chunk.doc, chunk.label) for key, chunk in lines])
        return local

    def update(self, local: int, *, batch_id: str, status: str, total: int, completed: int,
               failed: int, message: str | None = None,
               in_progress_at: int | None = None) -> None:
        """What the provider said of a batch, as of now."""
        with self._write() as db:
            db.execute("UPDATE batches SET batch_id = ?, status = ?, total = ?, completed = ?, "
                       "failed = ?, message = coalesce(?, message), "
                       "in_progress_at = coalesce(?, in_progress_at), updated_at = ? "
                       "WHERE id = ?", (batch_id, status, total, completed, failed, message,
                                        in_progress_at, self._timestamp(), local))

    def collect(self, local: int, lines: Sequence[BatchLine], *,
                status: str | None = None, message: str | None = None) -> None:
        """How each line ended; the batch is no longer live. Lines without an entry in
        ``lines`` are marked ``not_run``."""
        with self._write() as db:
            db.executemany(
                "UPDATE batch_lines SET outcome = ?, message = ?, raw = ?, prompt_tokens = ?, "
                "completion_tokens = ? WHERE batch = ? AND key = ?",
                [(line.outcome, line.message, line.raw, line.prompt_tokens,
                  line.completion_tokens, local, line.key) for line in lines])
            db.execute("UPDATE batch_lines SET outcome = 'not_run' WHERE batch = ? AND "
                       "outcome IS NULL", (local,))
            db.execute("UPDATE batches SET collected = 1, status = coalesce(?, status), "
                       "message = coalesce(?, message), updated_at = ? WHERE id = ?",
                       (status, message, self._timestamp(), local))

    # -- reading -------------------------------------------------------------------------

    def batches(self, *, live_only: bool = False) -> list[StoredBatch]:
        """Every batch of the session, oldest first (or only those not collected)."""
        where = " WHERE collected = 0" if live_only else ""
        return [_batch(row) for row in self._rows(
            f"SELECT {_COLUMNS} FROM batches{where} ORDER BY id")]

    def keys(self, local: int) -> list[str]:
        """The request keys of one batch, in the order they were written."""
        return [str(row[0]) for row in self._rows(
            "SELECT key FROM batch_lines WHERE batch = ? ORDER BY rowid", (local,))]

    def live_keys(self) -> set[str]:
        """Request keys in a batch that is not collected yet: never submitted again."""
        return {str(row[0]) for row in self._rows(
            "SELECT l.key FROM batch_lines l JOIN batches b ON b.id = l.batch "
            "WHERE b.collected = 0")}

    def history(self, key: str) -> list[BatchLine]:
        """Every collected line of one request key, oldest first."""
        return [BatchLine(str(r[0]), str(r[1]), r[2], r[3], int(r[4]), int(r[5]))
                for r in self._rows(
                    "SELECT key, outcome, message, raw, prompt_tokens, completion_tokens "
                    "FROM batch_lines WHERE key = ? AND outcome IS NOT NULL ORDER BY batch",
                    (key,))]

    def billed(self) -> tuple[int, int, int]:
        """(lines, prompt tokens, completion tokens) billed at the batch price so far: every
        line that came back with an answer, usable or not."""
        row = next(self._rows(
            "SELECT count(*), coalesce(sum(prompt_tokens), 0), "
            "coalesce(sum(completion_tokens), 0) FROM batch_lines "
            "WHERE outcome IN ('answered', 'invalid')"), None)
        return (int(row[0]), int(row[1]), int(row[2])) if row is not None else (0, 0, 0)


def _batch(row: sqlite3.Row) -> StoredBatch:
    return StoredBatch(int(row[0]), str(row[1]), row[2], str(row[3]), str(row[4]), int(row[5]),
                       int(row[6]), int(row[7]), int(row[8]), int(row[9]), row[10],
                       str(row[11]), str(row[12]), row[13], bool(row[14]))
