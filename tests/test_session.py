"""The session store: every table round-trips, a killed run keeps what it finished, the cache
answers repeated requests, and no credential ever reaches the file."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractor_tui.core.engine import Engine, EngineConfig
from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkSplit,
    RequestPlanned,
    RunStarted,
)
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.llm.cache import CachingClient
from extractor_tui.core.model import (
    CachedAnswer,
    ChunkId,
    ChunkStatus,
    FieldResult,
    Source,
    WorkItem,
)
from extractor_tui.core.prompts import request_key
from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError, ErrorKind

ROOT = Path(__file__).resolve().parents[1]
FIELDS = FieldSet((FieldSpec("total", FieldType.NUMBER, description="amount due"),
                   FieldSpec("parties", many=True, required=True),
                   FieldSpec("kind", enum=("NDA", "MSA"))), name="contracts")
MODEL = "fake-1"
FAKE_KEY = "sk-fake-0123456789abcdefSECRET"
ANSWER = json.dumps({"total": [{"value": "12", "quote": "total is 12", "confidence": 0.9}],
                     "parties": [], "kind": []})


def fixed_now() -> datetime:
    return datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def document_items(doc_id: int, text: str, *, width: int = 100,
                   page_starts: tuple[int, ...] = (0,), name: str = "a.txt") -> list[WorkItem]:
    """Fixed-width chunks of ``text`` keyed as the real engine keys them."""
    return [WorkItem(ChunkId(doc_id, n), name, text[start:start + width], start,
                     min(len(text), start + width), page_starts, width // 4,
                     request_key(text, start, min(len(text), start + width), FIELDS, MODEL))
            for n, start in enumerate(range(0, len(text), width))]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


TEXT = "".join(f"Line {n}: the total is {n}. " for n in range(40))


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.open(tmp_path / "s.extractor", now=fixed_now) as opened:
        yield opened


def loaded(session: Session, text: str = TEXT, path: str = "a.txt",
           page_starts: tuple[int, ...] = (0,)) -> tuple[int, list[WorkItem]]:
    doc_id = session.add_document(path, pages=len(page_starts), page_starts=page_starts,
                                  text_sha256=sha(text), notes=["note"])
    items = document_items(doc_id, text, page_starts=page_starts, name=path)
    session.add_chunks(doc_id, items)
    return doc_id, items


def completed(item: WorkItem, content: str = ANSWER, attempts: int = 1) -> ChunkCompleted:
    return ChunkCompleted(item.id, attempts, 1.0, 0.5, 100, 20, MODEL, (), content)


class CountingClient:
    """A fake provider: a fixed valid answer, and a count of the calls it received."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key
        self.calls = 0

    @property
    def provider(self) -> str:
        return "fake"

    @property
    def endpoint(self) -> str:
        return "http://fake.invalid/v1"

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        self.calls += 1
        return LLMResponse(ANSWER, prompt_tokens=100, completion_tokens=20)

    async def aclose(self) -> None:
        pass


# -- opening ------------------------------------------------------------------------------------

def test_a_new_session_is_wal_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "new.extractor"
    with Session.open(path, now=fixed_now) as session:
        assert session.meta("schema_version") == "1"
        assert session.meta("created_at") == "2025-01-02T03:04:05.000+00:00"
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA application_id").fetchone()[0] == 0x45585452
    raw.close()


def test_an_empty_file_becomes_a_session(tmp_path: Path) -> None:
    path = tmp_path / "empty.extractor"
    path.touch()
    with Session.open(path) as session:
        assert session.stats().documents == 0


@pytest.mark.parametrize("kind", ["bytes", "other-sqlite", "folder"])
def test_a_file_that_is_not_a_session_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "thing"
    if kind == "bytes":
        path.write_bytes(b"this is a text file, not a database\n" * 100)
    elif kind == "other-sqlite":
        raw = sqlite3.connect(path)
        raw.execute("CREATE TABLE notes (x)")
        raw.commit()
        raw.close()
    else:
        path.mkdir()
    with pytest.raises(ConfigError, match="is not an extractor session"):
        Session.open(path)


