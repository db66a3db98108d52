"""The Batch API hand-off, end to end against the loopback server's fake Batch API, through
the real ``openai`` SDK: what each line carries, the split at the per-file limits, answers
stored as live ones are, failed lines and unusable answers sent again (in the next batch, or
live), expiry, a resumed run that pays nothing twice, and the cost at the batch price.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from extractor_tui.config import Settings
from extractor_tui.core.batch_files import read_lines
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.session import Session

from loopback import Fault, LoopbackServer, RequestInfo

SAMPLES = Path(__file__).resolve().parents[1] / "sample_docs" / "invoices"
DOCS = sorted(SAMPLES.glob("*.txt"))[:4]


def settings_for(server: LoopbackServer, **extra: Any) -> Settings:
    return Settings(base_url=server.base_url, api_key="sk-test-batch", model="gpt-4o-mini",
                    batch_poll_s=0.01, batch_poll_max_s=0.02, timeout_s=5.0,
                    chunk_tokens=200, overlap_tokens=20, **extra)


def chat_calls(server: LoopbackServer) -> int:
    return sum(1 for record in server.log if record.path == "/v1/chat/completions")


def input_lines(server: LoopbackServer) -> list[list[dict[str, Any]]]:
    """Every batch's input lines, in the order the batches were created."""
    assert server.batch is not None
    files = server.batch.files
    return [[json.loads(row) for row in files[b.input_file_id].content.splitlines()]
            for b in server.batch.batches.values()]


async def job_on(server: LoopbackServer, path: Path, docs: list[Path] = DOCS,
                 **extra: Any) -> Job:
    job = Job(settings_for(server, **extra), preset("invoice"), Session.open(path))
    await job.add_paths(docs)
    return job


async def close(job: Job) -> None:
    await job.aclose()
    job.session.close()


async def test_every_chunk_goes_in_one_batch_line_with_the_engines_own_body(
        tmp_path: Path) -> None:
    async with LoopbackServer(batch=True) as server:
        job = await job_on(server, tmp_path / "s.sqlite")
        pending = job.session.pending_items()
        assert len(pending) > 4
        try:
            result = await job.run_batch()
            [lines] = input_lines(server)
            assert isinstance(job._inner, OpenAIClient)
            first = {item.key: item for item in reversed(pending)}
            assert len(lines) == len(first)  # one line per request key
            for line in lines:
                item = first[line["custom_id"]]
                assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
                assert line["body"] == job._inner.body(job.engine.request_for(item))
            assert lines[0]["body"]["response_format"]["type"] == "json_schema"
            assert chat_calls(server) == 0
            assert result.count("completed") == len(pending) and result.fatal is None
            assert job.session.pending_items() == []  # every answer is in the cache
            report = job.report()
            summary = report["summary"]
            assert summary["batch"]["requests"] == len(pending)
            live = job.cost(summary["prompt_tokens"], summary["completion_tokens"])
            assert live is not None and summary["cost_usd"] == pytest.approx(live / 2, abs=1e-5)
            assert summary["batch"]["cost_usd"] == pytest.approx(live / 2, abs=1e-5)
            stored = job.session.batches.batches()
            assert [(b.status, b.collected, b.requests) for b in stored] == [
                ("completed", True, len(lines))]
        finally:
            await close(job)


async def test_batches_are_split_at_the_endpoints_limits(tmp_path: Path) -> None:
    async with LoopbackServer(batch={"max_requests": 3}) as server:
        job = await job_on(server, tmp_path / "s.sqlite", batch_max_requests=3)
        keys = {item.key for item in job.session.pending_items()}
        try:
            await job.run_batch()
            batches = input_lines(server)
            assert [len(b) for b in batches[:-1]] == [3] * (len(batches) - 1)
            assert 1 <= len(batches[-1]) <= 3
            assert sorted(line["custom_id"] for b in batches for line in b) == sorted(keys)
            assert job.session.pending_items() == []
        finally:
            await close(job)
        assert server.batch is not None
        server.batch.batches.clear()
        by_size = await job_on(server, tmp_path / "t.sqlite", batch_max_mb=0.015)
        try:  # each line is 6-7 kB here: two fit in 15 kB, three do not
            await by_size.run_batch()
            sizes = [len(server.batch.files[b.input_file_id].content)
                     for b in server.batch.batches.values()]
            assert len(sizes) > 1 and max(sizes) <= 15_000
            assert by_size.session.pending_items() == []
        finally:
            await close(by_size)


async def test_failed_lines_go_into_the_next_batch(tmp_path: Path) -> None:
    script = [Fault.server_error(500), Fault.rate_limited(), Fault.hang()]
    async with LoopbackServer(batch=True, batch_script=script) as server:
        job = await job_on(server, tmp_path / "s.sqlite")
        try:
            result = await job.run_batch()
            first, second = input_lines(server)
            assert [line["custom_id"] for line in second] == [
                line["custom_id"] for line in first[:3]]
            assert result.count("completed") == len(result.outcomes)
            assert chat_calls(server) == 0
            lines = [line for b in job.session.batches.batches()
                     for line in job.session.batches.keys(b.id)]
            assert len(lines) == len(first) + 3
            summary = job.report()["summary"]
            assert summary["retries"] == 3  # each failed line, asked again, is a retry
            assert summary["batch"]["requests"] == len(first)  # failed lines are not billed
        finally:
            await close(job)


