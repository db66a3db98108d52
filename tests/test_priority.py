"""Urgent work goes first: documents marked with ``--priority`` (or single chunks) are sent
before the rest, a retry keeps its priority, the plan says the order, and the marks stay in
the session. Over real HTTP to the loopback server, one request at a time so the order the
server sees is the order of dispatch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clikit import ServerThread, chunk_text, cli_env, model_responder, run_cli
from enginekit import Recorder, engine_for, items

from extractor_tui.cli import EXIT_OK
from extractor_tui.core._engine_run import Queue
from extractor_tui.core.engine import EngineConfig
from extractor_tui.core.events import AttemptStarted
from extractor_tui.core.session import Session

from loopback import Fault, LoopbackServer, RequestInfo

__all__ = ["cli_env"]  # the fixture, imported so pytest finds it
INVOICES = "sample_docs/invoices"
ONE = EngineConfig(concurrency=1, retries=3, timeout=2.0, backoff_base=0.01, backoff_cap=0.02)


def test_the_queue_serves_urgent_work_first_and_retries_keep_their_line() -> None:
    work = items(3, doc=0) + items(3, doc=1)
    queue = Queue(lambda item: item.id.doc == 1)
    for item in work:
        queue.append(item)
    first = queue.popleft()
    assert first.id.doc == 1
    normal = work[0]
    queue.appendleft(normal)  # a normal chunk's retry: ahead of normal ones only
    queue.appendleft(first)  # an urgent chunk's retry: ahead of everything
    order = [queue.popleft().id for _ in range(len(queue))]
    assert order[0] == first.id
    assert [c.doc for c in order] == [1, 1, 1, 0, 0, 0, 0]
    assert order[3] == normal.id


async def test_urgent_chunks_are_sent_first_and_their_retries_too() -> None:
    work = items(4, doc=0) + items(4, doc=1)
    urgent_first = work[4]

    def script(info: RequestInfo) -> Fault:
        return Fault.server_error(500) if info.index == 0 else Fault.ok(0.05)

    async with LoopbackServer(script=script) as server:
        recorder = Recorder()
        engine = engine_for(server.base_url, recorder, ONE)
        engine.urgent = lambda item: item.id.doc == 1
        try:
            await engine.run(work)
        finally:
            await engine.aclose()
    started = [e.id for e in recorder.of(AttemptStarted)]  # type: ignore[attr-defined]
    assert started[0] == urgent_first.id
    assert started.count(urgent_first.id) == 2  # its retry went before every normal chunk
    assert [c.doc for c in started[:5]] == [1] * 5
    assert [c.doc for c in started[5:]] == [0] * 4


def test_priority_sends_a_document_first_and_the_plan_says_so(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = cli_env / "s.sqlite"
    urgent = f"{INVOICES}/mueller-re-2024-0342.txt"
    with ServerThread(responder=model_responder) as srv:
        result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url", srv.base_url,
                          "--api-key", "sk-test", "--session", session, "--concurrency", "1",
                          "--priority", urgent], capsys)
        assert result.code == EXIT_OK, result.err
        assert f"order: 1 urgent chunk(s) first ({urgent}), then 6 other(s)" in result.err
        text = Path(urgent).read_text(encoding="utf-8")
        assert chunk_text(srv.chats()[0].body).strip() in text
    with Session.open(session, read_only=True) as stored:
        docs, _ = stored.urgent.get()
        [doc] = [d for d in stored.documents() if d.id in docs]
        assert doc.path.endswith("mueller-re-2024-0342.txt")


def test_priority_naming_nothing_says_so(cli_env: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(["run", INVOICES, "--preset", "invoice", "--offline", "--priority",
                      "nowhere.txt", "--dry-run"], capsys)
    assert result.code == EXIT_OK
    assert "--priority named no document of this run" in result.err
    assert "order:" not in result.err