def test_a_session_in_a_missing_folder_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open session"):
        Session.open(tmp_path / "no" / "such" / "s.extractor")


def test_a_session_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    Session.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(ConfigError, match="newer extractor"):
        Session.open(path)


def test_a_second_connection_reads_while_the_first_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    with Session.open(path) as writer, Session.open(path) as reader:
        doc_id, items = loaded(writer)
        writer.record(completed(items[0]))
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock right now
        blocker.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
        assert reader.stats().completed == 1
        assert [d.id for d in reader.documents()] == [doc_id]
        blocker.execute("ROLLBACK")
        blocker.close()


# -- meta, run info and the credential guard ---------------------------------------------------

def test_run_info_round_trips_with_the_field_set(session: Session) -> None:
    assert session.run_info() is None
    session.set_run_info(fields=FIELDS, model=MODEL, provider="openai-compatible",
                         base_url="http://localhost:8000/v1")
    info = session.run_info()
    assert info is not None
    assert info.fields == FIELDS
    assert (info.model, info.provider, info.base_url) == (MODEL, "openai-compatible",
                                                         "http://localhost:8000/v1")
    session.set_run_info(fields=FIELDS, model=MODEL, provider="offline", base_url=None)
    assert session.run_info() is not None
    assert session.run_info().base_url is None  # type: ignore[union-attr]


def test_the_base_url_loses_credentials(session: Session) -> None:
    session.set_run_info(fields=FIELDS, model=MODEL, provider="openai-compatible",
                         base_url=f"https://me:{FAKE_KEY}@example.com:8443/v1?api-key="
                                  f"{FAKE_KEY}&api-version=2024-06-01")
    info = session.run_info()
    assert info is not None
    assert info.base_url == "https://example.com:8443/v1?api-version=2024-06-01"


@pytest.mark.parametrize("name", ["api_key", "OPENAI_API_KEY", "access_token", "client_secret"])
def test_meta_refuses_names_that_look_like_credentials(session: Session, name: str) -> None:
    with pytest.raises(ValueError, match="credential"):
        session.set_meta(name, FAKE_KEY)
    assert session.meta(name) is None


# -- documents and chunks ----------------------------------------------------------------------

def test_documents_round_trip_and_readding_keeps_the_id(session: Session) -> None:
    doc_id, items = loaded(session, page_starts=(0, 300, 700))
    failed = session.add_failed_document("b.pdf", "encrypted: a password is needed")
    docs = session.documents()
    assert [(d.id, d.path, d.status, d.error) for d in docs] == [
        (doc_id, "a.txt", "loaded", None), (failed, "b.pdf", "failed",
                                            "encrypted: a password is needed")]
    assert docs[0].page_starts == (0, 300, 700) and docs[0].pages == 3
    assert docs[0].notes == ("note",) and docs[0].text_sha256 == sha(TEXT) and docs[0].loaded
    again = session.add_document("a.txt", pages=3, page_starts=(0, 300, 700),
                                 text_sha256=sha(TEXT), notes=[])
    assert again == doc_id
    assert session.work_items(doc_id) == items  # same text: chunks kept


def test_changed_text_drops_chunks_and_results_but_keeps_edits(session: Session) -> None:
    doc_id, items = loaded(session)
    session.record(completed(items[0]))
    session.save_results(doc_id, {"total": FieldResult("total", 12, True)})
    session.add_edit(doc_id, "total", 13, by="ana")
    changed = TEXT + " A new line."
    assert session.add_document("a.txt", pages=1, page_starts=(0,), text_sha256=sha(changed),
                                notes=[]) == doc_id
    assert session.work_items(doc_id) == []
    assert session.load_results(doc_id) == {}
    assert session.edits(doc_id)["total"].value == 13
    assert session.cached_answer(items[0].key) is not None  # the cache is by content


