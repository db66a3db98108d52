"""The coordinator: re-registering documents under new fields re-keys their chunks, keeps
edits and answers whose key did not change; marking a chunk empty is recorded like an answer.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.job_setup import list_models
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.session import Session
from extractor_tui.errors import ProviderError, SessionWriteError
from loopback import LoopbackServer
from test_bulk_reads import statements

SAMPLES = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return Settings(provider="offline")


async def test_new_fields_rekey_chunks_and_keep_edits(settings: Settings, tmp_path: Path
                                                      ) -> None:
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES / "acme-2024-0117.txt"])
        await job.run()
        [doc] = job.documents()
        job.edit(doc.doc_id, "total", "99.50", by="tester")
        assert session.pending_items() == []
    with Session.open(path) as session:
        same = Job(settings, preset("invoice"), session)
        await same.add_paths([SAMPLES / "acme-2024-0117.txt"])
        assert session.pending_items() == []  # same keys: answered, nothing to send
        assert same.results(doc.doc_id)["total"].value == 99.5
        assert same.results(doc.doc_id)["total"].edited_by == "tester"
    with Session.open(path) as session:
        fewer = preset("invoice")
        changed = Job(settings, type(fewer)(fewer.fields[:3], "three"), session)
        await changed.add_paths([SAMPLES / "acme-2024-0117.txt"])
        assert len(session.pending_items()) == len(changed.documents()[0].items) >= 1
        assert session.edits(doc.doc_id)["total"].value in ("99.50", 99.5)


async def test_mark_empty_is_an_answer_the_session_keeps(settings: Settings,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES / "kestrel-kp-24-1009.txt"])
        [doc] = job.documents()
        items = session.work_items(doc.doc_id)
        first = items[0].id
        job.mark_empty([first])
        assert [item.id for item in session.pending_items()] == [i.id for i in items[1:]]
    with Session.open(path) as session:
        reopened = Job(settings, preset("invoice"), session)
        restored = {o.item.id: o for o in reopened.chunk_outcomes(first.doc)}
        assert restored[first].status is ChunkStatus.COMPLETED
        assert restored[first].candidates == ()


async def test_a_session_that_cannot_be_written_stops_the_run_with_one_clear_error(
        settings: Settings, tmp_path: Path) -> None:
    """A full disk is the user's problem, not a bug: ``SessionWriteError``, and nothing that
    was committed before is lost (the file still opens, its documents are still there)."""
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES])
        pending = len(session.pending_items())
        pages = session._db.execute("PRAGMA page_count").fetchone()[0]
        session._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now full
        with pytest.raises(SessionWriteError, match="cannot write the session: database or "
                                                    "disk is full"):
            await job.run()
    with Session.open(path) as session:  # answers stored before the disk filled are kept
        assert pending >= 6 and 0 < len(session.pending_items()) <= pending


async def test_reads_never_write_and_results_are_kept_after_what_changes_them(
        settings: Settings, tmp_path: Path) -> None:
    """A report, a document's results or a screen showing them commit nothing; a run, an
    edit and chunks marked empty keep the merged results in the file for other readers."""
    import sqlite3

    path = tmp_path / "s.sqlite"
    watcher = sqlite3.connect(path)  # PRAGMA data_version moves when another connection commits

    def version() -> int:
        return int(watcher.execute("PRAGMA data_version").fetchone()[0])

    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES / "acme-2024-0117.txt", SAMPLES / "kestrel-kp-24-1009.txt"])
        await job.run()
        first, second = job.documents()
        assert session.load_results(first.doc_id)["total"].value is not None
        before = version()
        job.report()
        job.results(first.doc_id)
        job.chunk_outcomes(second.doc_id)
        assert version() == before
        job.edit(first.doc_id, "total", "12.50")
        assert version() != before
        assert session.load_results(first.doc_id)["total"].value == 12.5
    watcher.close()


async def test_an_unchanged_file_is_not_read_again_unless_its_chunks_would_differ(
        settings: Settings, tmp_path: Path) -> None:
    import os
    import shutil

    folder = tmp_path / "docs"
    shutil.copytree(SAMPLES, folder)
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        first = await Job(settings, preset("invoice"), session).add_paths([folder])
        assert len(first.documents) == 6 and first.unchanged == ()
        keys = {item.id: item.key for item in session.work_items()}

        again = await Job(settings, preset("invoice"), session).add_paths([folder])
        assert again.documents == [] and len(again.unchanged) == 6
        assert {item.id: item.key for item in session.work_items()} == keys

        touched = folder / "acme-2024-0117.txt"
        stat = touched.stat()
        os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        third = await Job(settings, preset("invoice"), session).add_paths([folder])
        assert [d.path for d in third.documents] == [touched] and len(third.unchanged) == 5

        fewer = preset("invoice")
        other_fields = Job(settings, type(fewer)(fewer.fields[:3], "three"), session)
        assert len((await other_fields.add_paths([folder])).documents) == 6  # new keys

        smaller = Settings(provider="offline", chunk_tokens=200, overlap_tokens=20)
        rechunked = await Job(smaller, type(fewer)(fewer.fields[:3], "three"),
                              session).add_paths([folder])
        assert len(rechunked.documents) == 6 and rechunked.unchanged == ()


async def test_a_file_sessions_chunks_are_written_off_the_event_loop(
        settings: Settings, tmp_path: Path) -> None:
    """The loop's own connection never writes chunks (a 50 MB file's took it 1-2 s): they go
    through the session's second connection, in a worker thread."""
    import threading

    with Session.open(tmp_path / "s.sqlite") as session:
        writes: list[str] = []
        loop_thread = threading.get_ident()
        session._db.set_trace_callback(  # the connection the event loop uses
            lambda sql: writes.append(sql) if "INSERT INTO chunks" in sql else None)
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES])
        assert writes == [] and threading.get_ident() == loop_thread
        assert len(session.work_items()) >= 7  # and the chunks are there, for this connection
        assert session.pending_items() == session.work_items()


