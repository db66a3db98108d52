"""The session file's schema, the plain records ``Session`` returns, and the event writer.

Kept apart from ``session.py`` so the tables, the rows they hold and the SQL that turns an
engine event into rows read in one place, while ``session.py`` keeps the public surface.

Why the tables look like this:

* ``chunks`` is keyed by (document, label): a label (``"3"``, ``"3.1.0"``) names a chunk and
  every half it was split into, so ``requests`` and ``attempts`` point at it with a composite
  foreign key and disappear with it (``ON DELETE CASCADE``) when a document's text changes.
* ``responses`` is keyed by the request key alone, not by chunk: it is a content-addressed
  cache, so two documents with the same text share answers, and removing a document keeps
  them.
* ``attempts`` has its own row id because attempt numbers restart at 1 in every run of the
  engine; a resumed run appends to the history rather than overwriting it.
* Engine times (``started``, ``ended``) are the engine clock's monotonic seconds, good for
  durations; wall-clock times (``created_at``, ``updated_at``, ``edited_at``) are ISO 8601 UTC.
* Every attempt keeps what it cost, cut-off and invalid answers included (a cached answer
  cost nothing and is stored as 0), with ``tokens_estimated`` when we counted the tokens
  because the server did not; a request's tokens are the sum of its chunk's attempts. The
  column came after schema 1 was out: ``add_missing_columns`` adds it to an older file
  (``ALTER TABLE … ADD COLUMN`` with a default), and older versions, which name their
  columns, read and write such a file as before, so the schema version stays 1.
* Every attempt names the endpoint it went to (``endpoint``: the name from the config file,
  or the URL without credentials of the one endpoint; never a key), NULL when the session's
  own cache answered it. Added the same way.

The file marks itself twice: ``PRAGMA application_id`` (readable by ``file`` and any SQLite
tool) and a ``schema_version`` row in ``meta``, so an unrelated SQLite file is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkSplit,
    Event,
)
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.model import ChunkId, ChunkStatus, DocumentStatus, WorkItem
from extractor_tui.core.scrub import SECRET_WORDS, redact_url
from extractor_tui.errors import ErrorKind, SessionWriteError

PAGE = 500
"""The most documents one read of a page of them asks for (bound variables stay well
under SQLite's limit)."""


def id_marks(ids: Sequence[int]) -> str:
    """``?, ?, …`` for ``IN (…)`` over a page of document ids (at most ``PAGE``)."""
    if len(ids) > PAGE:
        raise ValueError(f"at most {PAGE} documents at once")
    return ", ".join("?" * len(ids))

__all__ = [
    "APPLICATION_ID",
    "DDL",
    "PAGE",
    "RUN_SETTINGS",
    "SCHEMA_VERSION",
    "EventWriter",
    "RunInfo",
    "SessionStats",
    "StoredAttempt",
    "StoredDocument",
    "StoredEdit",
    "StoredRequest",
    "add_missing_columns",
    "check_meta_name",
    "chunk_row",
    "id_marks",
    "db_path",
    "delete_chunk",
    "error_kind",
    "fields_from_json",
    "fields_to_json",
    "insert_chunk",
    "store_chunks",
    "read_part",
    "read_path",
    "redact_url",
]

APPLICATION_ID = 0x45585452  # "EXTR"
SCHEMA_VERSION = 1

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('loaded', 'failed')), error TEXT,
    pages INTEGER NOT NULL DEFAULT 0, page_starts TEXT NOT NULL DEFAULT '[]',
    text_sha256 TEXT, notes TEXT NOT NULL DEFAULT '[]', added_at TEXT NOT NULL);
CREATE TABLE chunks (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    label TEXT NOT NULL, chunk INTEGER NOT NULL, part TEXT NOT NULL, document TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    page_start INTEGER NOT NULL, page_end INTEGER NOT NULL, tokens INTEGER NOT NULL,
    key TEXT NOT NULL, text TEXT NOT NULL, split INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (doc_id, label));
CREATE INDEX chunks_key ON chunks(key);
CREATE TABLE requests (
    doc_id INTEGER NOT NULL, label TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, message TEXT, attempts INTEGER NOT NULL DEFAULT 0, http_status INTEGER,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    raw TEXT, updated_at TEXT NOT NULL, tokens_estimated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (doc_id, label),
    FOREIGN KEY (doc_id, label) REFERENCES chunks(doc_id, label) ON DELETE CASCADE);
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL, label TEXT NOT NULL,
    number INTEGER NOT NULL, started REAL, ended REAL, outcome TEXT, http_status INTEGER,
    error TEXT, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, tokens_estimated INTEGER NOT NULL DEFAULT 0,
    endpoint TEXT,
    FOREIGN KEY (doc_id, label) REFERENCES chunks(doc_id, label) ON DELETE CASCADE);