def test_a_document_that_now_fails_loses_its_chunks(session: Session) -> None:
    doc_id, _ = loaded(session)
    assert session.add_failed_document("a.txt", "corrupt or truncated PDF") == doc_id
    assert session.work_items() == []
    assert session.stats().failed_documents == 1


def test_removing_a_document_removes_everything_but_the_cache(session: Session) -> None:
    doc_id, items = loaded(session)
    session.record(AttemptStarted(items[0].id, 1, 0.0))
    session.record(completed(items[0]))
    session.add_edit(doc_id, "total", 1, by="ana")
    session.remove_document(doc_id)
    assert session.documents() == [] and session.work_items() == []
    assert session.edits(doc_id) == {} and session.attempts(doc_id, "0") == []
    assert session.stats().responses == 1


def test_work_items_round_trip_in_chunk_order(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    with Session.open(path) as session:
        first, items_a = loaded(session, page_starts=(0, 500))
        second, items_b = loaded(session, text=TEXT.upper(), path="b.txt")
        session.add_chunks(first, list(reversed(items_a)))
    with Session.open(path) as session:
        assert session.work_items() == items_a + items_b
        assert session.work_items(second) == items_b
        assert session.work_items(first)[-1].pages == (2, 2)


def test_add_chunks_replaces_changed_and_drops_stale_chunks(session: Session) -> None:
    doc_id, items = loaded(session)
    session.record(completed(items[1]))
    session.record(ChunkFailed(items[0].id, 3, 2.0, ErrorKind.TRANSIENT, "HTTP 503"))
    bigger = document_items(doc_id, TEXT, width=200)
    session.add_chunks(doc_id, bigger)
    assert session.work_items(doc_id) == bigger
    assert session.failed_chunks(doc_id) == []  # its chunk changed: its history went too
    with pytest.raises(ValueError, match="not a whole chunk"):
        session.add_chunks(doc_id, document_items(doc_id + 1, TEXT))
    with pytest.raises(ValueError, match="page offsets"):
        session.add_chunks(doc_id, document_items(doc_id, TEXT, page_starts=(0, 10)))
    with pytest.raises(LookupError):
        session.add_chunks(404, [])


# -- events ------------------------------------------------------------------------------------

def test_a_completion_fills_the_cache(session: Session) -> None:
    _, items = loaded(session)
    item = items[2]
    session.record(RunStarted(1, 20, "fake", MODEL, 0.0))  # ignored
    session.record(AttemptStarted(item.id, 1, 10.0))
    session.record(AttemptFinished(item.id, 1, 11.0, 1.0, "ok", 200, None, 90, 15))
    session.record(ChunkCompleted(item.id, 1, 11.0, 1.0, 90, 15, MODEL, (), ANSWER))
    assert session.cached_answer(item.key) == CachedAnswer(ANSWER, 90, 15)
    assert session.cached_answer("no-such-key") is None
    assert session.completed() == [(item, ANSWER)]
    assert item not in session.pending_items()
    assert len(session.pending_items()) == len(items) - 1
    assert session.attempts(item.id.doc, item.id.label) == [
        session.attempts(item.id.doc, item.id.label)[0]]
    attempt = session.attempts(item.id.doc, item.id.label)[0]
    assert (attempt.number, attempt.started, attempt.ended, attempt.outcome,
            attempt.http_status, attempt.prompt_tokens) == (1, 10.0, 11.0, "ok", 200, 90)


def test_failures_keep_their_attempts_and_stay_pending(session: Session) -> None:
    _, items = loaded(session)
    item = items[0]
    for number, status in ((1, 503), (2, 502)):
        session.record(AttemptStarted(item.id, number, float(number)))
        session.record(AttemptFinished(item.id, number, number + 0.5, 0.5, "transient",
                                       status, f"HTTP {status}"))
    session.record(ChunkFailed(item.id, 2, 3.0, ErrorKind.TRANSIENT, "HTTP 502 (gave up)",
                               502, "<html>bad gateway</html>"))
    session.record(ChunkCancelled(items[1].id, "cancelled by the user", 3.0))
    [failed] = session.failed_chunks()
    assert failed.item == item and failed.id == item.id
    assert (failed.status, failed.reason, failed.message, failed.attempts, failed.http_status,
            failed.raw) == ("failed", ErrorKind.TRANSIENT, "HTTP 502 (gave up)", 2, 502,
                            "<html>bad gateway</html>")
    assert [(a.number, a.http_status, a.error) for a in failed.history] == [
        (1, 503, "HTTP 503"), (2, 502, "HTTP 502")]
    assert session.pending_items()[:2] == items[:2]
    stats = session.stats()
    assert (stats.chunks, stats.completed, stats.failed, stats.pending) == (
        len(items), 0, 1, len(items) - 1)
    session.record(completed(item, attempts=3))  # a later retry succeeded
    assert session.failed_chunks() == []
    assert session.stats().completed == 1


def test_an_event_for_an_unknown_chunk_is_refused(session: Session) -> None:
    with pytest.raises(LookupError, match="add_chunks"):
        session.record(AttemptStarted(ChunkId(9, 9), 1, 0.0))


def test_a_split_stores_both_halves_as_the_work(session: Session) -> None:
    _, items = loaded(session)
    parent = items[3]
    cut = parent.start + 40
    first, second = parent.id.halves()
    into = (RequestPlanned(first, parent.document, (1, 1), 10, 5.0, (parent.start, cut),
                           "k0"),
            RequestPlanned(second, parent.document, (1, 1), 15, 5.0, (cut, parent.end),
                           "k1"))
    session.record(ChunkSplit(parent.id, into, 5.0))
    halves = [WorkItem(first, parent.document, parent.text[:40], parent.start, cut,
                       parent.page_starts, 10, "k0"),
              WorkItem(second, parent.document, parent.text[40:], cut, parent.end,
                       parent.page_starts, 15, "k1")]
    assert session.work_items() == items[:3] + halves + items[4:]
    assert parent in session.work_items(include_split=True)
    assert parent not in session.pending_items() and halves[0] in session.pending_items()
    session.record(completed(halves[1]))
    assert session.completed() == [(halves[1], ANSWER)]
    session.add_chunks(parent.id.doc, items)  # same keys: the split survives a resume
    assert halves[0] in session.work_items()


def test_a_changed_chunk_loses_its_halves_and_only_its_own(session: Session) -> None:
    doc_id, items = loaded(session)
    assert items[10].id.label == "10"
    for parent in (items[1], items[10]):
        halves = [WorkItem(half, parent.document, text, start, end, parent.page_starts, 5,
                           f"{parent.key}-{n}")
                  for n, (half, text, start, end) in enumerate((
                      (parent.id.halves()[0], parent.text[:20], parent.start, parent.start + 20),
                      (parent.id.halves()[1], parent.text[20:], parent.start + 20,
                       parent.end)))]
        session.add_split(parent.id, halves)
    session.record(ChunkFailed(ChunkId(doc_id, 1, (0,)), 1, 0.0, ErrorKind.FATAL, "401"))
    changed = [*items[:1], replace(items[1], key="new"), *items[2:]]
    session.add_chunks(doc_id, changed)
    labels = [item.id.label for item in session.work_items(doc_id)]
    assert labels == ["0", "1", *map(str, range(2, 10)), "10.0", "10.1"]
    assert session.failed_chunks() == []


class TruncatingClient(CountingClient):
    """Cuts every answer for a chunk longer than 60 characters at the token limit."""

    async def complete(self, request: LLMRequest, timeout: float) -> LLMResponse:
        self.calls += 1
        if len(request.chunk_text) > 60:
            return LLMResponse('{"total": [', finish_reason="length")
        return LLMResponse(ANSWER)


async def test_an_engine_split_is_stored_and_resumes_as_halves(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    with Session.open(path) as session:
        _, items = loaded(session)
        engine = Engine(TruncatingClient(FAKE_KEY), FIELDS, model=MODEL,
                        config=EngineConfig(min_split_chars=50), sink=session.record)
        result = await engine.run(items[:2])
        assert result.count(ChunkStatus.COMPLETED) == 4
    with Session.open(path) as session:
        leaves = session.work_items(items[0].id.doc)
        assert [leaf.id.label for leaf in leaves[:4]] == ["0.0", "0.1", "1.0", "1.1"]
        assert "".join(leaf.text for leaf in leaves[:2]) == items[0].text
        assert [item for item, _ in session.completed()] == leaves[:4]
        assert session.pending_items() == items[2:]


def test_a_split_needs_spans_or_registered_halves(session: Session) -> None:
    _, items = loaded(session)
    parent = items[0]
    bare = tuple(RequestPlanned(half, parent.document, (1, 1), 5, 0.0)
                 for half in parent.id.halves())
    with pytest.raises(TypeError, match="span and key"):
        session.record(ChunkSplit(parent.id, (bare[0], bare[1]), 0.0))
    halves = [WorkItem(half, parent.document, text, start, end, parent.page_starts, 5, key)
              for half, text, start, end, key in (
                  (parent.id.halves()[0], parent.text[:50], parent.start, parent.start + 50,
                   "h0"),
                  (parent.id.halves()[1], parent.text[50:], parent.start + 50, parent.end,
                   "h1"))]
    session.add_split(parent.id, halves)
    assert session.work_items()[:2] == halves
    assert parent not in session.pending_items()
    with pytest.raises(ValueError, match="halves"):
        session.add_split(items[1].id, halves)


# -- results and edits -------------------------------------------------------------------------

def test_results_round_trip(session: Session) -> None:
    doc_id, _ = loaded(session)
    results = {"total": FieldResult("total", 12.5, True, sources=(Source("0", 1, "12.5"),)),
               "parties": FieldResult("parties", ["A", "B"], True)}
    session.save_results(doc_id, results)
    stored = session.load_results(doc_id)
    assert list(stored) == ["total", "parties"]
    assert stored == results
    session.save_results(doc_id, {"total": results["total"]})
    assert list(session.load_results(doc_id)) == ["total"]


def test_results_an_older_version_wrote_still_read(session: Session) -> None:
    """Rows written before conflicts and who edited were kept: those take their defaults."""
    doc_id, _ = loaded(session)
    old = {"name": "total", "value": 12.5, "valid": True, "errors": [], "grounded": True,
           "sources": [{"chunk": "0", "page": 1, "quote": "12.50"}],
           "candidates": [{"field": "total", "value": "12.50", "normalized": 12.5,
                           "error": None, "quote": "12.50", "chunk": "0", "page": 1,
                           "grounded": True, "confidence": None}]}
    with session._write() as db:  # noqa: SLF001 - as an older version's writer left it
        db.execute("INSERT INTO results(doc_id, field, data) VALUES (?, ?, ?)",
                   (doc_id, "total", json.dumps(old)))
    [(name, result)] = session.load_results(doc_id).items()
    assert (name, result.value, result.conflicts, result.edited) == ("total", 12.5, (), False)
    assert result.candidates[0].offset is None and result.sources == (Source("0", 1, "12.50"),)


def test_edits_keep_history_with_who_and_when(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    with Session.open(path, now=fixed_now) as session:
        doc_id, _ = loaded(session)
        session.save_results(doc_id, {"total": FieldResult("total", 12, True)})
        first = session.add_edit(doc_id, "total", 13, by="ana")
        session.add_edit(doc_id, "total", {"amount": 14}, by="bo",
                         at="2025-02-01T00:00:00+00:00")
        session.add_edit(doc_id, "parties", ["X"], by="ana")
        with pytest.raises(LookupError):
            session.add_edit(404, "total", 1, by="ana")
    with Session.open(path) as session:
        latest = session.edits(doc_id)
        assert set(latest) == {"total", "parties"}
        assert (latest["total"].value, latest["total"].by, latest["total"].at,
                latest["total"].previous) == ({"amount": 14}, "bo",
                                              "2025-02-01T00:00:00+00:00", 13)
        history = session.edit_history(doc_id, "total")
        assert history[0] == first
        assert (first.previous, first.by, first.at) == (12, "ana",
                                                        "2025-01-02T03:04:05.000+00:00")
        assert latest["parties"].previous is None


# -- the cache in a real run, and what never reaches the file ----------------------------------

async def test_a_second_pass_is_answered_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "s.extractor"
    inner = CountingClient(api_key=FAKE_KEY)
    with Session.open(path) as session:
        session.set_run_info(fields=FIELDS, model=MODEL, provider=inner.provider,
                             base_url=inner.endpoint)
        _, items = loaded(session)
        client = CachingClient(inner, session)
        assert (client.provider, client.endpoint) == (inner.provider, inner.endpoint)
        engine = Engine(client, FIELDS, model=MODEL, config=EngineConfig(concurrency=5),
                        sink=session.record)
        first = await engine.run(session.pending_items())
        assert first.count(ChunkStatus.COMPLETED) == len(items)
        assert (inner.calls, client.misses, client.hits) == (len(items), len(items), 0)
        assert session.pending_items() == []
    with Session.open(path) as session:  # a new run over everything, e.g. after a restart
        client = CachingClient(inner, session)
        engine = Engine(client, FIELDS, model=MODEL, sink=session.record)
        second = await engine.run(session.work_items())
        await client.aclose()
        assert second.count(ChunkStatus.COMPLETED) == len(items)
        assert all(outcome.cached for outcome in second.outcomes)
        assert (inner.calls, client.hits) == (len(items), len(items))
        assert [content for _, content in session.completed()] == [ANSWER] * len(items)
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s."))
    assert FAKE_KEY.encode() not in stored
    assert b"sk-fake" not in stored


# -- crash safety ------------------------------------------------------------------------------

CHILD = """
import hashlib, os, signal, sys
from extractor_tui.core.events import ChunkCompleted
from extractor_tui.core.model import ChunkId, WorkItem
from extractor_tui.core.session import Session

path, total, kill_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
session = Session.open(path)
text = "x" * (total * 10)
doc = session.add_document("big.txt", pages=1, page_starts=(0,),
                           text_sha256=hashlib.sha256(text.encode()).hexdigest(), notes=())
items = [WorkItem(ChunkId(doc, n), "big.txt", text[n * 10:n * 10 + 10], n * 10, n * 10 + 10,
                  (0,), 3, f"key-{n}") for n in range(total)]
session.add_chunks(doc, items)
for n, item in enumerate(items):
    if n == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
    session.record(ChunkCompleted(item.id, 1, 0.0, 0.1, 5, 5, "m", (), '{"n": %d}' % n))
    print(n, flush=True)
"""


def run_child(tmp_path: Path, total: int, kill_after: int) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "s.extractor"),
                             str(total), str(kill_after)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)


def test_a_killed_run_keeps_every_completion_it_recorded(tmp_path: Path) -> None:
    child = run_child(tmp_path, total=60, kill_after=37)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert out.split() == [str(n) for n in range(37)]
    with Session.open(tmp_path / "s.extractor") as session:
        done = session.completed()
        assert [content for _, content in done] == [f'{{"n": {n}}}' for n in range(37)]
        assert len(session.pending_items()) == 60 - 37


def test_a_run_killed_from_outside_keeps_what_it_reported(tmp_path: Path) -> None:
    child = run_child(tmp_path, total=5000, kill_after=-1)
    assert child.stdout is not None
    seen = -1
    for line in child.stdout:
        seen = int(line)
        if seen >= 200:
            break
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    with Session.open(tmp_path / "s.extractor") as session:
        assert len(session.completed()) >= seen + 1
        assert session.stats().chunks == 5000
