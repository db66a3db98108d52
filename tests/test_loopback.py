"""The loopback OpenAI-compatible server itself, seen through the real ``openai`` SDK: each
scripted fault maps to the exception (or odd answer) the SDK really produces, keep-alive and
concurrency work, the server-side rate limit refuses exactly what it should, it binds only to
127.0.0.1, ``close()`` leaves nothing running, and the command-line mode starts and stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai

from extractor_tui.core.llm.headers import parse_duration
import pytest
from openai.types.chat import ChatCompletion

from loopback import Fault, LoopbackServer, RequestInfo, minimal_instance, openai_duration

MESSAGES: list[Any] = [{"role": "user", "content": "Extract the fields, please."}]
WAIT_HEADERS = ("retry-after", "retry-after-ms",
                "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def client_for(server: LoopbackServer, timeout: float = 5.0) -> openai.AsyncOpenAI:
    """The SDK client as production builds it, minus retries."""
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=timeout)


async def chat(client: openai.AsyncOpenAI, **kwargs: Any) -> ChatCompletion:
    answer: ChatCompletion = await client.chat.completions.create(
        model="test-model", messages=MESSAGES, **kwargs)
    return answer


@pytest.fixture
async def served() -> AsyncIterator[tuple[LoopbackServer, openai.AsyncOpenAI]]:
    """A server answering every request normally, and a client for it."""
    async with LoopbackServer() as server:
        client = client_for(server)
        try:
            yield server, client
        finally:
            await client.close()


async def one_fault(fault: Fault, timeout: float = 5.0,
                    **kwargs: Any) -> tuple[LoopbackServer, Any]:
    """Run one request against a server scripted with ``fault``; the answer or the exception."""
    async with LoopbackServer(script=[fault], **kwargs) as server:
        async with client_for(server, timeout) as client:
            try:
                return server, await chat(client)
            except (openai.OpenAIError, ValueError) as exc:
                return server, exc


async def test_ok_answer_and_raw_response_headers(
    served: tuple[LoopbackServer, openai.AsyncOpenAI],
) -> None:
    server, client = served
    raw = await client.chat.completions.with_raw_response.create(
        model="test-model", messages=MESSAGES)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"] == "req_loopback_0"
    answer = raw.parse()
    assert answer.model == "test-model"
    assert answer.choices[0].message.content == "ok"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == len(MESSAGES[0]["content"]) // 4
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    [record] = server.log
    assert (record.index, record.fault, record.status, record.body) == (
        0, "ok", 200, {"model": "test-model", "messages": MESSAGES})
    assert record.finished is not None and record.finished >= record.arrived


async def test_json_schema_gets_a_minimal_valid_instance(
    served: tuple[LoopbackServer, openai.AsyncOpenAI],
) -> None:
    _, client = served
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "pages": {"type": "integer"},
            "score": {"type": "number"},
            "draft": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string", "enum": ["invoice", "letter"]},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "maybe": {"type": ["integer", "null"]},
            "author": {"$ref": "#/$defs/Person"},
        },
        "$defs": {"Person": {"type": "object", "properties": {"name": {"type": "string"}}}},
    }
    fmt: Any = {"type": "json_schema",
                "json_schema": {"name": "doc", "schema": schema, "strict": True}}
    answer = await chat(client, response_format=fmt)
    assert json.loads(answer.choices[0].message.content or "") == {
        "title": "", "pages": 0, "score": 0, "draft": False, "tags": [], "kind": "invoice",
        "note": None, "maybe": None, "author": {"name": ""},
    }
    assert minimal_instance({"const": 3}) == 3


@pytest.mark.parametrize(
    ("header", "wait", "name", "value"),
    [
        ("retry-after", 1.2, "retry-after", "2"),
        ("retry-after-ms", 0.25, "retry-after-ms", "250"),
        ("reset-requests", 90.5, "x-ratelimit-reset-requests", "1m30.5s"),
        ("reset-tokens", 0.25, "x-ratelimit-reset-tokens", "250ms"),
        ("none", 1.0, None, None),
    ],
)
async def test_rate_limited_carries_exactly_one_wait_header(
    header: Any, wait: float, name: str | None, value: str | None,
) -> None:
    _, exc = await one_fault(Fault.rate_limited(header, wait))
    assert isinstance(exc, openai.RateLimitError)
    assert (exc.status_code, exc.code, exc.type) == (429, "rate_limit_exceeded", "requests")
    present = {h: exc.response.headers[h] for h in WAIT_HEADERS if h in exc.response.headers}
    assert present == ({name: value} if name else {})


def test_openai_duration_format() -> None:
    assert [openai_duration(s) for s in (0, 0.25, 1, 17.614, 90.5, 360, 3723)] == [
        "0ms", "250ms", "1s", "17.614s", "1m30.5s", "6m0s", "1h2m3s"]


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (Fault.server_error(500), openai.InternalServerError, None),
        (Fault.server_error(502), openai.InternalServerError, None),
        (Fault.server_error(503), openai.InternalServerError, None),
        (Fault.auth_failed(), openai.AuthenticationError, "invalid_api_key"),
        (Fault.insufficient_quota(), openai.RateLimitError, "insufficient_quota"),
        (Fault.model_not_found(), openai.NotFoundError, "model_not_found"),
        (Fault.context_too_long(), openai.BadRequestError, "context_length_exceeded"),
    ],
)
async def test_error_faults_map_to_sdk_exceptions(
    fault: Fault, error: type[openai.APIStatusError], code: str | None,
) -> None:
    server, exc = await one_fault(fault)
    assert type(exc) is error
    assert exc.status_code == fault.status
    assert exc.code == code
    assert isinstance(exc.body, dict) and exc.body["code"] == code  # the SDK unwraps {"error": ...}
    assert server.status_counts == {fault.status: 1}


async def test_drop_is_a_connection_error() -> None:
    server, exc = await one_fault(Fault.drop())
    assert type(exc) is openai.APIConnectionError
    assert server.log[0].status == "dropped"


async def test_hang_is_a_client_timeout_and_close_ends_it() -> None:
    server, exc = await one_fault(Fault.hang(30), timeout=0.3)
    assert type(exc) is openai.APITimeoutError
    hung = server.log[0]
    assert hung.status == "hung" and server.in_flight == 0
    assert hung.finished is not None and hung.finished < hung.arrived + 30  # close() cut it


async def answered_first(slow: Fault) -> str:
    """Which of two requests answers first: one scripted ``slow``, or a plain one sent after
    it had arrived. Order, not a stopwatch, shows the server took its time."""
    order: list[str] = []
    async with LoopbackServer(script=[slow, Fault.ok()]) as server:
        async with client_for(server) as client:

            async def ask(name: str) -> None:
                assert (await chat(client)).choices[0].message.content == "ok"
                order.append(name)

            first = asyncio.create_task(ask("slow"))
            for _ in range(500):  # until the slow one is in (a few ms), at most ~5 s
                if server.requests_total:
                    break
                await asyncio.sleep(0.01)
            await ask("plain")
            await first
    return order[0]


async def test_content_faults() -> None:
    _, malformed = await one_fault(Fault.malformed())
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.choices[0].message.content)
    _, empty = await one_fault(Fault.empty())
    assert empty.choices[0].message.content == ""
    _, cut = await one_fault(Fault.truncated(), responder=lambda body: "abcdefgh")
    assert (cut.choices[0].finish_reason, cut.choices[0].message.content) == ("length", "abcd")


async def test_broken_body_escapes_the_sdk_as_a_plain_json_error() -> None:
    # The SDK calls response.json() unguarded: a truncated 200 body is not an openai.APIError.
    _, exc = await one_fault(Fault.broken_body())
    assert type(exc) is json.JSONDecodeError


async def test_latency_and_responder_errors() -> None:
    assert await answered_first(Fault.ok(latency=1.0)) == "plain"

    def broken(body: dict[str, Any]) -> str:
        raise KeyError("oops")

    _, exc = await one_fault(Fault.ok(), responder=broken)
    assert isinstance(exc, openai.InternalServerError) and "responder raised" in exc.message


async def test_script_list_then_default_and_callable_script() -> None:
    script_list = [Fault.server_error(), Fault.empty()]
    async with LoopbackServer(script=script_list, default=Fault.auth_failed()) as server:
        async with client_for(server) as client:
            with pytest.raises(openai.InternalServerError):
                await chat(client)
            assert (await chat(client)).choices[0].message.content == ""
            with pytest.raises(openai.AuthenticationError):
                await chat(client)

    seen: list[RequestInfo] = []

    def script(info: RequestInfo) -> Fault:
        seen.append(info)
        return Fault.ok() if info.index % 2 else Fault.server_error(502)

    async with LoopbackServer(script=script) as server:
        async with client_for(server) as client:
            with pytest.raises(openai.InternalServerError):
                await chat(client)
            await chat(client)
    assert [(i.index, i.body["model"]) for i in seen] == [(0, "test-model"), (1, "test-model")]
    assert seen[0].headers["authorization"] == "Bearer k"
    assert seen[0].arrived < seen[1].arrived


async def test_keep_alive_serves_sequential_requests_on_one_connection(
    served: tuple[LoopbackServer, openai.AsyncOpenAI],
) -> None:
    server, client = served
    for _ in range(50):
        assert (await chat(client)).choices[0].message.content == "ok"
    assert server.connections_total == 1
    assert server.status_counts == {200: 50}


async def test_concurrent_requests_are_counted_in_flight() -> None:
    async with LoopbackServer(default=Fault.ok(latency=0.2)) as server:
        async with client_for(server) as client:
            await asyncio.gather(*(chat(client) for _ in range(20)))
            assert (server.max_in_flight, server.in_flight) == (20, 0)
            server.reset_stats()
            assert (server.max_in_flight, server.log, server.status_counts) == (0, [], {})
            await chat(client)
            assert server.max_in_flight == 1 and len(server.log) == 1


async def test_server_rate_limit_refuses_the_excess_with_headers() -> None:
    async with LoopbackServer(rate_limit=(5, 1.0)) as server:
        async with client_for(server) as client:
            outcomes: list[Any] = []
            for _ in range(8):
                try:
                    outcomes.append(await client.chat.completions.with_raw_response.create(
                        model="m", messages=MESSAGES))
                except openai.RateLimitError as exc:
                    outcomes.append(exc)
    ok = [o for o in outcomes if not isinstance(o, openai.RateLimitError)]
    refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert len(ok) == 5 and len(refused) == 3 and outcomes[5:] == refused
    assert [o.headers["x-ratelimit-remaining-requests"] for o in ok] == ["4", "3", "2", "1", "0"]
    for refusal in refused:
        headers = refusal.response.headers
        assert refusal.code == "rate_limit_exceeded"
        assert headers["x-ratelimit-limit-requests"] == "5"
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert 0 < int(headers["retry-after-ms"]) <= 1000
        # reset = until the budget is full again (the newest entry leaves): about the window;
        # retry-after-ms = until one slot frees, which is sooner.
        reset = parse_duration(headers["x-ratelimit-reset-requests"])
        assert reset is not None and 0.9 <= reset <= 1.0
        assert int(headers["retry-after-ms"]) / 1000 <= reset
    assert server.status_counts == {200: 5, 429: 3}


async def test_waiting_the_advertised_retry_after_ms_gets_through() -> None:
    async with LoopbackServer(rate_limit=(2, 0.6)) as server:
        async with client_for(server) as client:
            await chat(client)
            await chat(client)
            await asyncio.sleep(0.15)  # margin: the refused request leaves the window 0.15 s later
            with pytest.raises(openai.RateLimitError) as refused:
                await chat(client)
            await asyncio.sleep(int(refused.value.response.headers["retry-after-ms"]) / 1000)
            raw = await client.chat.completions.with_raw_response.create(
                model="m", messages=MESSAGES)
            assert raw.headers["x-ratelimit-remaining-requests"] == "0"  # the refusal still counts
            with pytest.raises(openai.RateLimitError):
                await chat(client)
    assert server.status_counts == {200: 3, 429: 2}


async def test_quantised_limit_holds_one_second_and_reports_from_its_bucket() -> None:
    # 120 per minute, enforced as a bucket of 2 refilled at 2 per second.
    async with LoopbackServer(rate_limit=(120, 60.0), limiter="quantised") as server:
        async with client_for(server) as client:
            outcomes: list[Any] = []
            for _ in range(4):
                try:
                    outcomes.append(await client.chat.completions.with_raw_response.create(
                        model="m", messages=MESSAGES))
                except openai.RateLimitError as exc:
                    outcomes.append(exc)
            await asyncio.sleep(1.2)  # the refused pair took their tokens too: ~1 s of debt
            with pytest.raises(openai.RateLimitError):
                await chat(client)
    ok, refused = outcomes[:2], outcomes[2:]
    assert all(isinstance(o, openai.RateLimitError) for o in refused)
    assert [o.headers["x-ratelimit-limit-requests"] for o in ok] == ["120", "120"]
    assert [o.headers["x-ratelimit-remaining-requests"] for o in ok] == ["1", "0"]
    reset = parse_duration(ok[1].headers["x-ratelimit-reset-requests"])
    assert reset is not None and 0.9 <= reset <= 1.05  # two tokens at 2 per second
    wait = int(refused[0].response.headers["retry-after-ms"])
    assert 400 <= wait <= 1100
    assert server.status_counts == {200: 2, 429: 3}


async def test_hostile_headers_usage_and_padding() -> None:
    fault = Fault.hostile(Fault.rate_limited("none"), headers={"retry-after-ms": "-5"})
    _, exc = await one_fault(fault)
    assert isinstance(exc, openai.RateLimitError)
    assert exc.response.headers["retry-after-ms"] == "-5"
    for usage in ("lots", [1, 2], {"prompt_tokens": 2 ** 70, "completion_tokens": 1}):
        async with LoopbackServer(script=[Fault.hostile(usage=usage)]) as server:
            async with client_for(server) as client:
                raw = await client.chat.completions.with_raw_response.create(
                    model="m", messages=MESSAGES)
        assert json.loads(raw.http_response.text)["usage"] == usage
    async with LoopbackServer(script=[Fault.hostile(usage=None)]) as server:
        async with client_for(server) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="m", messages=MESSAGES)
    assert "usage" not in json.loads(raw.http_response.text)
    _, padded = await one_fault(Fault.hostile(body_bytes=3 * 1024 * 1024))
    content = padded.choices[0].message.content
    assert len(content) > 3 * 1024 * 1024 - 1000 and content.strip() == "ok"


async def test_a_dripped_body_arrives_whole_after_its_time() -> None:
    _, answer = await one_fault(Fault.hostile(drip_s=0.2))
    assert answer.choices[0].message.content == "ok"
    assert await answered_first(Fault.hostile(drip_s=1.0)) == "plain"


async def test_binds_to_loopback_only_and_serves_models() -> None:
    async with LoopbackServer() as server:
        host, port = server.address
        assert host == "127.0.0.1" and port > 0
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        async with client_for(server) as client:
            models = await client.models.list()
            assert [m.id for m in models.data] == ["loopback-1"]


async def raw_exchange(server: LoopbackServer, data: bytes) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection(*server.address)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()


async def test_raw_http_framing() -> None:
    body = json.dumps({"model": "m", "messages": MESSAGES}).encode()
    post = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)
    async with LoopbackServer() as server:
        # Two requests on one connection; the second asks to close, and the server does.
        last = post.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
        replies = await raw_exchange(server, post + last)
        assert replies.count(b"HTTP/1.1 200 OK") == 2
        assert b"connection: close" in replies.split(b"HTTP/1.1 200 OK")[2]

        not_found = await raw_exchange(
            server, b"GET /v1/nope HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert not_found.startswith(b"HTTP/1.1 404 ")
        error = json.loads(not_found.split(b"\r\n\r\n", 1)[1])["error"]
        assert error["message"] == "Invalid URL (GET /v1/nope)"

        huge_header = b"GET /v1/models HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
        assert (await raw_exchange(server, huge_header)).startswith(b"HTTP/1.1 431 ")
        too_big = b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 17000000\r\n\r\n"
        assert (await raw_exchange(server, too_big)).startswith(b"HTTP/1.1 413 ")
        bad_json = (b"POST /v1/chat/completions HTTP/1.1\r\n"
                    b"Content-Length: 3\r\nConnection: close\r\n\r\n{x}")
        assert (await raw_exchange(server, bad_json)).startswith(b"HTTP/1.1 400 ")


async def test_request_cap_answers_503() -> None:
    async with LoopbackServer(max_requests=2) as server:
        async with client_for(server) as client:
            await chat(client)
            await chat(client)
            with pytest.raises(openai.InternalServerError) as capped:
                await chat(client)
    assert capped.value.status_code == 503
    assert len(server.log) == 2 and server.status_counts == {200: 2, 503: 1}


async def test_lifetime_closes_the_server() -> None:
    server = LoopbackServer(max_lifetime_s=0.2)
    await server.start()
    url = server.base_url
    await asyncio.wait_for(server.wait_closed(), 3)
    async with openai.AsyncOpenAI(base_url=url, api_key="k", max_retries=0, timeout=2) as client:
        with pytest.raises(openai.APIConnectionError):
            await client.models.list()
    await server.close()  # idempotent


async def test_close_leaves_no_tasks_behind() -> None:
    before = asyncio.all_tasks()
    server = LoopbackServer(script=[Fault.ok(), Fault.hang(30)])
    await server.start()
    async with client_for(server, timeout=0.3) as client:
        await chat(client)
        with pytest.raises(openai.APITimeoutError):
            await chat(client)
        idle = await asyncio.open_connection(*server.address)  # an open, silent connection
        await server.close()
        idle[1].close()
    assert asyncio.all_tasks() - before == set()
    assert server.in_flight == 0


async def test_command_line_mode() -> None:
    script = Path(__file__).with_name("loopback.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "--port", "0", "--latency", "0.01",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        assert line.startswith("READY http://127.0.0.1:") and line.endswith("/v1")
        base_url = line.split()[1]
        async with openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0,
                                      timeout=5) as client:
            answer = await client.chat.completions.create(model="m", messages=MESSAGES)
        assert answer.choices[0].message.content == "ok"
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
        stats = json.loads((await proc.stderr.read()).decode().strip().splitlines()[-1])
        assert stats["requests"] == 1 and stats["status_counts"] == {"200": 1}
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
