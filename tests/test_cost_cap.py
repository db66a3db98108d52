"""``--max-cost``: the engine stops sending before what was spent plus what is in flight
would pass the cap, keeps what finished, and says so in one line (exit 1); the same command
with a higher cap goes on and pays nothing twice; a model without a price refuses a cap; in
the app's mode the run pauses at the cap and goes on once it is raised. Over real HTTP to
the loopback server, and through the Batch API hand-off.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from clikit import ServerThread, chunk_text, cli_env, model_responder, run_cli

from chunking import resolve_encoding
from extractor_tui.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.config import Settings, load_settings
from extractor_tui.core.cost_cap import CostCap, budget_line
from extractor_tui.core.events import BudgetReached, Event
from extractor_tui.core.fields import preset
from extractor_tui.core.job import Job
from extractor_tui.core.model import ChunkId, Usage, WorkItem
from extractor_tui.core.session import Session
from extractor_tui.errors import ConfigError

from loopback import Fault, LoopbackServer

INVOICES = "sample_docs/invoices"
__all__ = ["cli_env"]  # the fixture, imported so pytest finds it
BUDGET = re.compile(r"^budget reached: \$(\d+\.\d+) of \$(\d+\.\d+); run again with a higher "
                    r"--max-cost to continue$", re.MULTILINE)


def _spent(session: Path, model: str = "gpt-4o-mini") -> float:
    with Session.open(session, read_only=True) as stored:
        used = stored.spent_tokens()
    settings = load_settings(None, model=model, base_url="http://127.0.0.1:1/v1")
    price = (0.15, 0.60) if settings.model == "gpt-4o-mini" else (0.0, 0.0)
    return (used.prompt * price[0] + used.completion * price[1]) / 1e6


def test_a_capped_run_stops_at_the_cap_and_a_higher_cap_goes_on(
        cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    session = cli_env / "s.sqlite"
    with ServerThread(responder=model_responder) as srv:
        base = ["run", INVOICES, "--preset", "invoice", "--base-url", srv.base_url,
                "--api-key", "sk-test", "--session", session, "--concurrency", "1",
                "--chunk-tokens", "200", "--overlap-tokens", "20"]
        planned = run_cli([*base, "--dry-run"], capsys)
        cost = float(re.findall(r"≈ \$(\d+\.\d+) live", planned.err)[0])
        cap = round(cost / 3, 4)
        first = run_cli([*base, "--max-cost", str(cap)], capsys)
        assert first.code == EXIT_PARTIAL, first.err
        last = first.err.strip().splitlines()[-1]
        found = BUDGET.match(last)
        assert found is not None, first.err
        assert float(found[2]) == pytest.approx(cap, abs=1e-4)
        sent_first = [chunk_text(r.body) for r in srv.chats()]
        assert 0 < len(sent_first) < 32
        spent = _spent(session)
        assert spent <= cap  # hard: each request reserved its worst case until answered
        assert float(found[1]) == pytest.approx(spent, abs=2e-4)
        report = json.loads(first.out)
        assert report["summary"]["failed_chunks"] > 0  # not sent: left for the next run

        second = run_cli([*base, "--max-cost", str(cap * 10)], capsys)
        assert second.code == EXIT_OK, second.err
        assert "cost cap: $" in second.err
        sent_second = [chunk_text(r.body) for r in srv.chats()][len(sent_first):]
        assert not Counter(sent_first) & Counter(sent_second)  # nothing paid twice
        assert len(sent_first) + len(sent_second) == 32


def test_a_model_without_a_price_refuses_a_cap(cli_env: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(responder=model_responder) as srv:
        result = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url", srv.base_url,
                          "--api-key", "sk-test", "--model", "my-local-model",
                          "--max-cost", "1"], capsys)
        assert result.code == EXIT_USAGE
        assert "--max-cost needs the price of my-local-model" in result.err
        assert "[prices]" in result.err and "EXTRACTOR_PRICES" in result.err
        assert srv.chats() == []
        priced = run_cli(["run", INVOICES, "--preset", "invoice", "--base-url", srv.base_url,
                          "--api-key", "sk-test", "--model", "my-local-model",
                          "--max-cost", "1", "--dry-run"], capsys)
        assert priced.code == EXIT_USAGE


def test_the_cap_comes_from_the_environment_and_a_price_from_the_prices_setting(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("EXTRACTOR_MAX_COST_USD", "0.25")
    monkeypatch.setenv("EXTRACTOR_PRICES", '{"my-local-model": [0.5, 1.5]}')
    settings = load_settings(None, model="my-local-model")
    assert settings.max_cost_usd == 0.25
    cap = CostCap.for_model(0.25, "my-local-model", "openai-compatible", settings.prices,
                            lambda item: Usage(100_000, 0))
    assert cap.price == (0.5, 1.5)
    with pytest.raises(ConfigError):
        CostCap.for_model(0.25, "unpriced", "openai-compatible", {}, lambda item: Usage())


def test_the_cap_counts_what_is_in_flight() -> None:
    item = WorkItem(ChunkId(0, 0), "d", "text", 0, 4, (0,), 1, "k0")
    other = WorkItem(ChunkId(0, 1), "d", "text", 4, 8, (0,), 1, "k1")
    cap = CostCap(0.30, (1.0, 0.0), lambda i: Usage(100_000, 0), spent=0.15)
    assert cap.admit(item)  # 0.15 + 0.10 ≤ 0.30
    assert not cap.admit(other)  # 0.15 + 0.10 in flight + 0.10 > 0.30
    cap.settle(item.id, Usage(40_000, 0))  # it cost less than estimated
    assert cap.admit(other) and cap.spent == pytest.approx(0.19)
    assert budget_line(0.29, 0.30) == ("budget reached: $0.29 of $0.30; run again with a "
                                       "higher --max-cost to continue")


async def test_the_app_pauses_at_the_cap_and_goes_on_when_it_is_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    async with LoopbackServer(default=Fault.ok(0.01)) as server:
        settings = Settings(base_url=server.base_url, api_key="sk-test", chunk_tokens=200,
                            overlap_tokens=20, concurrency=1)
        events: list[Event] = []
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, preset("invoice"), session, sink=events.append)
            job.pause_at_cap = True
            await job.add_paths([Path("sample_docs/invoices").resolve()])
            total = len(job.pending())
            # Room for a few requests at their worst case (the answer at max_tokens).
            worst = 0.60 * job.engine.max_tokens / 1e6
            job.settings = settings.model_copy(update={"max_cost_usd": 3 * worst})
            running = asyncio.create_task(job.run())
            for _ in range(1000):
                if any(isinstance(e, BudgetReached) for e in events):
                    break
                await asyncio.sleep(0.01)
            reached = [e for e in events if isinstance(e, BudgetReached)]
            assert reached and reached[0].paused
            assert not running.done()  # paused, not ended
            sent = server.requests_total
            assert 0 < sent < total
            job.raise_cap(1.0)
            result = await asyncio.wait_for(running, 60)
            assert result.budget is None
            assert result.count("completed") == total
            assert server.requests_total == total  # each chunk sent once, paused or not
            assert job.settings.max_cost_usd == 1.0
            await job.aclose()


async def test_batch_submission_stops_at_the_cap(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    async with LoopbackServer(batch=True) as server:
        assert server.batch is not None
        settings = Settings(base_url=server.base_url, api_key="sk-test", chunk_tokens=200,
                            overlap_tokens=20, batch_poll_s=0.01, batch_poll_max_s=0.02)
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, preset("invoice"), session)
            await job.add_paths([Path("sample_docs/invoices").resolve()])
            plan = job.plan()
            assert plan.batch_cost_usd is not None
            cap = plan.batch_cost_usd / 2
            job.settings = settings.model_copy(update={"max_cost_usd": cap})
            result = await job.run_batch()
            batches = list(server.batch.batches.values())
            sizes = [len(batch.lines) for batch in batches]
            # Each line reserved its worst case: the first batch holds fewer than half the
            # chunks; what its lines really cost frees room for the next ones.
            assert 0 < sizes[0] < plan.to_send / 2 and len(sizes) > 1
            assert sum(sizes) < plan.to_send
            assert result.budget is not None and result.budget.startswith("budget reached")
            assert result.count("completed") == sum(sizes)
            spent = job.spent_usd()
            assert spent is not None and spent <= cap  # hard: never past it
            await job.aclose()


def _tiktoken_count(text: str) -> int:
    return len(resolve_encoding("cl100k_base").encoding.encode_ordinary(text))


async def test_answers_at_their_longest_never_carry_the_spend_past_the_cap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer is cut at max_tokens (billed in full), four calls at a time: the worst
    case the cap reserves for each call in flight. The spend stays within the cap."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    async with LoopbackServer(default=Fault.truncated(0.02),
                              token_counter=_tiktoken_count) as server:
        settings = Settings(base_url=server.base_url, api_key="sk-test", chunk_tokens=200,
                            overlap_tokens=20, concurrency=4)
        with Session.open(tmp_path / "s.sqlite") as session:
            job = Job(settings, preset("invoice"), session)
            await job.add_paths([Path("sample_docs/invoices").resolve()])
            worst = 0.60 * job.engine.max_tokens / 1e6
            cap = 5.5 * worst
            job.settings = settings.model_copy(update={"max_cost_usd": cap})
            result = await job.run()
            assert result.budget is not None
            assert server.requests_total >= 4
            spent = job.spent_usd()
            # Stopped when one more call at its worst (answer and prompt) did not fit.
            assert spent is not None and cap - 1.5 * worst < spent <= cap
            await job.aclose()


def test_a_server_that_counts_more_prompt_tokens_raises_every_later_estimate() -> None:
    first = WorkItem(ChunkId(0, 0), "d", "text", 0, 4, (0,), 1, "k0")
    later = WorkItem(ChunkId(0, 1), "d", "text", 4, 8, (0,), 1, "k1")
    cap = CostCap(1.0, (1.0, 0.0), lambda i: Usage(100_000, 0))
    assert cap.admit(first)
    cap.settle(first.id, Usage(150_000, 0))  # the server counted half as much again
    assert cap.scale == pytest.approx(1.5)
    assert cap.worst(later) == Usage(150_000, 0)
    cap.settle(later.id, Usage(50_000, 0, True))  # an estimate of ours teaches nothing
    assert cap.scale == pytest.approx(1.5)


def test_each_stage_is_capped_at_its_own_models_price() -> None:
    chunk = WorkItem(ChunkId(0, 0), "d", "text", 0, 4, (0,), 1, "k0")
    verify = WorkItem(ChunkId(0, 0, stage="verify"), "d", "text", 0, 4, (0,), 1, "v0")
    cap = CostCap.for_model(1.005, "gpt-4o-mini", "openai-compatible",
                            {"checker": (20.0, 0.0)}, lambda item: Usage(50_000, 0),
                            stage_models={"verify": "checker"})
    assert cap.admit(chunk)  # 50k tokens at $0.15 per 1M: $0.0075 reserved
    assert not cap.admit(verify)  # 50k at $20 per 1M: $1.00, and $0.0075 is reserved
    cap.settle(chunk.id, Usage(10_000, 0))  # the chunk cost less: $0.0015
    assert cap.spent == pytest.approx(0.0015)
    assert cap.admit(verify)
    cap.settle(verify.id, Usage(50_000, 0))
    assert cap.spent == pytest.approx(1.0015)
    with pytest.raises(ConfigError, match="unpriced"):
        CostCap.for_model(1.0, "gpt-4o-mini", "openai-compatible", {}, lambda item: Usage(),
                          stage_models={"verify": "unpriced"})
