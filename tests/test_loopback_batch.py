"""The fake Files and Batch APIs of the loopback server, seen through the real ``openai`` SDK:
uploads and their metadata and content, a batch's statuses from validating to completed,
output and error lines in OpenAI's shapes, validation failures with their documented codes,
the per-batch limits, expiry, cancellation and listing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from loopback import Fault, LoopbackServer, RequestInfo

BODY: dict[str, Any] = {"model": "loopback-1", "messages": [{"role": "user", "content": "hi"}],
                        "response_format": {"type": "json_schema", "json_schema": {
                            "name": "a", "schema": {"type": "object", "properties": {
                                "x": {"type": "string"}}}}}}


def line(custom_id: str, body: dict[str, Any] | None = None,
         url: str = "/v1/chat/completions") -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body or BODY}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(one) + "\n" for one in lines).encode()


@pytest.fixture
async def sdk() -> AsyncIterator[tuple[LoopbackServer, openai.AsyncOpenAI]]:
    async with LoopbackServer(batch=True) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k",
                                      max_retries=0, timeout=5) as client:
            yield server, client


async def submit(client: openai.AsyncOpenAI, lines: list[dict[str, Any]]) -> openai.types.Batch:
    uploaded = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
    return await client.batches.create(input_file_id=uploaded.id,
                                       endpoint="/v1/chat/completions",
                                       completion_window="24h")


async def poll_to_end(client: openai.AsyncOpenAI, batch_id: str,
                      polls: int = 20) -> list[openai.types.Batch]:
    seen = []
    for _ in range(polls):
        batch = await client.batches.retrieve(batch_id)
        seen.append(batch)
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            break
    return seen


async def lines_of(client: openai.AsyncOpenAI, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    content = await client.files.content(file_id)
    return [json.loads(row) for row in content.text.splitlines()]


async def test_upload_metadata_and_content(
        sdk: tuple[LoopbackServer, openai.AsyncOpenAI]) -> None:
    _, client = sdk
    data = jsonl([line("a")])
    uploaded = await client.files.create(file=("requests.jsonl", data), purpose="batch")
    assert (uploaded.object, uploaded.purpose, uploaded.bytes, uploaded.filename) == (
        "file", "batch", len(data), "requests.jsonl")
    again = await client.files.retrieve(uploaded.id)
    assert again.id == uploaded.id and again.bytes == len(data)
    assert (await client.files.content(uploaded.id)).content == data
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve("file-nope")
    with pytest.raises(openai.BadRequestError):
        await client.files.create(file=("x.jsonl", data), purpose="nonsense")  # type: ignore[arg-type]


async def test_a_batch_moves_through_its_statuses_to_output_lines(
        sdk: tuple[LoopbackServer, openai.AsyncOpenAI]) -> None:
    server, client = sdk
    created = await submit(client, [line("k1"), line("k2")])
    assert (created.status, created.completion_window, created.endpoint) == (
        "validating", "24h", "/v1/chat/completions")
    seen = await poll_to_end(client, created.id)
    assert [b.status for b in seen] == ["in_progress", "finalizing", "completed"]
    done = seen[-1]
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed,
            done.request_counts.failed) == (2, 2, 0)
    assert done.error_file_id is None and done.completed_at is not None
    assert done.model == "loopback-1" and done.usage is not None and done.usage.input_tokens > 0
    out = await lines_of(client, done.output_file_id)
    assert [row["custom_id"] for row in out] == ["k1", "k2"]
    first = out[0]
    assert first["error"] is None and first["response"]["status_code"] == 200
    body = first["response"]["body"]
    assert body["object"] == "chat.completion"
    assert json.loads(body["choices"][0]["message"]["content"]) == {"x": ""}
    output_file = await client.files.retrieve(done.output_file_id or "")
    assert output_file.purpose == "batch_output"
    assert server.batch is not None and server.batch.creates == 1


async def test_failed_lines_go_to_the_error_file() -> None:
    def script(info: RequestInfo) -> Fault:
        return {1: Fault.server_error(500), 2: Fault.hang()}.get(info.index, Fault.ok())

    async with LoopbackServer(batch=True, batch_script=script) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k",
                                      max_retries=0) as client:
            created = await submit(client, [line("a"), line("b"), line("c")])
            done = (await poll_to_end(client, created.id))[-1]
            assert done.status == "completed"
            assert done.request_counts is not None
            assert (done.request_counts.completed, done.request_counts.failed) == (1, 2)
            errors = {row["custom_id"]: row for row in await lines_of(client,
                                                                       done.error_file_id)}
            assert errors["a"]["response"]["status_code"] == 500
            assert errors["a"]["response"]["body"]["error"]["type"] == "server_error"
            assert errors["b"]["response"] is None
            assert errors["b"]["error"]["code"] == "request_timeout"
            assert [r["custom_id"] for r in await lines_of(client, done.output_file_id)] == ["c"]


@pytest.mark.parametrize(("lines", "code"), [
    ([line("a"), line("a")], "duplicate_custom_id"),
    ([line("a"), line("b", url="/v1/embeddings")], "url_mismatch"),
    ([line("a"), line("b", {**BODY, "model": "other"})], "model_mismatch"),
    ([], "empty_file"),
])
async def test_input_validation_fails_the_batch_with_its_code(
        sdk: tuple[LoopbackServer, openai.AsyncOpenAI], lines: list[dict[str, Any]],
        code: str) -> None:
    _, client = sdk
    created = await submit(client, lines)
    done = (await poll_to_end(client, created.id))[-1]
    assert done.status == "failed" and done.failed_at is not None
    assert done.errors is not None and done.errors.data
    assert done.errors.data[0].code == code


async def test_a_line_that_is_not_json_is_named_by_its_number(
        sdk: tuple[LoopbackServer, openai.AsyncOpenAI]) -> None:
    _, client = sdk
    uploaded = await client.files.create(file=("in.jsonl", jsonl([line("a")]) + b"{oops\n"),
                                         purpose="batch")
    created = await client.batches.create(input_file_id=uploaded.id,
                                          endpoint="/v1/chat/completions",
                                          completion_window="24h")
    done = (await poll_to_end(client, created.id))[-1]
    assert done.errors is not None and done.errors.data
    assert (done.errors.data[0].code, done.errors.data[0].line) == ("invalid_json_line", 2)


async def test_per_batch_limits() -> None:
    async with LoopbackServer(batch={"max_requests": 2, "max_bytes": 4000}) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k",
                                      max_retries=0) as client:
            created = await submit(client, [line("a"), line("b"), line("c")])
            done = (await poll_to_end(client, created.id))[-1]
            assert done.status == "failed"
            assert done.errors is not None and done.errors.data
            assert done.errors.data[0].code == "too_many_tasks"
            big = {**BODY, "messages": [{"role": "user", "content": "x" * 5000}]}
            with pytest.raises(openai.BadRequestError, match="File is too large"):
                await submit(client, [line("a", big)])


async def test_create_refuses_what_openai_refuses(
        sdk: tuple[LoopbackServer, openai.AsyncOpenAI]) -> None:
    _, client = sdk
    with pytest.raises(openai.NotFoundError):
        await client.batches.create(input_file_id="file-none", endpoint="/v1/chat/completions",
                                    completion_window="24h")
    other = await client.files.create(file=("in.jsonl", jsonl([line("a")])),
                                      purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        await client.batches.create(input_file_id=other.id, endpoint="/v1/chat/completions",
                                    completion_window="24h")
    right = await client.files.create(file=("in.jsonl", jsonl([line("a")])), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="completion_window"):
        await client.batches.create(input_file_id=right.id, endpoint="/v1/chat/completions",
                                    completion_window="48h")  # type: ignore[arg-type]


async def test_expiry_sends_what_was_not_done_to_the_error_file() -> None:
    async with LoopbackServer(batch={"lines_per_poll": 1, "expire_after": 1}) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k",
                                      max_retries=0) as client:
            created = await submit(client, [line("a"), line("b"), line("c")])
            seen = await poll_to_end(client, created.id)
            assert [b.status for b in seen] == ["in_progress", "in_progress", "expired"]
            done = seen[-1]
            assert done.expired_at is not None
            assert [r["custom_id"] for r in await lines_of(client, done.output_file_id)] == ["a"]
            expired = await lines_of(client, done.error_file_id)
            assert [(r["custom_id"], r["error"]["code"]) for r in expired] == [
                ("b", "batch_expired"), ("c", "batch_expired")]


async def test_cancel_list_and_hold() -> None:
    async with LoopbackServer(batch={"lines_per_poll": 1}) as server:
        assert server.batch is not None
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k",
                                      max_retries=0) as client:
            first = await submit(client, [line("a"), line("b")])
            second = await submit(client, [line("c")])
            page = await client.batches.list(limit=1)
            assert [b.id for b in page.data] == [second.id] and page.has_more
            everything = [b.id async for b in client.batches.list(limit=1)]
            assert everything == [second.id, first.id]
            server.batch.hold = True
            held = await client.batches.retrieve(first.id)
            assert held.status == "validating"
            server.batch.hold = False
            await client.batches.retrieve(first.id)  # in_progress
            await client.batches.retrieve(first.id)  # one line done
            cancelling = await client.batches.cancel(first.id)
            assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
            done = await client.batches.retrieve(first.id)
            assert done.status == "cancelled" and done.cancelled_at is not None
            assert [r["error"]["code"] for r in await lines_of(client, done.error_file_id)] \
                == ["batch_cancelled"]
            with pytest.raises(openai.ConflictError):
                await client.batches.cancel(first.id)
            with pytest.raises(openai.NotFoundError):
                await client.batches.retrieve("batch_nope")
