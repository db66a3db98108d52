"""Fail fast, with the reason (issue 13, item 2).

A server that cannot work ends the run after at most two requests, with one line naming the
endpoint and the server's own message; the first request goes alone (slow start); a breaker
probe never spends a chunk's attempts; every failure reason is counted for the end of run.
Before: ``--base-url http://127.0.0.1:9/v1`` took 7 min 32 s to fail 7 chunks, and a server
answering every request with the same HTTP 500 was retried 28 times.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from clikit import cli_env, run_cli
from enginekit import FAST, Recorder, engine_for, items, run_over
from loopback import Fault, LoopbackServer, RequestInfo

from extractor_tui.core.dispatch import GateConfig
from extractor_tui.core.events import AttemptStarted, ChunkCancelled
from extractor_tui.core.failfast import endpoint_label
from extractor_tui.core.model import ChunkStatus

__all__ = ["cli_env"]

REFUSAL = "llama_decode failed: KV cache is full"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_nothing_listening_ends_the_run_after_two_attempts_naming_the_endpoint() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result, rec = await run_over(url, items(7), replace(FAST, retries=4))
    assert len(rec.of(AttemptStarted)) == 2
    assert result.fatal is not None
    assert result.fatal.startswith(f"{url}: cannot connect:") and "\n" not in result.fatal
    assert result.count(ChunkStatus.FAILED) == 1 and result.count(ChunkStatus.CANCELLED) == 6
    cancelled = rec.of(ChunkCancelled)
    assert all(e.reason == f"not sent: {result.fatal}" for e in cancelled)  # type: ignore[attr-defined]


async def test_the_same_5xx_twice_before_any_answer_ends_the_run_with_its_message() -> None:
    async with LoopbackServer(default=Fault.server_error(500, message=REFUSAL)) as server:
        url = server.base_url
        result, _ = await run_over(url, items(7), replace(FAST, retries=4))
    assert len(server.log) == 2
    assert result.fatal == (f"{url}: 500 server error: {REFUSAL} "
                            "(twice, and nothing has succeeded)")


async def test_different_failures_are_retried_as_usual() -> None:
    def script(info: RequestInfo) -> Fault:
        if info.index < 4:
            return Fault.server_error(500, message=f"out of memory at step {info.index}")
        return Fault.ok()

    async with LoopbackServer(script=script) as server:
        result, _ = await run_over(server.base_url, items(3), replace(FAST, retries=4))
    assert result.fatal is None and result.count(ChunkStatus.COMPLETED) == 3


async def test_after_one_answer_the_same_5xx_is_an_ordinary_transient_error() -> None:
    script = [Fault.ok()] + [Fault.server_error(500, message=REFUSAL)] * 4
    async with LoopbackServer(script=script) as server:
        result, _ = await run_over(server.base_url, items(3), replace(FAST, retries=4))
    assert result.fatal is None and result.count(ChunkStatus.COMPLETED) == 3


async def test_a_fatal_error_names_the_endpoint() -> None:
    async with LoopbackServer(default=Fault.auth_failed()) as server:
        url = server.base_url
        result, _ = await run_over(url, items(3))
    assert result.fatal is not None
    assert result.fatal.startswith(f"{url}: 401 the API key was refused")
    assert len(server.log) == 1


async def test_the_first_request_goes_alone_then_the_run_fans_out() -> None:
    async with LoopbackServer(default=Fault.ok(latency=0.05)) as server:
        result, _ = await run_over(server.base_url, items(30), replace(FAST, concurrency=10))
    assert result.count(ChunkStatus.COMPLETED) == 30
    first, second = server.log[0], server.log[1]
    assert first.finished is not None and second.arrived >= first.finished
    assert server.max_in_flight == 10


async def test_a_breaker_probe_never_spends_a_chunks_attempts() -> None:
    # After one answer, eight failures, each with its own message (so nothing fails fast):
    # shared by two chunks, at least one would see four, over its three attempts, if the
    # breaker's probes counted.
    def script(info: RequestInfo) -> Fault:
        if 1 <= info.index <= 8:
            return Fault.server_error(503, message=f"overloaded ({info.index})")
        return Fault.ok()

    breaker = GateConfig(breaker_window=4, breaker_min_calls=2, breaker_failure_ratio=0.5,
                         breaker_open_for=0.02, breaker_open_cap=0.05)
    async with LoopbackServer(script=script) as server:
        rec = Recorder()
        engine = engine_for(server.base_url, rec, replace(FAST, concurrency=2, retries=3,
                                                          gate=breaker))
        try:
            result = await engine.run(items(3))
        finally:
            await engine.aclose()
    assert len(server.log) == 11
    assert result.count(ChunkStatus.COMPLETED) == 3, [o.message for o in result.outcomes]


def test_the_cli_stops_with_one_line_and_exit_2(cli_env: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    done = run_cli(["run", "sample_docs/invoices", "--preset", "invoice", "--base-url", url,
                    "--api-key", "sk-test", "--retries", "5"], capsys)
    assert done.code == 2
    stopped = [line for line in done.err.splitlines() if line.startswith("stopped:")]
    assert stopped == [f"stopped: {url}: cannot connect: Connect call failed "
                       f"('127.0.0.1', {url.rsplit(':', 1)[1].split('/')[0]}) "
                       "(twice, and nothing has succeeded)"]


@pytest.mark.parametrize(("url", "label"), [
    ("http://127.0.0.1:9/v1/", "http://127.0.0.1:9/v1"),
    ("https://user:secret@api.example.com/v1?api-key=k#x", "https://api.example.com/v1"),
    ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
    ("offline", "offline"),
])
def test_the_endpoint_is_named_without_credentials(url: str, label: str) -> None:
    assert endpoint_label(url) == label