CREATE INDEX attempts_chunk ON attempts(doc_id, label);
CREATE TABLE responses (
    key TEXT PRIMARY KEY, content TEXT NOT NULL, model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL);
CREATE TABLE results (
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    field TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (doc_id, field));
CREATE TABLE edits (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    field TEXT NOT NULL, value TEXT NOT NULL, edited_by TEXT NOT NULL,
    edited_at TEXT NOT NULL, previous TEXT);
CREATE INDEX edits_field ON edits(doc_id, field);
"""

RUN_SETTINGS = ("provider", "chunk_tokens", "overlap_tokens", "timeout_s", "retries")
"""The settings a session keeps besides model and base URL, so reopening it sends the rest
of its work the way it began. A closed list: nothing else (never a key) is written."""

# SQLite result codes (and their extended forms) that mean the file cannot be written now.
_CANNOT_WRITE = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_BUSY",
                 "SQLITE_CANTOPEN")


def db_path(path: str) -> str | bytes:
    """A file name for a TEXT column, losslessly. A name that is not valid UTF-8 reaches
    Python with its odd bytes as lone surrogates (``surrogateescape``), which sqlite3
    refuses to bind; it is stored as its original bytes (a BLOB) instead."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")
    return path


def read_path(value: str | bytes) -> str:
    """The file name ``db_path`` stored, as Python names it (``os.fsencode`` gives its bytes)."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


_ADDED_COLUMNS = (("attempts", "tokens_estimated", "INTEGER NOT NULL DEFAULT 0"),
                  ("requests", "tokens_estimated", "INTEGER NOT NULL DEFAULT 0"),
                  ("attempts", "endpoint", "TEXT"))


def add_missing_columns(db: sqlite3.Connection, writable: bool) -> frozenset[str]:
    """Add the columns later versions added to an older session file; returns those still
    missing (``"attempts.endpoint"``): some, when the file is read-only (readers then use
    their defaults)."""
    missing = set()
    for table, column, kind in _ADDED_COLUMNS:
        present = {str(row[1]) for row in db.execute(f"PRAGMA table_info({table})")}
        if column in present:
            continue
        if not writable:
            missing.add(f"{table}.{column}")
            continue
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    return frozenset(missing)


def check_meta_name(name: str) -> None:
    """Refuse a meta entry whose name suggests a credential: the session never holds one."""
    lowered = name.lower()
    for word in SECRET_WORDS:
        if word in lowered:
            raise ValueError(f"refusing to store {name!r} in a session: names containing "
                             f"{word!r} may hold a credential, and sessions never do")


def fields_to_json(fields: FieldSet) -> str:
    return json.dumps({"name": fields.name, "fields": [spec.as_dict() for spec in fields]})


def fields_from_json(text: str) -> FieldSet:
    data = json.loads(text)
    specs = tuple(
        FieldSpec(name=str(item["name"]), type=FieldType(item["type"]), many=bool(item["many"]),
                  description=str(item["description"]), required=bool(item["required"]),
                  enum=tuple(item["enum"]) if item["enum"] is not None else None)
        for item in data["fields"])
    return FieldSet(specs, name=str(data["name"]))


def error_kind(value: str | None) -> ErrorKind | None:
    """The stored reason as an ``ErrorKind``; None for none or an unknown (newer) value."""
    try:
        return ErrorKind(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RunInfo:
    """What the session's requests were made with. Never a credential."""

    fields: FieldSet
    model: str
    provider: str
    base_url: str | None
    created_at: str
    settings: dict[str, Any] = field(default_factory=dict)
    """How the requests were made beyond model and endpoint (``RUN_SETTINGS``); empty
    for a session written before they were kept."""


@dataclass(frozen=True)
class StoredDocument:
    """A document as the session knows it: loaded (with its text's hash) or failed."""

    id: int
    path: str
    status: DocumentStatus
    error: str | None
    pages: int
    page_starts: tuple[int, ...]
    text_sha256: str | None
    notes: tuple[str, ...]
    added_at: str

    @property
    def loaded(self) -> bool:
        return self.status is DocumentStatus.LOADED


