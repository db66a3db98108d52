"""The HTTP transport under the SDK, seen through ``OpenAIClient``: both transports (aiohttp,
the default, and the SDK's own httpx2) must turn every way a server can misbehave into the
same ``ProviderError`` with a message that names the real cause, and send the same request.

Found with these servers: the SDK's own ``DefaultAioHttpClient`` lets a malformed response
escape as ``aiohttp.ClientResponseError`` and reports a refused or dropped connection as a
timeout; ``transport.py`` exists because of it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import pytest
from enginekit import FIELDS, items
from loopback import Fault, LoopbackServer, completion_envelope

from extractor_tui.core.llm.base import LLMRequest
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.prompts import make_request
from extractor_tui.errors import ProviderError, TransientError

Transport = Literal["aiohttp", "httpx2"]
TRANSPORTS: tuple[Transport, ...] = ("aiohttp", "httpx2")
ANSWER = json.dumps({"total": [], "parties": []})


def request() -> LLMRequest:
    item = items(1)[0]
    return make_request(fields=FIELDS, chunk_text=item.text, model="m", key=item.key)


def ok_response(extra_head: bytes = b"", body: bytes | None = None) -> bytes:
    payload = body if body is not None else json.dumps(
        completion_envelope({"model": "m"}, ANSWER, "stop", 0)).encode()
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + extra_head
            + b"content-length: %d\r\n\r\n" % len(payload) + payload)


@asynccontextmanager
async def raw_server(reply: Callable[[bytes], bytes],
                     seen: list[bytes] | None = None) -> AsyncIterator[str]:
    """A one-shot TCP server on 127.0.0.1 that answers each request with fixed bytes."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            body = await asyncio.wait_for(reader.readexactly(length), 5.0)
            if seen is not None:
                seen.append(head + body)
            writer.write(reply(head + body))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        await server.wait_closed()


async def outcome(base_url: str, transport: Transport, timeout: float = 2.0) -> object:
    client = OpenAIClient(base_url=base_url, api_key="sk-test", timeout=timeout,
                          transport=transport)
    try:
        return await client.complete(request(), timeout)
    except ProviderError as exc:
        return exc
    finally:
        await client.aclose()


BROKEN = {
    "not HTTP at all": b"garbage\r\n\r\n",
    "a status code out of range": b"HTTP/1.1 2000 OK\r\n\r\n",
    "a header line without a colon":
        b"HTTP/1.1 200 OK\r\nBad Header\r\ncontent-length: 2\r\n\r\n{}",
    "a broken chunk size": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    "a body shorter than its length": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
    "a body that is not gzip": ok_response(b"content-encoding: gzip\r\n", b"abcde"),
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_a_malformed_response_is_a_transient_connection_error(transport: Transport,
                                                                    case: str) -> None:
    async with raw_server(lambda _request: BROKEN[case]) as url:
        result = await outcome(url, transport)
    assert isinstance(result, TransientError), result
    assert result.message.startswith("connection failed:"), result.message
    assert "\n" not in result.message


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_dropped_or_refused_connection_is_not_called_a_timeout(
        transport: Transport) -> None:
    async with LoopbackServer(script=[Fault.drop()]) as server:
        dropped = await outcome(server.base_url, transport)
    async with raw_server(lambda _request: b"") as url:
        pass  # the port is closed again: nothing listens there now
    refused = await outcome(url, transport)
    assert isinstance(dropped, TransientError), dropped
    assert dropped.message.startswith("connection failed:"), dropped.message
    assert isinstance(refused, TransientError), refused
    assert refused.message.startswith("cannot connect:"), refused.message
    assert refused.fingerprint == refused.message and dropped.fingerprint is None


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_hang_past_the_time_limit_is_a_timeout(transport: Transport) -> None:
    async with LoopbackServer(script=[Fault.hang(5.0)]) as server:
        result = await outcome(server.base_url, transport, timeout=0.3)
    assert isinstance(result, TransientError) and "no answer within 0.3 s" in result.message


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_both_transports_send_the_same_request_and_read_the_same_answer(
        transport: Transport) -> None:
    seen: list[bytes] = []
    body = gzip.compress(json.dumps(completion_envelope({"model": "m"}, ANSWER, "stop", 0))
                         .encode())
    reply = ok_response(b"content-encoding: gzip\r\nx-ratelimit-remaining-requests: 7\r\n"
                        b"x-request-id: req_1\r\n", body)
    async with raw_server(lambda _request: reply, seen) as url:
        answer = await outcome(url, transport)
    assert not isinstance(answer, ProviderError), answer
    assert answer.content == ANSWER and answer.request_id == "req_1"  # type: ignore[attr-defined]
    assert answer.headers["x-ratelimit-remaining-requests"] == "7"  # type: ignore[attr-defined]
    head, _, sent = seen[0].partition(b"\r\n\r\n")
    lines = head.decode().lower().split("\r\n")
    assert lines[0] == "post /v1/chat/completions http/1.1"
    assert "authorization: bearer sk-test" in lines
    assert "content-type: application/json" in lines
    assert any(line.startswith("user-agent: asyncopenai/python") for line in lines)
    wanted = request()
    assert json.loads(sent) == {"model": "m", "messages": list(wanted.messages),
                                "response_format": dict(wanted.response_format)}


def test_one_client_serves_runs_on_different_event_loops() -> None:
    """The app and the CLI may run a client on a new loop (aiohttp binds its pool to one)."""
    script = Path(__file__).with_name("loopback.py")
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--lifetime", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[1]
        client = OpenAIClient(base_url=base_url, api_key="k", timeout=5.0)
        for _ in range(2):
            answer = asyncio.run(client.complete(request(), 5.0))
            assert answer.finish_reason == "stop"
        asyncio.run(client.aclose())
    finally:
        proc.terminate()
        proc.wait(5)


def test_every_client_shares_one_tls_context_per_verify_setting() -> None:
    """Loading the CA bundle costs tens of milliseconds; a new client (each run, each settings
    change in the app) must not pay it again."""
    from extractor_tui.core.llm.transport import AiohttpTransport

    first, second = AiohttpTransport(), AiohttpTransport()
    assert first._ssl is second._ssl
    assert first._ssl.verify_mode.name == "CERT_REQUIRED"
    unverified = AiohttpTransport(verify=False)
    assert unverified._ssl is not first._ssl
    assert unverified._ssl.verify_mode.name == "CERT_NONE"
