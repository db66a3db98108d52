"""A hostile or broken server, byte by byte on a real socket: it never costs more than it
should and never crashes the run (issue 13, item 7).

Each case was found with the loopback server's hostile faults (``Fault.hostile``): a
``usage`` of the wrong type ended the run with exit 70, a body dripped one byte at a time
outlived ``--timeout`` 30 times over, a 120 MB body took 480 MB of memory.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from typing import Any

import pytest
from enginekit import FAST, FIELDS, items, run_over
from loopback import Fault, LoopbackServer, completion_envelope
from test_transport import TRANSPORTS, Transport, ok_response, outcome, raw_server

from extractor_tui.core.events import AttemptFinished
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.prompts import make_request
from extractor_tui.errors import InvalidOutput, TransientError

BAD_USAGE: list[Any] = [
    "lots", [1, 2], 7, True,
    {"prompt_tokens": 2**63, "completion_tokens": 1},
    {"prompt_tokens": 10, "completion_tokens": -1},
    {"prompt_tokens": "10", "completion_tokens": 1},
    {"prompt_tokens": True, "completion_tokens": 1},
]


@pytest.mark.parametrize("usage", BAD_USAGE, ids=[json.dumps(u)[:30] for u in BAD_USAGE])
async def test_a_malformed_usage_is_invalid_output(usage: Any) -> None:
    async with LoopbackServer(script=[Fault.hostile(usage=usage)]) as server:
        result = await outcome(server.base_url, "aiohttp")
    assert isinstance(result, InvalidOutput), result
    assert "usage" in result.message and result.status == 200


@pytest.mark.parametrize("envelope", [
    [], {"choices": "x"}, {"choices": []}, {"choices": [7]}, {"choices": [{"message": "hi"}]},
    {"choices": [{"message": {"content": 12}}]},
    {"choices": [{"message": {"content": "{}"}, "finish_reason": ["stop"]}]},
])
async def test_any_answer_field_of_the_wrong_type_is_invalid_output(envelope: Any) -> None:
    reply = ok_response(body=json.dumps(envelope).encode())
    async with raw_server(lambda _request: reply) as url:
        result = await outcome(url, "aiohttp")
    assert isinstance(result, InvalidOutput), result


async def test_an_answer_with_a_malformed_usage_is_re_asked_not_a_crash() -> None:
    script = [Fault.hostile(usage={"prompt_tokens": 2**70, "completion_tokens": 3}),
              Fault.hostile(usage="a lot")]
    async with LoopbackServer(script=script) as server:
        result, rec = await run_over(server.base_url, items(1), replace(FAST, concurrency=1))
    assert result.count(ChunkStatus.COMPLETED) == 1
    outcomes = [e.outcome for e in rec.of(AttemptFinished)]  # type: ignore[attr-defined]
    assert outcomes == ["invalid-output", "invalid-output", "ok"]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_timeout_bounds_the_whole_request_body_included(transport: Transport) -> None:
    # Each byte comes well within any read timeout; the whole body takes 3 s.
    async with LoopbackServer(script=[Fault.hostile(drip_s=3.0)]) as server:
        result = await outcome(server.base_url, transport, timeout=0.5)
    assert isinstance(result, TransientError), result
    assert "no answer within 0.5 s" in result.message


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_body_over_the_cap_is_refused_as_invalid_output(transport: Transport) -> None:
    async with LoopbackServer(script=[Fault.hostile(body_bytes=3 * 1024 * 1024)]) as server:
        client = OpenAIClient(base_url=server.base_url, api_key="k", timeout=5.0,
                              transport=transport, max_body_bytes=1024 * 1024)
        try:
            with pytest.raises(InvalidOutput, match="1.0 MB cap"):
                await client.complete(make_request(fields=FIELDS, chunk_text="x", model="m",
                                                   key="k"), 5.0)
        finally:
            await client.aclose()


async def test_a_gzip_bomb_is_refused_before_it_expands() -> None:
    envelope = completion_envelope({"model": "m"}, "{}" + " " * (50 * 1024 * 1024), "stop", 0)
    bomb = gzip.compress(json.dumps(envelope).encode(), compresslevel=9)
    assert len(bomb) < 1024 * 1024  # small on the wire
    reply = ok_response(b"content-encoding: gzip\r\n", bomb)
    async with raw_server(lambda _request: reply) as url:
        result = await outcome(url, "aiohttp")
    assert isinstance(result, InvalidOutput), result
    assert "cap" in result.message
