"""Reads over every document ask the session once, not once per document.

A report, a plan and a stage's bookkeeping read each document's chunks and edits, one
document at a time; ``Session.bulk_reads`` answers those from one read of all of them. These
tests count the statements a report runs as the session grows, and check that a write
inside the block is seen by the reads after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.session import Session
from test_session import TEXT, document_items, loaded, sha


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """Every SQL statement the session's connection runs inside the block."""
    seen: list[str] = []
    session._db.set_trace_callback(seen.append)  # the one connection every read goes through
    try:
        yield seen
    finally:
        session._db.set_trace_callback(None)


def test_inside_bulk_reads_each_documents_chunks_and_edits_come_from_one_query(
        tmp_path: Path) -> None:
    with Session.open(tmp_path / "s.sqlite") as session:
        docs = [loaded(session, path=f"d{n}.txt")[0] for n in range(12)]
        session.add_edit(docs[3], "total", "7", by="tester")
        expected = {d: (session.work_items(d), session.edits(d)) for d in docs}
        with statements(session) as seen, session.bulk_reads():
            got = {d: (session.work_items(d), session.edits(d)) for d in docs}
        assert got == expected
        assert len([s for s in seen if "FROM chunks" in s]) == 1
        assert len([s for s in seen if "FROM edits" in s]) == 1


def test_a_write_inside_bulk_reads_is_seen_by_the_reads_after_it(tmp_path: Path) -> None:
    with Session.open(tmp_path / "s.sqlite") as session:
        doc_id, items = loaded(session)
        with session.bulk_reads():
            assert session.work_items(doc_id) == items
            assert session.edits(doc_id) == {}
            fewer = document_items(doc_id, TEXT[:250])
            session.add_document("a.txt", pages=1, page_starts=(0,), text_sha256=sha(TEXT),
                                 notes=["note"])
            session.add_chunks(doc_id, fewer)
            session.add_edit(doc_id, "total", "3", by="tester")
            assert session.work_items(doc_id) == fewer
            assert session.edits(doc_id)["total"].value == "3"
            other, more = loaded(session, path="b.txt")
            assert session.work_items(other) == more
        assert session.work_items(doc_id) == fewer


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return Settings(provider="offline")


async def _report_statements(settings: Settings, folder: Path, count: int) -> int:
    folder.mkdir()
    for n in range(count):
        (folder / f"inv-{n:03d}.txt").write_text(
            f"INVOICE INV-{n:04d}\nDate: 2024-01-{n % 28 + 1:02d}\nFrom: Vendor {n} Ltd\n"
            f"Total due: {100 + n}.00 EUR\n", encoding="utf-8")
    with Session.open(folder.with_suffix(".sqlite")) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([folder])
        await job.run()
        with statements(session) as seen:
            report = job.report()
        assert len(report["documents"]) == count
        return len(seen)


async def test_a_report_asks_the_session_as_often_for_40_documents_as_for_10(
        settings: Settings, tmp_path: Path) -> None:
    few = await _report_statements(settings, tmp_path / "few", 10)
    many = await _report_statements(settings, tmp_path / "many", 40)
    assert many <= few + 5  # was ~9 statements more per document


def test_the_document_list_inside_bulk_reads_follows_what_is_added_and_removed(
        tmp_path: Path) -> None:
    with Session.open(tmp_path / "s.sqlite") as session:
        first, _ = loaded(session, path="a.txt")
        with statements(session) as seen, session.bulk_reads():
            assert [d.id for d in session.documents()] == [first]
            assert [d.id for d in session.documents()] == [first]
            second, _ = loaded(session, path="b.txt")
            assert [d.id for d in session.documents()] == [first, second]
            session.remove_document(first)
            assert [d.id for d in session.documents()] == [second]
        assert len([s for s in seen if "ORDER BY id" in s and "FROM documents" in s]) == 3


def test_stage_statuses_of_many_documents_are_one_transaction_and_unchanged_ones_none(
        tmp_path: Path) -> None:
    from extractor_tui.core.model import StageStatus

    with Session.open(tmp_path / "s.sqlite") as session:
        docs = [loaded(session, path=f"d{n}.txt")[0] for n in range(20)]
        rows = [(d, "extract", StageStatus.COMPLETE, "m", f"basis-{d}") for d in docs]
        with statements(session) as seen:
            session.stages.set_statuses(rows)
        assert sum(s.startswith("BEGIN") for s in seen) == 1
        assert session.stages.statuses()[(docs[3], "extract")] == \
            (StageStatus.COMPLETE, "m", f"basis-{docs[3]}")
        with statements(session) as seen:
            session.stages.set_statuses(rows)  # a resume: nothing changed, nothing written
        assert not any(s.startswith(("BEGIN", "INSERT")) for s in seen)
        changed = [(docs[0], "extract", StageStatus.FAILED, "m", "other")]
        session.stages.set_statuses(changed)
        assert session.stages.statuses()[(docs[0], "extract")][0] is StageStatus.FAILED


async def test_a_runs_results_are_kept_in_one_transaction(settings: Settings,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(12):
        (folder / f"inv-{n:03d}.txt").write_text(f"INVOICE INV-{n:04d}\nTotal due: {n}.00 EUR\n",
                                                 encoding="utf-8")
    with Session.open(tmp_path / "s.sqlite") as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([folder])
        with statements(session) as seen:
            await job.run()
        stored = [s for s in seen if "INSERT INTO results" in s]
        assert stored  # every document's results were kept …
        begins = [n for n, s in enumerate(seen) if s.startswith("BEGIN")]
        first = seen.index(stored[0])
        # … inside one transaction: no BEGIN between the first and the last results row
        assert not [n for n in begins if first < n < seen.index(stored[-1])]
        for doc in job.documents():
            assert session.load_results(doc.doc_id)["invoice_number"].value is not None