@dataclass(frozen=True)
class StoredAttempt:
    """One call for a chunk. ``started``/``ended`` are engine-clock seconds."""

    number: int
    started: float | None
    ended: float | None
    outcome: str | None
    http_status: int | None
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool = False
    endpoint: str | None = None  # the name of the endpoint that answered; None: the cache


@dataclass(frozen=True)
class StoredRequest:
    """How a chunk's request last ended, with the chunk itself and every attempt."""

    item: WorkItem
    status: ChunkStatus
    reason: ErrorKind | None
    message: str | None
    attempts: int
    http_status: int | None
    prompt_tokens: int
    completion_tokens: int
    raw: str | None
    updated_at: str
    history: tuple[StoredAttempt, ...]
    tokens_estimated: bool = False

    @property
    def id(self) -> ChunkId:
        return self.item.id


@dataclass(frozen=True)
class StoredEdit:
    """One hand edit. ``previous`` is the value it replaced (the last edit or the result)."""

    id: int
    doc_id: int
    field: str
    value: object
    by: str
    at: str
    previous: object


@dataclass(frozen=True)
class SessionStats:
    """Counts over leaf chunks (a split chunk counts as its halves).

    ``failed`` chunks have no answer and their last request failed; ``pending`` chunks have
    no answer and no failure (never sent, or cancelled); both are sent again on resume.
    """

    documents: int
    failed_documents: int
    chunks: int
    completed: int
    failed: int
    pending: int
    responses: int


# -- chunk rows -------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _page_starts(text: str) -> tuple[int, ...]:
    return tuple(json.loads(text))


def read_part(text: str) -> tuple[int, ...]:
    """A chunk's halves path as stored (JSON); a whole chunk's, by far the most, is "[]"."""
    return () if text == "[]" else tuple(json.loads(text))


def chunk_row(row: Sequence[Any]) -> WorkItem:
    """A ``WorkItem`` from (doc_id, chunk, part, document, start, end, tokens, key, text,
    page_starts), the last already a tuple of offsets (``Session._select``)."""
    return WorkItem(ChunkId(int(row[0]), int(row[1]), read_part(row[2])),
                    read_path(row[3]), str(row[8]), int(row[4]), int(row[5]),
                    tuple(row[9]), int(row[6]), str(row[7]))


def delete_chunk(db: sqlite3.Connection, doc_id: int, label: str) -> None:
    """Delete a chunk, its halves at any depth (``"3.0"``, ``"3.0.1"`` sort in ["3.", "3/")),
    and through the cascade their requests and attempts."""
    db.execute("DELETE FROM chunks WHERE doc_id = ? AND (label = ? OR (label >= ? AND "
               "label < ?))", (doc_id, label, f"{label}.", f"{label}/"))


def insert_chunk(db: sqlite3.Connection, item: WorkItem) -> None:
    """Store ``item``, unless the same chunk with the same key is there already.

    A chunk whose key changed is replaced with its halves, requests and attempts (cascade).
    """
    chunk_id = item.id
    row = db.execute("SELECT key FROM chunks WHERE doc_id = ? AND label = ?",
                     (chunk_id.doc, chunk_id.label)).fetchone()
    if row is not None:
        if row[0] == item.key:
            return
        delete_chunk(db, chunk_id.doc, chunk_id.label)
    page_start, page_end = item.pages
    db.execute('INSERT INTO chunks(doc_id, label, chunk, part, document, start, "end", '
               "page_start, page_end, tokens, key, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
               "?, ?)", (chunk_id.doc, chunk_id.label, chunk_id.chunk,
                         json.dumps(list(chunk_id.part)), db_path(item.document), item.start,
                         item.end, page_start, page_end, item.tokens, item.key, item.text))


