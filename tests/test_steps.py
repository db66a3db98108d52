"""Passes over every document run in steps and are not done twice (``core/steps.py``).

At the end of a 10,000-document run, storing the merged results, each stage's status, the
report and the JSON text held the event loop 5 s, and merged every document twice. These
tests count what a person would feel as a frozen screen: whether other tasks run while a
pass goes on, how often each document is merged, and whether answers this process holds
are read back from the session.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from extractor_tui.config import Settings
from extractor_tui.core import job as job_module
from extractor_tui.core import steps
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.session import Session
from test_bulk_reads import statements


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return Settings(provider="offline")


@asynccontextmanager
async def loop_turns() -> AsyncIterator[list[int]]:
    """``[n]``: how many times another task on this loop got its turn inside the block (a
    screen's refresh, a progress line, a Ctrl-C handler would have had as many)."""
    turns = [0]
    done = False

    async def other_task() -> None:
        while not done:
            turns[0] += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    turns[0] = 0
    try:
        yield turns
    finally:
        done = True
        await ticker


async def _job_with_invoices(settings: Settings, session: Session, folder: Path,
                             count: int) -> Job:
    """A Job on ``session`` with ``count`` invoices in ``folder`` added (not yet run)."""
    job = Job(settings, preset("invoice"), session)
    await job.add_paths([_invoices(folder, count)])
    return job


def _invoices(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"inv-{n:03d}.txt").write_text(
            f"INVOICE INV-{n:04d}\nDate: 2024-01-{n % 28 + 1:02d}\nFrom: Vendor {n} Ltd\n"
            f"Total due: {100 + n}.00 EUR\n", encoding="utf-8")
    return folder


async def test_a_report_over_many_documents_lets_other_tasks_run_between_its_steps(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Session.open(tmp_path / "s.sqlite") as session:
        job = await _job_with_invoices(settings, session, tmp_path / "docs", 120)
        await job.run()
        monkeypatch.setattr(steps, "SLICE_S", 0.0)  # a step per slice: count them
        async with loop_turns() as turns:
            report = await job.report_async()
        assert turns[0] >= 120  # the loop ran at least once per document
        assert report == job.report()  # the same report, in steps or at once
        assert len(report["documents"]) == 120


async def test_a_task_woken_by_a_callback_runs_between_every_two_slices(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A task asleep on a timer needs two turns to run again (the timer's callback sets a
    future; the task wakes in the next turn). With one turn between slices it ran after
    every second or third slice, and a 5 ms sleep came back 70-80 ms late."""
    monkeypatch.setattr(steps, "SLICE_S", 0.0)  # every step is a slice of its own
    loop = asyncio.get_running_loop()
    woken: list[int] = []
    done: list[int] = []

    def pass_of(count: int) -> steps.Steps[int]:
        for step in range(count):
            done.append(step)
            yield
        return count

    async def sleeper() -> None:
        while True:
            future: asyncio.Future[None] = loop.create_future()
            loop.call_soon(future.set_result, None)  # as a timer falling due would
            await future
            woken.append(len(done))

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    assert await steps.finish_async(pass_of(50)) == 50
    task.cancel()
    # Woken after each slice: never two slices in a row without it.
    assert set(range(1, 51)) <= set(woken)


async def test_the_report_after_a_run_merges_no_document_again_until_something_changes(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    merged: list[int] = []
    real = job_module.merged_results

    def counting(session: Session, fields: Any, doc_id: int, outcomes: Any) -> Any:
        merged.append(doc_id)
        return real(session, fields, doc_id, outcomes)

    monkeypatch.setattr(job_module, "merged_results", counting)
    with Session.open(tmp_path / "s.sqlite") as session:
        job = await _job_with_invoices(settings, session, tmp_path / "docs", 12)
        await job.run()
        assert sorted(merged) == sorted(d.doc_id for d in job.documents())  # once each
        merged.clear()
        report = job.report()
        assert merged == []  # what the run stored is what the report shows
        assert report["documents"][3]["fields"]["total"]["value"] == 103
        # An edit written past the Job (another writer of the session's rows) is seen.
        doc = job.documents()[3].doc_id
        session.add_edit(doc, "total", 7, by="tester")
        edited = job.report()
        assert edited["documents"][3]["fields"]["total"]["value"] == 7
        assert len(merged) == 12


async def test_the_end_of_a_run_reads_no_answer_back_that_this_process_holds(
        settings: Settings, tmp_path: Path) -> None:
    with Session.open(tmp_path / "s.sqlite") as session:
        job = await _job_with_invoices(settings, session, tmp_path / "docs", 30)
        with statements(session) as seen:
            await job.run()
        # Each stage status page asks about its own documents, not about all of them.
        assert not [s for s in seen if "FROM stage_status" in s and "WHERE" not in s]
        with statements(session) as reported:
            job.report()
        # Reading the answers back (1 s at 10,000 documents) happened three times here.
        assert not [s for s in seen + reported if "JOIN responses" in s]


async def test_a_resumed_job_reads_what_the_session_holds_a_page_at_a_time(
        settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    with Session.open(tmp_path / "s.sqlite") as session:
        first = await _job_with_invoices(settings, session, folder, 30)
        await first.run()
        expected = first.report()
    with Session.open(tmp_path / "s.sqlite") as session:
        again = Job(settings, preset("invoice"), session)
        await again.add_paths([folder])
        with statements(session) as seen:
            report = await again.report_async()
        assert [d["fields"] for d in report["documents"]] == \
            [d["fields"] for d in expected["documents"]]
        answers = [s for s in seen if "JOIN responses" in s]
        assert answers and all("IN (" in s for s in answers)


_HEAP = r"""
import gc
from extractor_tui import heap
kept = [[n] for n in range(1000)]
heap.keep()
assert gc.get_freeze_count() == 0, "a library user's heap is left alone"
heap.settle()
frozen = gc.get_freeze_count()
more = [[n] for n in range(5000)]
heap.keep()
assert gc.get_freeze_count() >= frozen + 5000, (frozen, gc.get_freeze_count())
"""


def test_keep_freezes_what_a_front_end_built_and_nothing_before_settle() -> None:
    out = subprocess.run([sys.executable, "-c", _HEAP], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr


async def test_drop_async_frees_a_big_list_a_slice_per_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "DROP", 10)
    items: list[Any] = [{"n": n} for n in range(100)]
    async with loop_turns() as turns:
        await steps.drop_async(items)
    assert items == []
    assert turns[0] >= 10  # the loop ran between every two slices