async def test_direct_fallback_sends_failed_lines_live(tmp_path: Path) -> None:
    async with LoopbackServer(batch=True, batch_script=[Fault.server_error(503)]) as server:
        job = await job_on(server, tmp_path / "s.sqlite", batch_fallback="direct")
        try:
            result = await job.run_batch()
            assert len(input_lines(server)) == 1
            assert chat_calls(server) == 1
            assert result.count("completed") == len(result.outcomes)
            batch_billed = job.report()["summary"]["batch"]["requests"]
            assert batch_billed == len(result.outcomes) - 1
        finally:
            await close(job)


async def test_an_unusable_answer_is_asked_again_with_its_error(tmp_path: Path) -> None:
    async with LoopbackServer(batch=True, batch_script=[Fault.malformed()]) as server:
        job = await job_on(server, tmp_path / "s.sqlite")
        try:
            result = await job.run_batch()
            first, second = input_lines(server)
            [again] = second
            assert again["custom_id"] == first[0]["custom_id"]
            messages = again["body"]["messages"]
            assert len(messages) > len(first[0]["body"]["messages"])
            assert any('{"fields": [1, 2' in str(m.get("content")) for m in messages)
            assert result.count("completed") == len(result.outcomes)
        finally:
            await close(job)


async def test_lines_of_an_expired_batch_are_sent_again(tmp_path: Path) -> None:
    async with LoopbackServer(batch={"lines_per_poll": 3, "expire_after": 1}) as server:
        job = await job_on(server, tmp_path / "s.sqlite", docs=DOCS[:1])  # 4 chunks
        try:
            result = await job.run_batch()
            statuses = [b.status for b in job.session.batches.batches()]
            assert statuses[0] == "expired" and statuses[-1] == "completed"
            assert result.count("completed") == len(result.outcomes)
        finally:
            await close(job)


async def test_a_batch_that_fails_validation_ends_with_its_reason(tmp_path: Path) -> None:
    async with LoopbackServer(batch={"max_requests": 1}) as server:
        job = await job_on(server, tmp_path / "s.sqlite", docs=DOCS[:1], retries=2)
        try:
            result = await job.run_batch()
            stored = job.session.batches.batches()
            assert stored[0].status == "failed"
            assert stored[0].message is not None and "too_many_tasks" in stored[0].message
            assert result.count("failed") == len(result.outcomes) > 0
            assert job.session.pending_items() != []  # still to do, nothing lost
        finally:
            await close(job)


async def test_an_interrupted_run_resumes_polling_and_submits_nothing_twice(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with LoopbackServer(batch={"hold": True}) as server:
        assert server.batch is not None
        job = await job_on(server, path)
        pending = len(job.session.pending_items())
        task = asyncio.create_task(job.run_batch())
        for _ in range(500):
            if server.batch.retrieves >= 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await close(job)
        assert server.batch.creates == 1
        server.batch.hold = False
        again = await job_on(server, path)
        try:
            assert again.pending() == []  # all waiting in the batch: a live run sends none
            assert again.plan().in_batches == pending
            result = await again.run_batch()
            assert server.batch.creates == 1 and server.batch.uploads == 1
            assert result.count("completed") == pending
            assert again.session.pending_items() == []
        finally:
            await close(again)


async def test_a_batch_recorded_before_it_was_created_is_found_not_made_twice(
        tmp_path: Path) -> None:
    async with LoopbackServer(batch=True) as server:
        assert server.batch is not None
        job = await job_on(server, tmp_path / "s.sqlite", docs=DOCS[:1])
        try:
            items = job.session.pending_items()
            endpoint = job._batch_endpoint()
            data = b"".join(json.dumps({"custom_id": i.key, "method": "POST",
                                        "url": "/v1/chat/completions",
                                        "body": job._inner.body(job.engine.request_for(i))
                                        if isinstance(job._inner, OpenAIClient) else {}
                                        }).encode() + b"\n" for i in items)
            file_id = await endpoint.service.upload("x.jsonl", data)
            job.session.batches.add(endpoint.name, file_id, [(i.key, i.id) for i in items],
                                    len(data))
            await endpoint.service.create(file_id)  # killed before the id was written
            await endpoint.service.aclose()
            result = await job.run_batch()
            assert server.batch.creates == 1
            assert result.count("completed") == len(items)
        finally:
            await close(job)


async def test_a_truncated_answer_splits_the_chunk_as_live(tmp_path: Path) -> None:
    def script(info: RequestInfo) -> Fault:
        return Fault.truncated() if info.index == 1 else Fault.ok()

    async with LoopbackServer(batch=True, batch_script=script) as server:
        job = await job_on(server, tmp_path / "s.sqlite", docs=DOCS[:1])
        try:
            result = await job.run_batch()
            labels = [o.item.id.label for o in result.outcomes]
            assert any("." in label for label in labels)  # halves were sent and answered
            assert result.count("completed") == len(result.outcomes)
        finally:
            await close(job)


def test_output_lines_are_read_without_trusting_them() -> None:
    content = (b'{"custom_id": "a", "response": {"status_code": 200, "body": {}}, '
               b'"error": null}\nnot json\n{"no": "id"}\n'
               b'{"custom_id": "b", "response": null, "error": {"code": "batch_expired", '
               b'"message": "late"}}\n')
    lines = read_lines(content)
    assert sorted(lines) == ["a", "b"]
    assert lines["a"].answered and not lines["b"].answered
    assert (lines["b"].code, lines["b"].status) == ("batch_expired", None)
