"""Honest tokens and cost (issue 13, item 4): every attempt keeps the usage the server
reported, cut-off and invalid ones included; where the server reports none, the tokens are
counted with the tokenizer and marked estimated, in the session, the JSON and the tracker.

Before: an answer cut at the token limit was split and its tokens vanished from the report
(a llama-cpp-python run said 6,176 completion tokens where the server generated 11,665).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from loopback import Fault, LoopbackServer
from pydantic import SecretStr

from extractor_tui.config import Settings
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.session import Session
from extractor_tui.core.tracker import RequestTracker

SAMPLE = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices" / "acme-2024-0117.txt"


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


async def run_job(script: Sequence[Fault], tmp_path: Path,
                  default: Fault = Fault.hostile(usage=usage(100, 10))
                  ) -> tuple[dict[str, Any], RequestTracker, Path]:
    session_path = tmp_path / "s.sqlite"
    tracker = RequestTracker()
    async with LoopbackServer(script=script, default=default) as server:
        settings = Settings(provider="openai", base_url=server.base_url,
                            api_key=SecretStr("sk-test"), model="gpt-4o-mini", retries=2)
        with Session.open(session_path) as session:
            job = Job(settings, preset("invoice"), session, sink=tracker.apply)
            try:
                await job.add_paths([SAMPLE])
                await job.run()
                report = job.report()
            finally:
                await job.aclose()
    return report, tracker, session_path


async def test_a_cut_off_answer_counts_in_the_report_after_its_chunk_is_split(
        tmp_path: Path) -> None:
    cut = Fault.hostile(Fault.truncated(), usage=usage(1000, 700))
    report, tracker, _ = await run_job([cut], tmp_path)
    [doc] = report["documents"]
    assert doc["chunks"] == {"total": 2, "completed": 2, "failed": 0, "cancelled": 0}
    assert doc["tokens"] == {"prompt": 1200, "completion": 720, "estimated": False}
    summary = report["summary"]
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (1200, 720)
    assert summary["tokens_estimated"] is False
    assert summary["cost_usd"] == pytest.approx((1200 * 0.15 + 720 * 0.60) / 1e6)
    assert (tracker.prompt_tokens, tracker.completion_tokens) == (1200, 720)


async def test_an_invalid_answer_keeps_its_usage(tmp_path: Path) -> None:
    bad = Fault.hostile(Fault.malformed(), usage=usage(500, 50))
    report, _, path = await run_job([bad], tmp_path)
    assert report["documents"][0]["tokens"] == {"prompt": 600, "completion": 60,
                                                "estimated": False}
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT outcome, prompt_tokens, completion_tokens, tokens_estimated "
                          "FROM attempts ORDER BY id").fetchall()
        request = db.execute("SELECT prompt_tokens, completion_tokens FROM requests").fetchall()
    assert rows == [("invalid-output", 500, 50, 0), ("ok", 100, 10, 0)]
    assert request == [(600, 60)]


async def test_without_usage_the_tokens_are_counted_and_marked_estimated(
        tmp_path: Path) -> None:
    report, tracker, path = await run_job([], tmp_path, default=Fault.hostile(usage=None))
    [doc] = report["documents"]
    assert doc["tokens"]["estimated"] is True and report["summary"]["tokens_estimated"] is True
    # The prompt (instructions, field list and a whole invoice) is hundreds of tokens.
    assert doc["tokens"]["prompt"] > 300 and doc["tokens"]["completion"] > 10
    assert tracker.summary().tokens_estimated
    with Session.open(path) as session:
        [entry] = session.documents()
        [item] = session.work_items(entry.id)
        [attempt] = session.attempts(item.id.doc, item.id.label)
    assert attempt.tokens_estimated and attempt.prompt_tokens == doc["tokens"]["prompt"]


async def test_a_malformed_usage_is_re_asked_and_its_tokens_estimated(tmp_path: Path) -> None:
    bad = Fault.hostile(usage={"prompt_tokens": "many", "completion_tokens": 3})
    report, _, _ = await run_job([bad], tmp_path)
    tokens = report["documents"][0]["tokens"]
    assert tokens["estimated"] is True
    assert tokens["prompt"] > 100 + 300  # the estimate of the refused one, plus 100 reported


def test_an_older_session_file_gets_the_column_and_reads_read_only(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Session.open(path).close()
    with sqlite3.connect(path) as db:  # as schema 1 was first written
        db.execute("ALTER TABLE attempts DROP COLUMN tokens_estimated")
        db.execute("ALTER TABLE requests DROP COLUMN tokens_estimated")
    with Session.open(path, read_only=True) as session:
        assert session.failed_chunks() == []
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(attempts)")}
    assert "tokens_estimated" not in columns  # a read-only open writes nothing
    Session.open(path).close()
    with sqlite3.connect(path) as db:
        for table in ("attempts", "requests"):
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            assert "tokens_estimated" in columns
