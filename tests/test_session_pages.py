"""What screens read a page at a time: document summaries, unfinished chunks, one chunk.

Each page must hold the rows the whole list would hold at those positions, in the order
the screens show (documents by path, chunks by document, chunk and halves), with counts
that agree with the rows, and without reading any chunk's text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkSplit,
    RequestPlanned,
)
from extractor_tui.core.model import ChunkId, ChunkStatus, WorkItem
from extractor_tui.core.session import DocumentSummary, Session
from extractor_tui.errors import ErrorKind

ANSWER = json.dumps({"total": []})


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session.open(tmp_path / "pages.sqlite") as opened:
        yield opened


def add(session: Session, path: str, chunks: int, *, width: int = 10) -> list[WorkItem]:
    """A loaded document of ``chunks`` chunks of ``width`` characters (3 tokens each)."""
    text = "".join(f"{path}:{n:04d}|"[:width].ljust(width, ".") for n in range(chunks))
    digest = hashlib.sha256(text.encode()).hexdigest()
    doc_id = session.add_document(path, pages=2, page_starts=(0, width), text_sha256=digest,
                                  notes=["read as cp1252"])
    items = [WorkItem(ChunkId(doc_id, n), path, text[n * width:(n + 1) * width], n * width,
                      (n + 1) * width, (0, width), 3, f"{digest}:{n}")
             for n in range(chunks)]
    session.add_chunks(doc_id, items)
    return items


def fail(session: Session, item: WorkItem, calls: int = 1) -> None:
    for number in range(1, calls + 1):
        session.record(AttemptStarted(item.id, number, float(number)))
        session.record(AttemptFinished(item.id, number, number + 0.5, 0.5, "transient", 503,
                                       "HTTP 503"))
    session.record(ChunkFailed(item.id, calls, 9.0, ErrorKind.TRANSIENT, "gave up", 503,
                               "<html>busy</html>"))


def answer(session: Session, item: WorkItem) -> None:
    session.record(ChunkCompleted(item.id, 1, 1.0, 0.5, 10, 2, "m", (), ANSWER))


def split(session: Session, item: WorkItem) -> tuple[WorkItem, WorkItem]:
    cut = item.start + 5
    first, second = item.id.halves()
    planned = (RequestPlanned(first, item.document, (1, 1), 1, 5.0, (item.start, cut),
                              f"{item.key}.0"),
               RequestPlanned(second, item.document, (1, 1), 2, 5.0, (cut, item.end),
                              f"{item.key}.1"))
    session.record(ChunkSplit(item.id, planned, 5.0))
    halves = {i.id: i for i in session.work_items(item.id.doc)}
    return halves[first], halves[second]


def test_summaries_count_chunks_tokens_answers_and_unfinished(session: Session) -> None:
    zeta = add(session, "zeta.txt", 4)
    alpha = add(session, "alpha.txt", 2)
    broken = session.add_failed_document("middle.pdf", "encrypted (no password)")
    answer(session, zeta[0])
    fail(session, zeta[1])
    session.record(ChunkCancelled(zeta[2].id, "cancelled by the user", 3.0))
    fail(session, alpha[0])
    answer(session, alpha[0])  # answered on a retry: no longer unfinished

    by_id = session.document_summaries()
    assert [s.path for s in by_id] == ["zeta.txt", "alpha.txt", "middle.pdf"]
    assert by_id[0] == DocumentSummary(zeta[0].id.doc, "zeta.txt", 2, None,
                                       ("read as cp1252",), chunks=4, tokens=12, answered=1,
                                       unfinished=2)
    assert (by_id[1].chunks, by_id[1].answered, by_id[1].unfinished) == (2, 1, 0)
    failed = by_id[2]
    assert failed.doc_id == broken and not failed.loaded
    assert (failed.error, failed.chunks, failed.tokens) == ("encrypted (no password)", 0, 0)

    by_path = session.document_summaries(by_path=True)
    assert [s.path for s in by_path] == ["alpha.txt", "middle.pdf", "zeta.txt"]
    assert session.document_summary(broken) == failed
    assert session.document_summary(999) is None
    assert session.document_count() == 3
    assert [session.document_index(s.doc_id) for s in by_path] == [0, 1, 2]
    assert session.document_index(999) is None


def test_document_pages_are_slices_of_the_whole_list_in_path_order(session: Session) -> None:
    # Ids in one order, paths in another (the screens list documents by path).
    for n in range(250):
        add(session, f"docs/{(n * 7919) % 250:03d}.txt", 1 + n % 3)
    whole = session.document_summaries(by_path=True)
    assert [s.path for s in whole] == sorted(s.path for s in whole)
    pages = [session.document_summaries(offset, 40, by_path=True)
             for offset in range(0, 250, 40)]
    assert [len(p) for p in pages] == [40] * 6 + [10]
    assert [s for page in pages for s in page] == whole
    assert session.document_summaries(245, 40, by_path=True) == whole[245:]
    assert session.document_summaries(250, 40, by_path=True) == []
    for index in (0, 117, 249):
        assert session.document_index(whole[index].doc_id) == index


def test_unfinished_chunks_page_in_document_chunk_and_half_order(session: Session) -> None:
    first = add(session, "b.txt", 12)
    second = add(session, "a.txt", 2)
    fail(session, second[1], calls=3)
    for n in (10, 2, 3):  # chunk 10 sorts after chunk 2 and 3, not between 1 and 2
        fail(session, first[n])
    half0, half1 = split(session, first[3])
    fail(session, half1)
    deeper = split(session, half0)
    fail(session, deeper[1])
    fail(session, deeper[0], calls=2)
    session.record(ChunkCancelled(first[5].id, "cancelled by the user", 3.0))
    fail(session, first[6])
    answer(session, first[6])  # answered later: not unfinished

    whole = session.unfinished_page()
    assert [(u.id.doc, u.id.label) for u in whole] == [
        (first[0].id.doc, label) for label in ("2", "3.0.0", "3.0.1", "3.1", "5", "10")
    ] + [(second[0].id.doc, "1")]
    assert [u.calls for u in whole] == [1, 2, 1, 1, 0, 1, 3]
    cancelled = whole[4]
    assert (cancelled.status, cancelled.reason, cancelled.message) == (
        ChunkStatus.CANCELLED, ErrorKind.CANCELLED, "cancelled by the user")
    assert (whole[0].status, whole[0].reason, whole[0].document, whole[0].tokens) == (
        ChunkStatus.FAILED, ErrorKind.TRANSIENT, "b.txt", 3)
    assert session.unfinished_count() == len(whole) == 7
    assert session.unfinished_ids() == [u.id for u in whole]
    assert [u for offset in range(0, 7, 3) for u in session.unfinished_page(offset, 3)] \
        == whole
    assert session.stats().failed == 6, "the stats' failed still leave cancelled ones out"


def test_a_chunk_is_read_alone_with_its_request_and_calls(session: Session) -> None:
    items = add(session, "a.txt", 3)
    fail(session, items[1], calls=2)
    stored = session.stored_request(items[1].id)
    assert stored is not None and stored.item == items[1]
    assert (stored.status, stored.raw, [a.number for a in stored.history]) == (
        ChunkStatus.FAILED, "<html>busy</html>", [1, 2])
    assert session.stored_request(items[2].id) is None, "never sent"
    assert session.work_item(items[2].id.doc, "2") == items[2]
    assert session.work_item(items[2].id.doc, "7") is None


def test_summaries_and_pages_read_no_chunk_text(session: Session) -> None:
    items = add(session, "a.txt", 5)
    fail(session, items[0])
    statements: list[str] = []
    session._db.set_trace_callback(statements.append)  # noqa: SLF001 - what SQL ran
    session.document_summaries()
    session.document_summaries(0, 10, by_path=True)
    session.document_summary(items[0].id.doc)
    session.unfinished_page(0, 10)
    session.unfinished_ids()
    session.unfinished_count()
    session._db.set_trace_callback(None)  # noqa: SLF001
    assert statements and not [s for s in statements if re.search(r"\btext\b", s)]


def test_page_reads_never_wait_for_a_writer(tmp_path: Path) -> None:
    """What a screen reads needs no lock a writer holds (WAL): with the reader's busy timeout
    at zero, a read that had to wait would fail at once instead."""
    path = tmp_path / "busy.sqlite"
    with Session.open(path) as writer, Session.open(path, read_only=True) as reader:
        items = add(writer, "a.txt", 3)
        fail(writer, items[0])
        reader._db.execute("PRAGMA busy_timeout = 0")  # noqa: SLF001 - no waiting at all
        writer._db.execute("BEGIN IMMEDIATE")  # noqa: SLF001 - a run in the middle of a write
        writer._db.execute("DELETE FROM documents")  # noqa: SLF001 - not committed
        assert reader.document_count() == 1
        assert [s.path for s in reader.document_summaries(0, 10, by_path=True)] == ["a.txt"]
        assert [u.id for u in reader.unfinished_page(0, 10)] == [items[0].id]
        assert reader.unfinished_count() == 1 and reader.document_index(items[0].id.doc) == 0
        assert reader.stored_request(items[0].id) is not None
        writer._db.execute("ROLLBACK")  # noqa: SLF001
