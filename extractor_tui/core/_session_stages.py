"""The session's record of the later stages: each document's status per stage, and its
verify requests with the evidence they carried.

In tables of their own, created by the first write (as ``file_stamps``): sessions made
before stages, and readers that never use them (export of such a file, the Sessions list),
need no migration; a reader finds no table and reads "never verified".

* ``stage_status`` (document, stage): pending, in progress, complete or failed, with the
  model and the ``basis`` it was reached on: a hash of the request keys of the document's
  answered chunks. A status whose basis is no longer the document's (a chunk retried or
  split since) no longer holds, and reads as pending.
* ``stage_requests`` (document, stage, part): a verify request's key, model, basis, the
  evidence it carried (JSON: grounding a verify answer needs the very text it was given)
  and how it last ended. Its answer is in ``responses`` under its key, like a chunk's, so
  the cache serves both; its attempts live in the tracker only (``attempts`` points at
  chunks).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from extractor_tui.core.events import (
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    Event,
)
from extractor_tui.core._session_schema import PAGE, id_marks
from extractor_tui.core.model import (
    ChunkId,
    Evidence,
    EvidenceChunk,
    StageStatus,
    Usage,
    WorkItem,
)
from extractor_tui.errors import ErrorKind

__all__ = ["STAGE_DDL", "StageStore", "StoredStage", "evidence_from_json", "evidence_to_json"]

STAGE_DDL = (
    "CREATE TABLE IF NOT EXISTS stage_status (doc_id INTEGER NOT NULL REFERENCES "
    "documents(id) ON DELETE CASCADE, stage TEXT NOT NULL, status TEXT NOT NULL, model TEXT, "
    "basis TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (doc_id, stage))",
    "CREATE TABLE IF NOT EXISTS stage_requests (doc_id INTEGER NOT NULL REFERENCES "
    "documents(id) ON DELETE CASCADE, stage TEXT NOT NULL, part INTEGER NOT NULL, "
    "key TEXT NOT NULL, model TEXT NOT NULL, basis TEXT NOT NULL, evidence TEXT NOT NULL, "
    "tokens INTEGER NOT NULL, document TEXT NOT NULL, status TEXT NOT NULL, reason TEXT, "
    "message TEXT, attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER, "
    "prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0, "
    "raw TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (doc_id, stage, part))",
)

_Write = Callable[[], AbstractContextManager[sqlite3.Connection]]


def evidence_to_json(evidence: Evidence) -> str:
    return json.dumps({"fields": list(evidence.fields), "extracted": evidence.extracted,
                       "chunks": [[c.label, c.start, c.text] for c in evidence.chunks],
                       "page_starts": list(evidence.page_starts)}, ensure_ascii=False)


def evidence_from_json(text: str) -> Evidence:
    data = json.loads(text)
    return Evidence(tuple(data["fields"]), str(data["extracted"]),
                    tuple(EvidenceChunk(str(label), int(start), str(chunk))
                          for label, start, chunk in data["chunks"]),
                    tuple(int(n) for n in data["page_starts"]))


@dataclass(frozen=True)
class StoredStage:
    """A later stage's request as the session keeps it, with how it last ended."""

    item: WorkItem
    model: str
    basis: str
    status: str
    reason: str | None
    message: str | None
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    raw: str | None


_SET_STATUS = ("INSERT INTO stage_status(doc_id, stage, status, model, basis, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(doc_id, stage) DO UPDATE SET "
               "status = excluded.status, model = excluded.model, basis = excluded.basis, "
               "updated_at = excluded.updated_at")
"""One document's status of one stage, written over what was there."""