def store_chunks(db: sqlite3.Connection, doc_id: int, items: Sequence[WorkItem]) -> None:
    """Make ``items`` a document's whole chunks, in one pass: chunks kept with the same key
    keep their halves and history, changed or missing ones go (cascade), new ones are
    inserted with one ``executemany`` (12,000 chunks of a 50 MB file in one statement
    instead of a SELECT and an INSERT each)."""
    stored = dict(db.execute("SELECT label, key FROM chunks WHERE doc_id = ? AND part = '[]'",
                             (doc_id,)).fetchall())
    wanted = {item.id.label: item.key for item in items}
    for label, key in stored.items():
        if wanted.get(label) != key:
            delete_chunk(db, doc_id, label)
    fresh = [item for item in items if stored.get(item.id.label) != item.key]
    if not fresh:
        return
    document = db_path(fresh[0].document)
    db.executemany(
        'INSERT INTO chunks(doc_id, label, chunk, part, document, start, "end", page_start, '
        "page_end, tokens, key, text) VALUES (?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?, ?)",
        ((item.id.doc, item.id.label, item.id.chunk, document, item.start, item.end,
          *item.pages, item.tokens, item.key, item.text) for item in fresh))


# -- events → rows ------------------------------------------------------------------------------

class EventWriter:
    """Turns engine events into rows: one transaction per event, committed at once."""

    def __init__(self, db: sqlite3.Connection, timestamp: Callable[[], str],
                 read_only: str | None = None) -> None:
        self._db = db
        self._timestamp = timestamp
        self._read_only = read_only  # why nothing may be written, when that is so

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; joins the transaction already open, if any.

        A full disk, a read-only file or an I/O error becomes ``SessionWriteError`` (a user's
        problem with one clear line, not a bug); what was committed before stays.
        """
        db = self._db
        if self._read_only is not None:
            raise SessionWriteError(f"cannot write the session: {self._read_only}")
        if db.in_transaction:
            yield db
            return
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # SQLite may have rolled back already (disk full)
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not str(getattr(exc, "sqlite_errorname", "")).startswith(_CANNOT_WRITE):
                raise
            raise SessionWriteError(f"cannot write the session: {exc}") from exc

    def record(self, event: Event) -> None:
        if isinstance(event, AttemptStarted):
            with self.transaction() as db:
                self._key(db, event.id)
                db.execute("INSERT INTO attempts(doc_id, label, number, started, endpoint) "
                           "VALUES (?, ?, ?, ?, ?)",
                           (event.id.doc, event.id.label, event.attempt, event.at,
                            event.endpoint or None))
        elif isinstance(event, AttemptFinished):
            self._attempt_finished(event)
        elif isinstance(event, ChunkCompleted):
            self._completed(event)
        elif isinstance(event, ChunkFailed):
            with self.transaction() as db:
                self._set_request(db, event.id, ChunkStatus.FAILED, event.reason, event.message,
                                  event.attempts, event.status, raw=event.raw)
        elif isinstance(event, ChunkCancelled):
            with self.transaction() as db:
                self._set_request(db, event.id, ChunkStatus.CANCELLED, ErrorKind.CANCELLED,
                                  event.reason)
        elif isinstance(event, ChunkSplit):
            self._split(event)

    def _attempt_finished(self, event: AttemptFinished) -> None:
        chunk = event.id
        spent = (0, 0, False) if event.cached else (
            event.prompt_tokens, event.completion_tokens, event.tokens_estimated)
        # Who answered: the endpoint's name (never a key or a URL), none when the cache did.
        outcome = (event.at, event.outcome, event.status, event.error, *spent,
                   event.endpoint or None)
        with self.transaction() as db:
            self._key(db, chunk)
            updated = db.execute(
                "UPDATE attempts SET ended = ?, outcome = ?, http_status = ?, error = ?, "
                "prompt_tokens = ?, completion_tokens = ?, tokens_estimated = ?, endpoint = ? "
                "WHERE id = (SELECT max(id) FROM "
                "attempts WHERE doc_id = ? AND label = ? AND number = ? AND ended IS NULL)",
                (*outcome, chunk.doc, chunk.label, event.attempt)).rowcount
            if not updated:  # the start was not recorded (the sink was attached late)
                db.execute("INSERT INTO attempts(doc_id, label, number, started, ended, "
                           "outcome, http_status, error, prompt_tokens, completion_tokens, "
                           "tokens_estimated, endpoint) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (chunk.doc, chunk.label, event.attempt, event.at - event.duration,
                            *outcome))

    def _completed(self, event: ChunkCompleted) -> None:
        chunk = event.id
        with self.transaction() as db:
            key = self._key(db, chunk)
            # The cache keeps what the answering call cost, not the chunk's total so far.
            own = db.execute("SELECT prompt_tokens, completion_tokens FROM attempts WHERE "
                             "doc_id = ? AND label = ? AND number = ? AND outcome = 'ok' "
                             "ORDER BY id DESC LIMIT 1",
                             (chunk.doc, chunk.label, event.attempts)).fetchone()
            tokens = own or (event.prompt_tokens, event.completion_tokens)
            db.execute("INSERT INTO responses(key, content, model, prompt_tokens, "
                       "completion_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT(key) DO NOTHING",
                       (key, event.raw, event.model, *tokens, self._timestamp()))
            self._set_request(db, chunk, ChunkStatus.COMPLETED, None, None, event.attempts, None)

    def _split(self, event: ChunkSplit) -> None:
        parent = event.id
        with self.transaction() as db:
            row = db.execute('SELECT c.document, c.start, c."end", c.text, d.page_starts '
                             "FROM chunks c JOIN documents d ON d.id = c.doc_id "
                             "WHERE c.doc_id = ? AND c.label = ?",
                             (parent.doc, parent.label)).fetchone()
            if row is None:
                raise LookupError(self._unknown(parent))
            document, start, end = read_path(row[0]), int(row[1]), int(row[2])
            text = str(row[3])
            halves = []
            for planned in event.into:
                if not planned.key:
                    raise TypeError(f"ChunkSplit of chunk {parent.label}: each planned half "
                                    "must carry its span and key (RequestPlanned.span, .key)")
                first, last = planned.span
                if not start <= first <= last <= end:
                    raise ValueError(f"half {planned.id.label} span {planned.span} lies "
                                     f"outside chunk {parent.label} ({start}, {end})")
                halves.append(WorkItem(planned.id, document, text[first - start:last - start],
                                       first, last, _page_starts(str(row[4])), planned.tokens,
                                       planned.key))
            self.add_split(parent, halves)

    def add_split(self, parent: ChunkId, halves: Sequence[WorkItem]) -> None:
        """Store ``halves`` and mark ``parent`` split: it is no longer work, they are."""
        if tuple(half.id for half in halves) != parent.halves():
            raise ValueError(f"the halves of chunk {parent.label} must be "
                             f"{[half.label for half in parent.halves()]}")
        with self.transaction() as db:
            self._key(db, parent)
            for half in halves:
                insert_chunk(db, half)
            db.execute("UPDATE chunks SET split = 1 WHERE doc_id = ? AND label = ?",
                       (parent.doc, parent.label))
            self._set_request(db, parent, ChunkStatus.SPLIT, ErrorKind.TRUNCATED,
                              "the answer was cut at the token limit; split in two")

    def _set_request(self, db: sqlite3.Connection, chunk: ChunkId, status: ChunkStatus,
                     reason: ErrorKind | None, message: str | None, attempts: int = 0,
                     http_status: int | None = None, raw: str | None = None) -> None:
        """The chunk's request row; its tokens are what every attempt of it cost."""
        spent = db.execute("SELECT coalesce(sum(prompt_tokens), 0), "
                           "coalesce(sum(completion_tokens), 0), "
                           "coalesce(max(tokens_estimated), 0) FROM attempts "
                           "WHERE doc_id = ? AND label = ?", (chunk.doc, chunk.label)).fetchone()
        db.execute(
            "INSERT INTO requests(doc_id, label, key, status, reason, message, attempts, "
            "http_status, prompt_tokens, completion_tokens, tokens_estimated, raw, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(doc_id, label) DO "
            "UPDATE SET key = excluded.key, status = excluded.status, "
            "reason = excluded.reason, message = excluded.message, "
            "attempts = excluded.attempts, http_status = excluded.http_status, "
            "prompt_tokens = excluded.prompt_tokens, "
            "completion_tokens = excluded.completion_tokens, "
            "tokens_estimated = excluded.tokens_estimated, raw = excluded.raw, "
            "updated_at = excluded.updated_at",
            (chunk.doc, chunk.label, self._key(db, chunk), status, reason, message, attempts,
             http_status, int(spent[0]), int(spent[1]), int(spent[2]), raw,
             self._timestamp()))

    def _key(self, db: sqlite3.Connection, chunk: ChunkId) -> str:
        row = db.execute("SELECT key FROM chunks WHERE doc_id = ? AND label = ?",
                         (chunk.doc, chunk.label)).fetchone()
        if row is None:
            raise LookupError(self._unknown(chunk))
        return str(row[0])

    @staticmethod
    def _unknown(chunk: ChunkId) -> str:
        return (f"chunk {chunk.label} of document {chunk.doc} is not in this session "
                "(register it with Session.add_chunks before running)")
