"""What screens show, read a page at a time: per-document summaries, unfinished chunks,
single chunks and counts, each one bounded query that reads no chunk text it does not show.

Why a module of its own: a screen over a session of 10,000 documents cannot build its rows
from every chunk (the app read 60,001 queries' worth of chunk text to open its Documents,
Results and Failed screens, issue 14). It asks for a count and for the rows it draws, and
for a chunk's text only when that chunk is opened. ``Session`` inherits these reads
(``PageReads``), so the store keeps one public surface while ``session.py`` keeps writing.

* **One query per page.** A document's chunk count, tokens, answered and unfinished chunks
  are aggregated in SQL over that page's documents only (``LIMIT``/``OFFSET`` on the
  ``path`` index), never over chunk rows fetched into Python.
* **Orders SQL can keep.** Documents by path (the unique index), unfinished chunks by
  (document id, chunk, halves): a label (``3``, ``3.0``, ``3.0.1``) starts with its chunk's
  number, and within a chunk labels sort as their halves do, because a half is one digit
  and ``.`` sorts before digits.
* **Unfinished** means a leaf chunk with no stored answer whose last request failed or was
  cancelled: what the Failed screen lists and what a retry sends. It is found from the
  ``requests`` table alone, which holds each chunk's key (for its answer) and says
  ``split`` for a chunk that was split: the ``chunks`` rows hold the text, so scanning them
  read the whole file (75 ms for 12,000 chunks, 5 ms without).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from extractor_tui.core._session_schema import chunk_row, error_kind, read_path
from extractor_tui.core.model import ChunkId, ChunkStatus, DocumentStatus, WorkItem
from extractor_tui.errors import ErrorKind

__all__ = ["DocumentSummary", "PageReads", "UnfinishedChunk"]

_UNFINISHED_STATUSES = f"('{ChunkStatus.FAILED.value}', '{ChunkStatus.CANCELLED.value}')"

# The page of documents first (its columns only: page offsets can be 350 KB of JSON for a
# large PDF), then its leaf chunks joined to their answer and last request, aggregated.
_SUMMARY_SQL = """
SELECT d.id, d.path, d.status, d.error, d.pages, d.notes,
       count(c.label), coalesce(sum(c.tokens), 0), count(r.key),
       count(CASE WHEN r.key IS NULL AND q.status IN {unfinished} THEN 1 END)
FROM (SELECT id, path, status, error, pages, notes FROM documents {where}
      ORDER BY {order} LIMIT ? OFFSET ?) d
LEFT JOIN chunks c ON c.doc_id = d.id AND c.split = 0
LEFT JOIN responses r ON r.key = c.key
LEFT JOIN requests q ON q.doc_id = c.doc_id AND q.label = c.label
GROUP BY d.id ORDER BY {order_outer}
"""

_UNFINISHED_FROM = f"""
FROM requests q WHERE q.status IN {_UNFINISHED_STATUSES}
  AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.key = q.key)