async def test_list_models_asks_the_endpoint_a_run_would_use() -> None:
    """"Test connection" on the Settings screen: the same client a run builds (one small
    call), and the server's refusal as a ProviderError with its reason."""
    async with LoopbackServer(models=("loopback-1", "loopback-2")) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("sk-test-not-a-key"))
        assert await list_models(settings) == ["loopback-1", "loopback-2"]
        assert [r.path for r in server.log] == ["/v1/models"]
    with socket.socket() as probe:  # a port on loopback where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = Settings(provider="openai", base_url=f"http://127.0.0.1:{port}/v1",
                       api_key=SecretStr("sk-test-not-a-key"), timeout_s=5)
    with pytest.raises(ProviderError, match="127.0.0.1"):
        await list_models(refused)
    assert await list_models(Settings(provider="offline")) == []


async def test_a_reopened_job_restores_stored_answers_one_document_at_a_time(
        settings: Settings, tmp_path: Path) -> None:
    """Opening parses no stored answer (2 s for 12,000 chunks, before the app could draw):
    a document's answers are restored when its results are asked for, every document's
    for the report, and the results are those the run merged."""
    path = tmp_path / "s.sqlite"
    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([SAMPLES / "acme-2024-0117.txt", SAMPLES / "kestrel-kp-24-1009.txt"])
        await job.run()
        first, second = job.documents()
        merged = {doc.doc_id: job.results(doc.doc_id) for doc in (first, second)}
        report = job.report()
    with Session.open(path) as session:
        reopened = Job(settings, preset("invoice"), session)
        assert reopened.outcomes == {}
        assert reopened.results(second.doc_id) == merged[second.doc_id]
        assert {chunk.doc for chunk in reopened.outcomes} == {second.doc_id}
        assert len(reopened.outcomes) == len(second.items)
        again = reopened.report()["documents"]  # what this job spent differs: nothing
        assert [(d["status"], d["fields"]) for d in again] == [
            (d["status"], d["fields"]) for d in report["documents"]]
        assert {chunk.doc for chunk in reopened.outcomes} == {first.doc_id, second.doc_id}
        assert reopened.results(first.doc_id) == merged[first.doc_id]


async def test_a_deferred_tokenizer_is_resolved_once_when_documents_are_added(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app opens a Job without reading a BPE file (0.3-1 s, most of it holding the
    interpreter); adding documents resolves it, once."""
    from extractor_tui.core import job as job_module

    calls: list[str | None] = []
    real = job_module.make_chunker

    def counted(model: str | None, max_tokens: int, overlap: int) -> Any:
        calls.append(model)
        return real(model, max_tokens, overlap)

    monkeypatch.setattr(job_module, "make_chunker", counted)
    with Session.open(tmp_path / "s.sqlite") as session:
        job = Job(settings, preset("invoice"), session, defer_tokenizer=True)
        assert job.documents() == [] and calls == []
        await job.add_paths([SAMPLES / "acme-2024-0117.txt"])
        assert calls == [settings.model]
        assert job.plan().chunks == 1 and job.encoding.describe()
        assert calls == [settings.model]
        Job(settings, preset("invoice"), session)  # not deferred: resolved at once
        assert len(calls) == 2


async def _resume_statements(settings: Settings, folder: Path, count: int) -> int:
    """Chunk reads a reopened Job's run asks when every chunk is answered already."""
    folder.mkdir()
    for n in range(count):
        (folder / f"inv-{n:03d}.txt").write_text(
            f"INVOICE INV-{n:04d}\nDate: 2024-01-{n % 28 + 1:02d}\nTotal due: {100 + n}.00\n",
            encoding="utf-8")
    path = folder.with_suffix(".sqlite")
    with Session.open(path) as session:
        job = Job(settings, preset("invoice"), session)
        await job.add_paths([folder])
        await job.run()
    with Session.open(path) as session:
        again = Job(settings, preset("invoice"), session)
        await again.add_paths([folder])
        with statements(session) as seen:
            result = await again.run()
        assert result.outcomes == ()
        assert len(again.report()["documents"]) == count
        return len([sql for sql in seen if "FROM chunks" in sql])


async def test_a_finished_run_again_restores_stored_answers_in_one_pass(
        settings: Settings, tmp_path: Path) -> None:
    """Stored answers are restored lazily, but a run's bookkeeping goes over every
    document: it takes them all in one pass, not two queries per document."""
    few = await _resume_statements(settings, tmp_path / "few", 10)
    many = await _resume_statements(settings, tmp_path / "many", 40)
    assert many <= few + 5