class StageStore:
    """Reads and writes ``stage_status`` and ``stage_requests`` on a session's connection."""

    def __init__(self, db: sqlite3.Connection, write: _Write,
                 timestamp: Callable[[], str]) -> None:
        self._db = db
        self._write = write
        self._timestamp = timestamp
        self.bulk: dict[str, dict[int, list[StoredStage]]] | None = None
        """Inside ``Session.bulk_reads``: each stage's requests of every document, read at
        the first ask of one document's and dropped by any write here."""
        self._known = False  # the stage tables exist (``_exists``)
        self.status_rows = 0
        """Rows written to ``stage_status``: bookkeeping that no result rests on
        (``Session.changes`` leaves them out)."""

    def _exists(self) -> bool:
        if not self._known:  # once made, the tables stay: a pass asked 200 times
            self._known = self._db.execute(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = "
                "'stage_requests'").fetchone() is not None
        return self._known

    def _create(self, db: sqlite3.Connection) -> None:
        for statement in STAGE_DDL:
            db.execute(statement)

    # -- status per document -------------------------------------------------------------

    def set_status(self, doc_id: int, stage: str, status: StageStatus, *, model: str | None,
                   basis: str) -> None:
        with self._write() as db:
            self._create(db)
            before = db.total_changes
            db.execute(_SET_STATUS,
                       (doc_id, stage, status.value, model, basis, self._timestamp()))
            self.status_rows += db.total_changes - before

    def set_statuses(self, rows: Sequence[tuple[int, str, StageStatus, str | None, str]]
                     ) -> None:
        """(document, stage, status, model, basis) of many documents in one transaction,
        leaving out those already stored so: a run's bookkeeping over 10,000 documents made
        10,000 transactions, which held the loop for seconds at its end."""
        ids = sorted({row[0] for row in rows})
        # A page of documents at a time is asked about theirs alone: reading every status
        # for each page made a 10,000-document pass quadratic (250 ms a page).
        stored = self.statuses(ids) if len(ids) <= PAGE else self.statuses()
        changed = [row for row in rows if stored.get((row[0], row[1])) != row[2:]]
        if not changed:
            return
        at = self._timestamp()
        with self._write() as db:
            self._create(db)
            before = db.total_changes
            db.executemany(_SET_STATUS,
                           [(doc, stage, status.value, model, basis, at)
                            for doc, stage, status, model, basis in changed])
            self.status_rows += db.total_changes - before

    def statuses(self, doc_ids: Sequence[int] | None = None
                 ) -> dict[tuple[int, str], tuple[StageStatus, str | None, str]]:
        """(document, stage) → (status, model, basis) as last written; of every document,
        or of these (at most ``PAGE``)."""
        if not self._exists():
            return {}
        sql = "SELECT doc_id, stage, status, model, basis FROM stage_status"
        if doc_ids is not None:
            sql += f" WHERE doc_id IN ({id_marks(doc_ids)})"
        rows = self._db.execute(sql, tuple(doc_ids or ()))
        return {(int(doc), str(stage)): (StageStatus(status), model, str(basis))
                for doc, stage, status, model, basis in rows}

    # -- requests ------------------------------------------------------------------------

    def set_requests(self, doc_id: int, stage: str, items: Sequence[WorkItem], *,
                     model: str, basis: str) -> None:
        """Make ``items`` the document's requests of ``stage``: one whose key is unchanged
        keeps how it ended; others start pending; parts no longer planned are dropped."""
        self._forget_bulk()
        with self._write() as db:
            self._create(db)
            db.execute("DELETE FROM stage_requests WHERE doc_id = ? AND stage = ? AND "
                       "part >= ?", (doc_id, stage, len(items)))
            for item in items:
                if item.evidence is None:
                    raise ValueError(f"{stage} request {item.id.label} has no evidence")
                row = db.execute("SELECT key FROM stage_requests WHERE doc_id = ? AND "
                                 "stage = ? AND part = ?",
                                 (doc_id, stage, item.id.chunk)).fetchone()
                if row is not None and row[0] == item.key:
                    continue
                db.execute("INSERT OR REPLACE INTO stage_requests(doc_id, stage, part, key, "
                           "model, basis, evidence, tokens, document, status, updated_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                           (doc_id, stage, item.id.chunk, item.key, model, basis,
                            evidence_to_json(item.evidence), item.tokens, item.document,
                            self._timestamp()))

    def requests(self, stage: str, doc_id: int | None = None) -> list[StoredStage]:
        """The stored requests of ``stage`` (one document's, or all), in order."""
        if self.bulk is not None and doc_id is not None:
            if stage not in self.bulk:
                grouped: dict[int, list[StoredStage]] = {}
                for stored in self.requests(stage):
                    grouped.setdefault(stored.item.id.doc, []).append(stored)
                self.bulk[stage] = grouped
            return list(self.bulk[stage].get(doc_id, ()))
        if not self._exists():
            return []
        sql = ("SELECT s.doc_id, s.part, s.key, s.model, s.basis, s.evidence, s.tokens, "
               "s.document, s.status, s.reason, s.message, s.attempts, s.prompt_tokens, "
               "s.completion_tokens, s.raw FROM stage_requests s WHERE s.stage = ?")
        params: tuple[object, ...] = (stage,)
        if doc_id is not None:
            sql += " AND s.doc_id = ?"
            params = (stage, doc_id)
        return [self._stored(stage, row) for row in self._db.execute(
            sql + " ORDER BY s.doc_id, s.part", params)]

    def spent_tokens(self, stage: str) -> Usage:
        """What ``stage``'s answered requests cost in tokens, as recorded."""
        if not self._exists():
            return Usage()
        row = self._db.execute("SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum("
                               "completion_tokens), 0) FROM stage_requests WHERE stage = ?",
                               (stage,)).fetchone()
        return Usage(int(row[0]), int(row[1]))

    @staticmethod
    def _stored(stage: str, row: Sequence[object]) -> StoredStage:
        evidence = evidence_from_json(str(row[5]))
        item = WorkItem(ChunkId(int(str(row[0])), int(str(row[1])), stage=stage),
                        str(row[7]), evidence.data, *evidence.span, evidence.page_starts,
                        int(str(row[6])), str(row[2]), evidence)
        return StoredStage(item, str(row[3]), str(row[4]), str(row[8]),
                           None if row[9] is None else str(row[9]),
                           None if row[10] is None else str(row[10]), int(str(row[11])),
                           int(str(row[12])), int(str(row[13])),
                           None if row[14] is None else str(row[14]))

    # -- events of later stages ----------------------------------------------------------

    def record(self, event: Event) -> None:
        """Store how a later stage's request went: its answer in the cache, its status."""
        chunk: ChunkId = event.id  # type: ignore[union-attr]
        self._forget_bulk()
        if isinstance(event, AttemptStarted):
            self._update(chunk, "status = 'in_progress'", ())
        elif isinstance(event, ChunkCompleted):
            with self._write() as db:
                key = self._key(db, chunk)
                db.execute("INSERT INTO responses(key, content, model, prompt_tokens, "
                           "completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT(key) DO NOTHING",
                           (key, event.raw, event.model, event.prompt_tokens,
                            event.completion_tokens, self._timestamp()))
                self._update(chunk, "status = 'completed', reason = NULL, message = NULL, "
                             "attempts = ?, prompt_tokens = ?, completion_tokens = ?, "
                             "raw = NULL", (event.attempts, event.prompt_tokens,
                                            event.completion_tokens))
        elif isinstance(event, ChunkFailed):
            self._update(chunk, "status = 'failed', reason = ?, message = ?, attempts = ?, "
                         "http_status = ?, raw = ?", (event.reason.value, event.message,
                                                      event.attempts, event.status, event.raw))
        elif isinstance(event, ChunkCancelled):
            self._update(chunk, "status = 'cancelled', reason = ?, message = ?",
                         (ErrorKind.CANCELLED.value, event.reason))

    def _forget_bulk(self) -> None:
        if self.bulk is not None:
            self.bulk.clear()

    def _key(self, db: sqlite3.Connection, chunk: ChunkId) -> str:
        row = db.execute("SELECT key FROM stage_requests WHERE doc_id = ? AND stage = ? AND "
                         "part = ?", (chunk.doc, chunk.stage, chunk.chunk)).fetchone() \
            if self._exists() else None
        if row is None:
            raise LookupError(f"{chunk.stage} request {chunk.label} of document {chunk.doc} "
                              "is not in this session (Session.stages.set_requests first)")
        return str(row[0])

    def _update(self, chunk: ChunkId, assignments: str, values: tuple[object, ...]) -> None:
        with self._write() as db:
            self._key(db, chunk)
            db.execute(f"UPDATE stage_requests SET {assignments}, updated_at = ? WHERE "
                       "doc_id = ? AND stage = ? AND part = ?",
                       (*values, self._timestamp(), chunk.doc, chunk.stage, chunk.chunk))