"""
_REQUEST_ORDER = "q.doc_id, CAST(q.label AS INTEGER), q.label"


def _chunk_id(doc_id: int, label: str) -> ChunkId:
    chunk, *part = (int(n) for n in label.split("."))
    return ChunkId(doc_id, chunk, tuple(part))


@dataclass(frozen=True)
class DocumentSummary:
    """A document as a screen lists it: counts over its leaf chunks, no text, no offsets.

    ``unfinished`` chunks have no answer and their last request failed or was cancelled;
    chunks neither answered nor unfinished were never sent.
    """

    doc_id: int
    path: str
    pages: int
    error: str | None
    notes: tuple[str, ...]
    chunks: int
    tokens: int
    answered: int
    unfinished: int

    @property
    def loaded(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class UnfinishedChunk:
    """A row of the Failed screen: where the chunk is, how its last request ended and how
    many calls were made for it; its text and raw output are read when it is opened."""

    id: ChunkId
    document: str
    pages: tuple[int, int]
    tokens: int
    status: ChunkStatus
    reason: ErrorKind | None
    message: str | None
    calls: int


def _summary(row: Sequence[Any]) -> DocumentSummary:
    loaded = DocumentStatus(row[2]) is DocumentStatus.LOADED
    return DocumentSummary(int(row[0]), read_path(row[1]), int(row[4]),
                           None if loaded else str(row[3] or "could not be read"),
                           tuple(json.loads(row[5])), int(row[6]), int(row[7]), int(row[8]),
                           int(row[9]))


class PageReads:
    """Bounded reads for screens; mixed into ``Session``, which owns the connection."""

    _db: sqlite3.Connection

    # -- documents -----------------------------------------------------------------------

    def document_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def document_summaries(self, offset: int = 0, limit: int | None = None, *,
                           by_path: bool = False) -> list[DocumentSummary]:
        """Documents with their chunk counts, in session (id) order or ``by_path``, from
        ``offset``, at most ``limit`` of them (None: all). One query."""
        order = "path" if by_path else "id"
        sql = _SUMMARY_SQL.format(unfinished=_UNFINISHED_STATUSES, where="", order=order,
                                  order_outer=f"d.{order}")
        rows = self._db.execute(sql, (-1 if limit is None else limit, offset))
        return [_summary(r) for r in rows]

    def document_summary(self, doc_id: int) -> DocumentSummary | None:
        sql = _SUMMARY_SQL.format(unfinished=_UNFINISHED_STATUSES, where="WHERE id = ?",
                                  order="id", order_outer="d.id")
        row = self._db.execute(sql, (doc_id, 1, 0)).fetchone()
        return None if row is None else _summary(row)

    def document_index(self, doc_id: int) -> int | None:
        """Where a document is in path order (what ``document_summaries(by_path=True)``
        lists), or None when the session does not hold it."""
        row = self._db.execute("SELECT path FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        return int(self._db.execute("SELECT count(*) FROM documents WHERE path < ?",
                                    (row[0],)).fetchone()[0])

    # -- chunks --------------------------------------------------------------------------

    def work_item(self, doc_id: int, label: str) -> WorkItem | None:
        """One stored chunk, with its text (split or not); None when there is no such chunk."""
        row = self._db.execute(
            'SELECT c.doc_id, c.chunk, c.part, c.document, c.start, c."end", c.tokens, c.key, '
            "c.text, d.page_starts FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.doc_id = ? AND c.label = ?", (doc_id, label)).fetchone()
        if row is None:
            return None
        return chunk_row((*row[:9], tuple(json.loads(row[9]))))

    # -- unfinished chunks ---------------------------------------------------------------

    def unfinished_count(self) -> int:
        return int(self._db.execute(f"SELECT count(*) {_UNFINISHED_FROM}").fetchone()[0])

    def unfinished_ids(self) -> list[ChunkId]:
        """Every unfinished chunk's id, in (document, chunk, halves) order (no text)."""
        rows = self._db.execute(f"SELECT q.doc_id, q.label {_UNFINISHED_FROM} "
                                f"ORDER BY {_REQUEST_ORDER}")
        return [_chunk_id(int(doc), str(label)) for doc, label in rows]

    def unfinished_page(self, offset: int = 0, limit: int | None = None
                        ) -> list[UnfinishedChunk]:
        """Unfinished chunks in (document, chunk, halves) order, from ``offset``, at most
        ``limit``; calls are counted for these rows only."""
        # The page of requests first; then their chunks, one look-up each (CROSS JOIN keeps
        # that order: the planner would otherwise scan the chunks, text and all).
        rows = self._db.execute(
            "SELECT q.doc_id, q.label, c.document, c.page_start, c.page_end, c.tokens, "
            "q.status, q.reason, q.message, (SELECT count(*) FROM attempts a WHERE "
            "a.doc_id = q.doc_id AND a.label = q.label) "
            "FROM (SELECT q.doc_id, q.label, q.status, q.reason, q.message "
            f"{_UNFINISHED_FROM} ORDER BY {_REQUEST_ORDER} LIMIT ? OFFSET ?) q "
            "CROSS JOIN chunks c ON c.doc_id = q.doc_id AND c.label = q.label "
            f"ORDER BY {_REQUEST_ORDER}", (-1 if limit is None else limit, offset))
        return [UnfinishedChunk(_chunk_id(int(r[0]), str(r[1])), read_path(r[2]),
                                (int(r[3]), int(r[4])), int(r[5]), ChunkStatus(r[6]),
                                error_kind(r[7]),
                                r[8], int(r[9])) for r in rows]
