"""The session store: one SQLite file per session, so a killed run resumes and pays only for
what was not done, a repeated identical request is answered from the cache, and the user's
edits survive closing the app.

* **Stdlib ``sqlite3``, synchronously.** A write is a few small rows; a WAL commit with
  ``synchronous=NORMAL`` takes well under a millisecond, far below one LLM call, so
  ``record`` runs straight in the engine's sink (a writer thread would only reorder writes).
* **Commit per outcome.** A committed WAL transaction survives the process being killed (it
  is in the OS page cache); ``NORMAL`` risks only the last commits on a power cut.
* **Checkpoints on a thread** (``_session_checkpoint.py``): the commit that took the log past
  4 MB used to copy it into the database and wait for two fsyncs, 25-106 ms on the loop.
* **``BEGIN IMMEDIATE``.** A deferred transaction that reads, then writes while another
  connection writes, fails at once in WAL mode; taking the lock first lets ``busy_timeout``
  (5 s) wait instead.
* **One thread per ``Session``** (sqlite3's same-thread check stays on): another thread or
  process opens its own ``Session`` on the file, and WAL lets it read while this one writes.
* **Never a credential.** Field set, model, provider and a redacted base URL only; meta names
  that look like credentials are refused; no client or settings object is serialised.
* **Content-addressed cache.** ``responses`` is keyed by the request key (hash of document
  text, chunk span, fields, prompt version, model): a stale answer cannot be served, and
  identical chunks anywhere share one answer.

A split chunk stays (marked split) beside its halves (labels ``"3.0"``, ``"3.1"``); only
leaves are work. ``record(ChunkSplit)`` stores the halves from their planned span and key.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from extractor_tui.core._session_checkpoint import Checkpointer
from extractor_tui.core._session_open import cannot_open, connect, not_a_session
from extractor_tui.core._session_pages import DocumentSummary, PageReads, UnfinishedChunk
from extractor_tui.core._session_schema import (
    APPLICATION_ID,
    DDL,
    PAGE,
    RUN_SETTINGS,
    SCHEMA_VERSION,
    EventWriter,
    RunInfo,
    SessionStats,
    StoredAttempt,
    StoredDocument,
    StoredEdit,
    StoredRequest,
    add_missing_columns,
    check_meta_name,
    chunk_row,
    id_marks,
    read_part,
    db_path,
    delete_chunk,
    error_kind,
    fields_from_json,
    fields_to_json,
    store_chunks,
    read_path,
    redact_url,
)
from extractor_tui.core.events import ChunkSplit, Event
from extractor_tui.core.batch_store import BatchStore
from extractor_tui.core._session_stages import StageStore
from extractor_tui.core.session_marks import UrgentMarks
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.model import (
    CachedAnswer,
    ChunkId,
    ChunkStatus,
    DocumentStatus,
    FieldResult,
    FileStamp,
    Usage,
    WorkItem,
)
from extractor_tui.core.serial import result_from_json, result_json
from extractor_tui.core.session_lock import SessionLock
from extractor_tui.errors import ConfigError, SessionWriteError

__all__ = [
    "PAGE",
    "DocumentSummary",
    "Documents",
    "ReusableChunk",
    "RunInfo",
    "Session",
    "SessionStats",
    "StoredAttempt",
    "StoredDocument",
    "StoredEdit",
    "StoredRequest",
    "UnfinishedChunk",
]

_CHUNK_COLUMNS = ('c.doc_id, c.chunk, c.part, c.document, c.start, c."end", c.tokens, c.key, '
                  "c.text")
_CHUNKS = "chunks c"

Documents = int | Sequence[int] | None
"""Which documents a read is about: one, a page of them (at most ``PAGE``), or all."""
_DOC_COLUMNS = "id, path, status, error, pages, page_starts, text_sha256, notes, added_at"
_ATTEMPT_COLUMNS = ("number, started, ended, outcome, http_status, error, prompt_tokens, "
                    "completion_tokens")


@dataclass(frozen=True)
class ReusableChunk:
    """A document's first chunk as stored: enough to tell whether its request key would
    still be the same (same fields, model, mode) without reading the file."""

    text_sha256: str
    start: int
    end: int
    key: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _document_row(r: Any) -> StoredDocument:
    return StoredDocument(int(r[0]), read_path(r[1]), DocumentStatus(r[2]), r[3], int(r[4]),
                          tuple(json.loads(r[5])), r[6], tuple(json.loads(r[7])), str(r[8]))


@dataclass
class _BulkReads:
    """What ``Session.bulk_reads`` read of every document at once; None: read it at the
    next ask (never yet, or a write changed it)."""

    items: dict[int, list[WorkItem]] | None = None
    edits: dict[int, dict[str, StoredEdit]] | None = None
    documents: list[StoredDocument] | None = None
    page: dict[int, list[WorkItem]] = field(default_factory=dict)
    """The chunks of the page of documents ``prefetch_items`` read last."""


class Session(PageReads):
    """An open session file. Build with ``Session.open(path)``; close it, or use ``with``.

    What screens read a page at a time (summaries, counts, unfinished chunks, one chunk)
    comes from ``PageReads`` (``_session_pages.py``)."""

    def __init__(self, db: sqlite3.Connection, path: Path,
                 now: Callable[[], datetime] = _utc_now, *, read_only: bool = False,
                 lock: SessionLock | None = None) -> None:
        self._db = db
        self.path = path
        self._now = now
        self.read_only = read_only
        self._lock = lock
        self._estimates = True  # the file has tokens_estimated (false: an old read-only one)
        self._endpoints = True  # the file's attempts name their endpoint (as above)
        self._writer = EventWriter(db, self._timestamp,
                                   f"{path} is open read-only" if read_only else None)
        self._write = self._writer.transaction
        self._aside: sqlite3.Connection | None = None  # bulk writes off the loop
        self._checkpointer: Checkpointer | None = None  # set by ``open``
        self._aside_lock = threading.Lock()
        self._aside_writes = 0  # transactions of the second connection (``changes``)
        self._result_rows = 0  # rows of ``results`` written: derived, left out of ``changes``
        self._bulk: _BulkReads | None = None  # inside bulk_reads()
        self.batches = BatchStore(db, self._write, self._timestamp)
        """The Batch API hand-offs of this session (``batch_store.py``)."""
        self.stages = StageStore(db, self._write, self._timestamp)
        """Each document's stage status and its verify requests (``_session_stages.py``)."""
        self.urgent = UrgentMarks(db, self._write)
        """Documents and chunks marked urgent (``session_marks.py``)."""

    @property
    def changes(self) -> int:
        """Grows with every row this process writes to the session, through either
        connection, except the stored results and stage statuses (derived from the rest):
        what a reader compares to know that nothing a document's results rest on has
        changed since. (Another process cannot write meanwhile: the session's lock keeps
        one writer.)"""
        return (self._db.total_changes + self._aside_writes - self._result_rows
                - self.stages.status_rows)

    # -- opening and closing -------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, now: Callable[[], datetime] | None = None,
             lock: str | None = None, read_only: bool = False) -> Session:
        """Open ``path``, creating a new session there if it does not exist or is empty.

        ``lock`` names the writer ("extractor run", "the app"): the session's lock is taken
        for as long as it is open, and ``SessionBusy`` says who holds it if another process
        does (``session_lock.py``). ``read_only`` opens an existing session for reading
        only, also a read-only file in a read-only folder; every write then raises
        ``SessionWriteError``. Raises ``ConfigError`` saying why a file cannot be used: not
        an extractor session, written by a newer version, locked by another program, a
        folder or file this user cannot write (``_session_open.py``). ``now`` gives
        wall-clock times (tests).
        """
        path = Path(path)
        if path.is_dir():
            raise not_a_session(path, "a folder")
        if read_only and not path.is_file():
            raise ConfigError(f"{path}: no such session file")
        try:
            held = (SessionLock.acquire(path, lock) if lock and str(path) != ":memory:"
                    else None)
        except OSError as exc:  # the lock file cannot be made: a read-only folder
            raise cannot_open(path, exc, read_only=read_only) from exc
        try:
            db = connect(path, read_only=read_only)
        except ConfigError:
            if held is not None:
                held.release()
            raise
        try:
            db.execute("PRAGMA busy_timeout = 5000")
            app_id = int(db.execute("PRAGMA application_id").fetchone()[0])
            objects = int(db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0])
            if app_id != APPLICATION_ID and (app_id != 0 or objects != 0 or read_only):
                raise not_a_session(path, "a SQLite database of another program"
                                    if objects else "an empty SQLite file")
            if not read_only:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            session = cls(db, path, now or _utc_now, read_only=read_only, lock=held)
            if app_id == 0:
                session._create()
            session._check_version()
            missing = add_missing_columns(db, not read_only)
            session._estimates = not any(c.endswith(".tokens_estimated") for c in missing)
            session._endpoints = "attempts.endpoint" not in missing
        except sqlite3.Error as exc:
            db.close()
            if held is not None:
                held.release()
            raise cannot_open(path, exc, read_only=read_only) from exc
        except BaseException:
            db.close()
            if held is not None:
                held.release()
            raise
        if not read_only and str(path) != ":memory:":
            session._checkpointer = Checkpointer(Path(path))
        return session

    def _create(self) -> None:
        with self._write() as db:
            # Re-checked under the write lock: another process may have just created it.
            if int(db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]):
                return
            for statement in DDL.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                           [("schema_version", str(SCHEMA_VERSION)),
                            ("created_at", self._timestamp())])

    def _check_version(self) -> None:
        version = self.meta("schema_version")
        if version is None or not version.isdigit():
            raise not_a_session(self.path, "it has no schema version")
        if int(version) > SCHEMA_VERSION:
            raise ConfigError(f"{self.path} was written by a newer extractor (session schema "
                              f"{version}; this version reads up to {SCHEMA_VERSION})")

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        with self._aside_lock:
            if self._aside is not None:
                self._aside.close()
                self._aside = None
        self._db.close()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _estimated(self, table: str) -> str:
        """The tokens_estimated column of ``table`` (``"q."``), or 0 where an old file
        opened read-only has none."""
        return f"{table}tokens_estimated" if self._estimates else "0"

    def _timestamp(self) -> str:
        return self._now().astimezone(UTC).isoformat(timespec="milliseconds")

    # -- meta and run info ---------------------------------------------------------------

    def set_meta(self, name: str, value: str) -> None:
        """Store one meta value; names that look like credentials raise ``ValueError``."""
        check_meta_name(name)
        with self._write() as db:
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                       "SET value = excluded.value", (name, value))

    def meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_run_info(self, *, fields: FieldSet, model: str, provider: str,
                     base_url: str | None, settings: Mapping[str, object] | None = None
                     ) -> None:
        """Record what requests are made with; the base URL loses user info and key params.

        ``settings`` keeps the ``RUN_SETTINGS`` among them (provider, chunk and overlap
        tokens, timeout, retries) and nothing else, so a reopened session goes on as it began.
        """
        kept = {name: settings[name] for name in RUN_SETTINGS if settings and name in settings}
        with self._write() as db:
            self.set_meta("fields", fields_to_json(fields))
            self.set_meta("model", model)
            self.set_meta("provider", provider)
            if kept:
                self.set_meta("run_settings", json.dumps(kept))
            if base_url:
                self.set_meta("base_url", redact_url(base_url))
            else:
                db.execute("DELETE FROM meta WHERE key = 'base_url'")

    def run_info(self) -> RunInfo | None:
        fields, model, provider = self.meta("fields"), self.meta("model"), self.meta("provider")
        if fields is None or model is None or provider is None:
            return None
        try:
            kept = json.loads(self.meta("run_settings") or "{}")
        except ValueError:  # written by hand: restore what the other rows say
            kept = {}
        settings = {name: kept[name] for name in RUN_SETTINGS
                    if isinstance(kept, dict) and name in kept}
        return RunInfo(fields_from_json(fields), model, provider, self.meta("base_url"),
                       self.meta("created_at") or "", settings)

    # -- documents -----------------------------------------------------------------------

    def add_document(self, path: str | Path, *, pages: int, page_starts: Sequence[int],
                     text_sha256: str, notes: Sequence[str] = ()) -> int:
        """Register a loaded document; return its id (the same id for the same path).

        When the text's hash changed since it was stored, its chunks (with their request
        history) and results are dropped; the user's edits are kept. Cached answers stay.
        """
        return self._upsert_document(str(path), DocumentStatus.LOADED, None, pages,
                                     list(page_starts),
                                     text_sha256, list(notes))

    def add_failed_document(self, path: str | Path, error: str) -> int:
        """Register a document that did not load, with its one-line reason; return its id."""
        return self._upsert_document(str(path), DocumentStatus.FAILED, error, 0, [], None, [])

    def _upsert_document(self, path: str, status: DocumentStatus, error: str | None,
                         pages: int, page_starts: list[int], text_sha256: str | None,
                         notes: list[str]) -> int:
        values = (status, error, pages, json.dumps(page_starts), text_sha256, json.dumps(notes))
        stored = db_path(path)
        self._forget_bulk()
        with self._write() as db:
            row = db.execute("SELECT id, text_sha256 FROM documents WHERE path = ?",
                             (stored,)).fetchone()
            if row is None:
                cursor = db.execute("INSERT INTO documents(status, error, pages, page_starts, "
                                    "text_sha256, notes, path, added_at) VALUES (?, ?, ?, ?, ?, "
                                    "?, ?, ?)", (*values, stored, self._timestamp()))
                return int(cursor.lastrowid or 0)
            doc_id = int(row[0])
            if text_sha256 is None or row[1] != text_sha256:
                db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))  # and history
                db.execute("DELETE FROM results WHERE doc_id = ?", (doc_id,))
            db.execute("UPDATE documents SET status = ?, error = ?, pages = ?, page_starts = ?, "
                       "text_sha256 = ?, notes = ? WHERE id = ?", (*values, doc_id))
            return doc_id

    def documents(self) -> list[StoredDocument]:
        bulk = self._bulk
        if bulk is None:
            return self._read_documents()
        if bulk.documents is None:
            bulk.documents = self._read_documents()
        return list(bulk.documents)

    def document_pages(self, size: int = PAGE) -> Iterator[list[StoredDocument]]:
        """The documents in session order, ``size`` at a time, each page read when it is
        asked for (by id, so documents added or removed meanwhile upset nothing): a pass
        in steps reads them a page a step (10,000 at once held the loop 60-150 ms)."""
        after = 0
        while True:
            rows = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id > ? "
                                    "ORDER BY id LIMIT ?", (after, size)).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            yield [_document_row(r) for r in rows]

    def known_documents(self, doc_ids: Sequence[int]) -> list[int]:
        """Those of these documents (at most ``PAGE``) the session still holds, in order."""
        rows = self._db.execute(f"SELECT id FROM documents WHERE id IN ({id_marks(doc_ids)}) "
                                "ORDER BY id", tuple(doc_ids))
        return [int(row[0]) for row in rows]

    def _read_documents(self) -> list[StoredDocument]:
        rows = self._db.execute(f"SELECT {_DOC_COLUMNS} FROM documents ORDER BY id")
        return [_document_row(r) for r in rows]

    # -- file stamps: which files need not be read again -----------------------------------
    #
    # In a table of their own, created by the first write: files made before it existed, and
    # readers that never use it (export, the Sessions list), need no migration.

    def set_file_stamp(self, doc_id: int, stamp: FileStamp, chunking: str) -> None:
        """Remember the file a loaded document was read from (size, mtime) and how it was
        chunked, so an unchanged file is not read and chunked again."""
        with self._write() as db:
            db.execute("CREATE TABLE IF NOT EXISTS file_stamps (doc_id INTEGER PRIMARY KEY "
                       "REFERENCES documents(id) ON DELETE CASCADE, size INTEGER NOT NULL, "
                       "mtime_ns INTEGER NOT NULL, chunking TEXT NOT NULL)")
            db.execute("INSERT OR REPLACE INTO file_stamps(doc_id, size, mtime_ns, chunking) "
                       "VALUES (?, ?, ?, ?)", (doc_id, stamp.size, stamp.mtime_ns, chunking))

    def reusable_pages(self, size: int = PAGE
                       ) -> Iterator[dict[str, tuple[FileStamp, str, ReusableChunk]]]:
        """Path → (stamp, chunking, first chunk) of the loaded documents with a stamp, ``size``
        documents a page, each read when it is asked for (by id, as ``document_pages``): a
        re-run of 10,000 documents reads them a page at a time."""
        exists = self._db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                                  "name = 'file_stamps'").fetchone()
        if exists is None:
            return
        after = 0
        while True:
            rows = self._db.execute(
                'SELECT d.path, f.size, f.mtime_ns, f.chunking, d.text_sha256, c.start, '
                'c."end", c.key, d.id FROM file_stamps f JOIN documents d ON d.id = f.doc_id '
                "JOIN chunks c ON c.doc_id = d.id AND c.chunk = 0 AND c.part = '[]' "
                "WHERE d.status = 'loaded' AND d.id > ? ORDER BY d.id LIMIT ?",
                (after, size)).fetchall()
            if not rows:
                return
            after = int(rows[-1][8])
            yield {read_path(r[0]): (FileStamp(int(r[1]), int(r[2])), str(r[3]),
                                     ReusableChunk(str(r[4]), int(r[5]), int(r[6]), str(r[7])))
                   for r in rows}

    def remove_document(self, doc_id: int) -> None:
        """Forget a document with its chunks, history, results and edits (not the cache)."""
        self._forget_bulk()
        with self._write() as db:
            db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    # -- chunks --------------------------------------------------------------------------

    def add_chunks(self, doc_id: int, items: Sequence[WorkItem]) -> None:
        """Set a document's chunk list to ``items`` (whole chunks, ``id.doc == doc_id``).

        A chunk already stored with the same key keeps its halves and request history; one
        whose key changed is replaced and loses them; chunks not in ``items`` are dropped.
        """
        self._check_chunks(doc_id, items)
        self._forget_bulk()
        with self._write() as db:
            store_chunks(db, doc_id, items)

    async def add_chunks_aside(self, doc_id: int, items: Sequence[WorkItem]) -> None:
        """``add_chunks`` off the event loop: a file session writes them in a worker thread,
        on a second connection of its own (WAL lets this one go on reading meanwhile); a
        50 MB file's 12,000 chunks took the loop 1-2 s. An in-memory session cannot be
        reached from a second connection, so it writes here, as ``add_chunks``."""
        self._check_chunks(doc_id, items)
        if str(self.path) == ":memory:":
            self._forget_bulk()
            with self._write() as db:
                store_chunks(db, doc_id, items)
            return
        await asyncio.to_thread(self._store_aside, doc_id, items)

    def _store_aside(self, doc_id: int, items: Sequence[WorkItem]) -> None:
        self._forget_bulk()
        with self._aside_lock:
            if self._aside is None:
                aside = sqlite3.connect(self.path, isolation_level=None, timeout=30.0,
                                        check_same_thread=False)
                aside.execute("PRAGMA busy_timeout = 30000")
                aside.execute("PRAGMA synchronous = NORMAL")
                aside.execute("PRAGMA foreign_keys = ON")
                self._aside = aside
            with EventWriter(self._aside, self._timestamp).transaction() as db:
                store_chunks(db, doc_id, items)
            self._aside_writes += 1

    def _check_chunks(self, doc_id: int, items: Sequence[WorkItem]) -> None:
        if self.read_only:
            raise SessionWriteError(f"cannot write the session: {self.path} is open read-only")
        row = self._db.execute("SELECT status, page_starts FROM documents WHERE id = ?",
                               (doc_id,)).fetchone()
        if row is None or row[0] != DocumentStatus.LOADED:
            raise LookupError(f"document {doc_id} is not a loaded document of this session")
        page_starts = tuple(json.loads(row[1]))
        compared: set[int] = set()  # the chunks of a document share one tuple: compare it once
        for item in items:
            if item.id.doc != doc_id or item.id.part:
                raise ValueError(f"chunk {item.id} is not a whole chunk of document {doc_id}")
            if id(item.page_starts) not in compared:
                if item.page_starts != page_starts:
                    raise ValueError(f"chunk {item.id}: page offsets differ from the document's")
                compared.add(id(item.page_starts))

    def add_split(self, parent: ChunkId, halves: Sequence[WorkItem]) -> None:
        """Store the two halves a truncated chunk was split into; the parent stops being work.

        ``record(ChunkSplit)`` does this itself when the event's halves carry span and key.
        """
        self._forget_bulk()
        self._writer.add_split(parent, halves)

    def work_items(self, doc_id: int | None = None, *,
                   include_split: bool = False) -> list[WorkItem]:
        """Stored chunks in (document, chunk, part) order: leaves, or every chunk."""
        bulk = self._bulk
        if bulk is not None and doc_id is not None and not include_split:
            if doc_id in bulk.page:
                return list(bulk.page[doc_id])
            if bulk.items is None:
                grouped: dict[int, list[WorkItem]] = {}
                for item in self.work_items():
                    grouped.setdefault(item.id.doc, []).append(item)
                bulk.items = grouped
            return list(bulk.items.get(doc_id, ()))
        where = "1" if include_split else "c.split = 0"
        return [chunk_row(r) for r in self._select(where, doc_id)]

    @contextmanager
    def bulk_reads(self) -> Iterator[None]:
        """Inside this block ``work_items(doc_id)``, ``edits(doc_id)`` and
        ``stages.requests(stage, doc_id)`` are answered from one read of every document's,
        made at the first ask and again after this session writes chunks, edits or stage
        requests: a report, a plan or a stage's bookkeeping over 10,000 documents asked
        90,000 times, a query each (9 s of a 30 s resume). For synchronous code: another
        connection's writes meanwhile (a registration in its worker thread) drop what was
        read, but a read already answered is not asked again."""
        if self._bulk is not None:  # nested: the outer block's reads serve
            yield
            return
        self._bulk, self.stages.bulk = _BulkReads(), {}
        try:
            yield
        finally:
            self._bulk = self.stages.bulk = None

    def prefetch_items(self, doc_ids: Sequence[int]) -> None:
        """Inside ``bulk_reads``: read the chunks of this page of documents (at most
        ``PAGE``) in one query, for ``work_items(doc_id)`` to answer from. A pass over
        10,000 documents in steps reads them a page a step: reading all of them at once
        held the loop 100-400 ms."""
        bulk = self._bulk
        if bulk is None:
            return
        page: dict[int, list[WorkItem]] = {doc_id: [] for doc_id in doc_ids}
        if bulk.items is not None:  # read whole already
            page.update((doc_id, bulk.items.get(doc_id, [])) for doc_id in doc_ids)
        elif page:
            for row in self._select("c.split = 0", list(page)):
                item = chunk_row(row)
                page[item.id.doc].append(item)
        bulk.page = page

    def _forget_bulk(self) -> None:
        if self._bulk is not None:
            self._bulk.items = self._bulk.edits = self._bulk.documents = None
            self._bulk.page = {}

    def _select(self, where: str, doc_id: Documents, *, extra: str = "",
                join: str = "") -> list[Any]:
        sql = f"SELECT {_CHUNK_COLUMNS}{extra} FROM {_CHUNKS} {join} WHERE {where}"
        params: tuple[int, ...] = ()
        if isinstance(doc_id, int):
            sql += " AND c.doc_id = ?"
            params = (doc_id,)
        elif doc_id is not None:  # a page of documents: a pass over many reads them so
            sql += f" AND c.doc_id IN ({id_marks(doc_id)})"
            params = tuple(doc_id)
        rows = self._db.execute(sql, params).fetchall()
        rows.sort(key=lambda r: (int(r[0]), int(r[1]), read_part(r[2])))
        # Each document's page offsets are read once and shared by its chunks: joined into
        # every chunk row, a 50,000-page PDF's offsets (350 KB of JSON) were fetched once per
        # chunk, 290 MB for its 832 chunks.
        starts = self._page_starts({int(r[0]) for r in rows})
        return [(*r[:9], starts[int(r[0])], *r[9:]) for r in rows]

    def _page_starts(self, doc_ids: set[int]) -> dict[int, tuple[int, ...]]:
        found: dict[int, tuple[int, ...]] = {}
        ids = sorted(doc_ids)
        for at in range(0, len(ids), PAGE):
            part = ids[at:at + PAGE]
            for doc, text in self._db.execute(
                    f"SELECT id, page_starts FROM documents WHERE id IN ({id_marks(part)})",
                    part):
                found[int(doc)] = tuple(json.loads(text))
        return found

    # -- events --------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        """The engine's sink (compose it with the tracker's): store outcomes as they happen.

        Attempts, completions (the answer goes to the cache), failures, cancellations and
        splits are written and committed at once; other events are ignored. An event for a
        chunk the session does not hold raises ``LookupError``. A later stage's request
        (``ChunkId.stage`` other than extract) is kept by ``self.stages``.
        """
        chunk = getattr(event, "id", None)
        if isinstance(chunk, ChunkId) and chunk.stage != "extract":
            self.stages.record(event)
            return
        if isinstance(event, ChunkSplit):
            self._forget_bulk()
        self._writer.record(event)

    # -- the cache and the state of the work ---------------------------------------------

    def cached_answer(self, key: str) -> CachedAnswer | None:
        """The stored answer for a request key, with its call's tokens; None when none."""
        row = self._db.execute("SELECT content, prompt_tokens, completion_tokens FROM "
                               "responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return CachedAnswer(str(row[0]), int(row[1]), int(row[2]))

    def pending_items(self, doc_id: Documents = None) -> list[WorkItem]:
        """Leaf chunks with no stored answer (never sent, failed or cancelled), in order;
        of one document, a page of them, or all."""
        return [chunk_row(r) for r in self._select(
            "c.split = 0 AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.key = c.key)",
            doc_id)]

    def completed(self, doc_id: Documents = None) -> list[tuple[WorkItem, str]]:
        """Leaf chunks with their stored answer; re-parse it with ``prompts.parse_output``.
        Of one document, of a page of them (at most ``PAGE``), or of all (None)."""
        rows = self._select("c.split = 0", doc_id, extra=", r.content",
                            join="JOIN responses r ON r.key = c.key")
        return [(chunk_row(r), str(r[10])) for r in rows]

    def answered_counts(self) -> dict[int, int]:
        """Document id → how many of its leaf chunks have a stored answer (one query, so a
        screen can ask often while a run writes)."""
        rows = self._db.execute(
            "SELECT c.doc_id, count(*) FROM chunks c WHERE c.split = 0 AND EXISTS "
            "(SELECT 1 FROM responses r WHERE r.key = c.key) GROUP BY c.doc_id")
        return {int(doc): int(n) for doc, n in rows}

    def failed_chunks(self, doc_id: Documents = None) -> list[StoredRequest]:
        """Leaf chunks whose last request failed and that have no answer, with attempts
        (of one document, a page of them, or all, as ``completed``)."""
        rows = self._select(
            "c.split = 0 AND q.status = 'failed' AND NOT EXISTS (SELECT 1 FROM responses r "
            "WHERE r.key = c.key)", doc_id,
            extra=", q.status, q.reason, q.message, q.attempts, q.http_status, "
                  "q.prompt_tokens, q.completion_tokens, q.raw, q.updated_at, "
                  f"{self._estimated('q.')}",
            join="JOIN requests q ON q.doc_id = c.doc_id AND q.label = c.label")
        failed = []
        for r in rows:
            item = chunk_row(r)
            failed.append(StoredRequest(
                item, ChunkStatus(r[10]), error_kind(r[11]), r[12], int(r[13]), r[14], int(r[15]),
                int(r[16]), r[17], str(r[18]),
                tuple(self.attempts(item.id.doc, item.id.label)), bool(r[19])))
        return failed

    def spent(self) -> dict[int, Usage]:
        """Document id → what every call recorded for its chunks cost, across all runs (an
        answer from the cache cost nothing)."""
        rows = self._db.execute("SELECT doc_id, sum(prompt_tokens), sum(completion_tokens), "
                                "max(tokens_estimated) FROM attempts GROUP BY doc_id")
        return {int(doc): Usage(int(p), int(c), bool(e)) for doc, p, c, e in rows}

    def request_counts(self) -> tuple[int, int]:
        """Every call recorded (answers from the cache included, as a run counts them), and
        how many of them were sent again after an earlier attempt of the same run."""
        calls, again = self._db.execute("SELECT count(*), coalesce(sum(number > 1), 0) "
                                        "FROM attempts").fetchone()
        return int(calls), int(again)

    def attempts(self, doc_id: int, label: str) -> list[StoredAttempt]:
        """Every call made for one chunk, across runs, oldest first."""
        endpoint = "endpoint" if self._endpoints else "NULL"
        rows = self._db.execute(f"SELECT {_ATTEMPT_COLUMNS}, {self._estimated('')}, "
                                f"{endpoint} FROM attempts WHERE doc_id = ? "
                                "AND label = ? ORDER BY id", (doc_id, label))
        return [StoredAttempt(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), int(r[7]),
                              bool(r[8]), r[9]) for r in rows]

    def stored_request(self, chunk: ChunkId) -> StoredRequest | None:
        """How one chunk's last request ended, with its text, raw output and every call
        (what a screen shows when the chunk is opened); None when it was never sent."""
        item = self.work_item(chunk.doc, chunk.label)
        row = None if item is None else self._db.execute(
            "SELECT status, reason, message, attempts, http_status, prompt_tokens, "
            f"completion_tokens, raw, updated_at, {self._estimated('')} FROM requests "
            "WHERE doc_id = ? AND label = ?", (chunk.doc, chunk.label)).fetchone()
        if item is None or row is None:
            return None
        return StoredRequest(item, ChunkStatus(row[0]), error_kind(row[1]), row[2], int(row[3]),
                             row[4], int(row[5]), int(row[6]), row[7], str(row[8]),
                             tuple(self.attempts(chunk.doc, chunk.label)), bool(row[9]))

    # -- results and edits ---------------------------------------------------------------

    def save_results(self, doc_id: int, results: Mapping[str, FieldResult]) -> None:
        """Replace a document's results with ``results`` (field name → result)."""
        self.save_many_results([(doc_id, results)])

    def save_many_results(self, documents: Iterable[tuple[int, Mapping[str, FieldResult]]]
                          ) -> None:
        """``save_results`` for many documents in one transaction: a commit per document
        made the end of a 10,000-document run 10,000 transactions."""
        ids: list[tuple[int]] = []
        rows: list[tuple[int, str, str]] = []
        for doc_id, results in documents:
            ids.append((doc_id,))
            rows += [(doc_id, name, json.dumps(result_json(result)))
                     for name, result in results.items()]
        with self._write() as db:
            before = db.total_changes
            db.executemany("DELETE FROM results WHERE doc_id = ?", ids)
            db.executemany("INSERT INTO results(doc_id, field, data) VALUES (?, ?, ?)", rows)
            self._result_rows += db.total_changes - before

    def load_results(self, doc_id: int) -> dict[str, FieldResult]:
        """A document's results as ``save_results`` kept them (also an older version's)."""
        rows = self._db.execute("SELECT field, data FROM results WHERE doc_id = ? "
                                "ORDER BY rowid", (doc_id,))
        return {str(field): result_from_json(json.loads(data)) for field, data in rows}

    def add_edit(self, doc_id: int, field: str, value: object, *, by: str,
                 at: str | None = None) -> StoredEdit:
        """Record a hand edit (JSON-serialisable ``value``), keeping what it replaced."""
        previous = self.edits(doc_id).get(field)
        if previous is not None:
            before: object = previous.value
        else:
            stored = self.load_results(doc_id).get(field)
            before = stored.value if stored is not None else None
        at = at or self._timestamp()
        self._forget_bulk()
        with self._write() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO edits(doc_id, field, value, edited_by, edited_at, previous) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (doc_id, field, json.dumps(value), by, at, json.dumps(before)))
            except sqlite3.IntegrityError as exc:
                raise LookupError(f"document {doc_id} is not in this session") from exc
        return StoredEdit(int(cursor.lastrowid or 0), doc_id, field, value, by, at, before)

    def edits(self, doc_id: int) -> dict[str, StoredEdit]:
        """The latest edit of each edited field of a document."""
        bulk = self._bulk
        if bulk is not None:
            if bulk.edits is None:
                grouped: dict[int, dict[str, StoredEdit]] = {}
                for edit in self._edits("1", ()):
                    grouped.setdefault(edit.doc_id, {})[edit.field] = edit
                bulk.edits = grouped
            return dict(bulk.edits.get(doc_id, {}))
        return {edit.field: edit for edit in self._edits("doc_id = ?", (doc_id,))}

    def edit_history(self, doc_id: int, field: str) -> list[StoredEdit]:
        """Every edit of one field, oldest first."""
        return self._edits("doc_id = ? AND field = ?", (doc_id, field))

    def _edits(self, where: str, params: tuple[object, ...]) -> list[StoredEdit]:
        rows = self._db.execute("SELECT id, doc_id, field, value, edited_by, edited_at, "
                                f"previous FROM edits WHERE {where} ORDER BY id", params)
        return [StoredEdit(int(r[0]), int(r[1]), str(r[2]), json.loads(r[3]), str(r[4]),
                           str(r[5]), json.loads(r[6]) if r[6] is not None else None)
                for r in rows]

    # -- summary -------------------------------------------------------------------------

    def spent_tokens(self) -> Usage:
        """Every call the session recorded, what it cost in tokens (its chunks' history:
        a document removed takes its calls with it)."""
        row = self._db.execute("SELECT coalesce(sum(prompt_tokens), 0), "
                               "coalesce(sum(completion_tokens), 0) FROM attempts").fetchone()
        return Usage(int(row[0]), int(row[1]))

    def stats(self) -> SessionStats:
        one = self._db.execute(
            "SELECT (SELECT count(*) FROM documents), "
            "(SELECT count(*) FROM documents WHERE status = 'failed'), "
            "(SELECT count(*) FROM chunks WHERE split = 0), "
            "(SELECT count(*) FROM chunks c WHERE split = 0 AND EXISTS "
            " (SELECT 1 FROM responses r WHERE r.key = c.key)), "
            "(SELECT count(*) FROM chunks c JOIN requests q ON q.doc_id = c.doc_id AND "
            " q.label = c.label WHERE c.split = 0 AND q.status = 'failed' AND NOT EXISTS "
            " (SELECT 1 FROM responses r WHERE r.key = c.key)), "
            "(SELECT count(*) FROM responses)").fetchone()
        documents, failed_docs, chunks, completed, failed, responses = (int(n) for n in one)
        return SessionStats(documents, failed_docs, chunks, completed, failed,
                            chunks - completed - failed, responses)
