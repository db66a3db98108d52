"""The Job's verbs about how and how much is sent: the Batch API hand-off, the cost cap
(``--max-cost``) and urgent work (``--priority``).

A mixin of ``Job`` (``job.py``), kept apart so the Job's file stays about documents, runs
and results; these verbs use the Job's session, engine and sink and nothing else. The
attributes it relies on are declared here, so the type checker holds the Job to them.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

from extractor_tui.config import Settings
from extractor_tui.core.batch import (
    BatchEndpoint,
    BatchLimits,
    BatchResult,
    BatchRunner,
    ChatWire,
    PollPolicy,
    batch_service,
)
from extractor_tui.core.clock import Clock
from extractor_tui.core.cost_cap import CostCap
from extractor_tui.core.engine import Engine
from extractor_tui.core.events import Event, RequestPlanned, RunFinished, RunStarted
from extractor_tui.core.llm.base import Client
from extractor_tui.core.model import ChunkId, ChunkOutcome, ChunkStatus, RunResult, Usage, WorkItem
from extractor_tui.core.session import Session
from extractor_tui.core.verification import Verification
from extractor_tui.core.session_marks import UrgentMarks
from extractor_tui.errors import ConfigError, SessionWriteError
from extractor_tui.core.steps import Steps, finish_async

__all__ = ["JobSpending"]


class _Job(Protocol):
    """What these verbs use of the Job (``job.py`` has it all)."""

    settings: Settings
    session: Session
    engine: Engine
    clock: Clock
    outcomes: dict[ChunkId, ChunkOutcome]
    _epoch: int
    elapsed: float
    last_run: RunResult | None
    batch_runner: BatchRunner | None
    pause_at_cap: bool
    verification: Verification
    _inner: Client | None  # the one endpoint's client; None with [[endpoints]]

    @property
    def provider(self) -> str: ...
    def _emit(self, event: Event) -> None: ...
    def _pending_steps(self) -> Steps[tuple[list[WorkItem], list[WorkItem]]]: ...
    def _interrupted(self, started: float) -> None: ...
    async def _send(self, items: Sequence[WorkItem]) -> RunResult: ...
    def _store_steps(self, doc_ids: Iterable[int]) -> Steps[None]: ...
    def _prompt_overhead(self) -> int: ...
    def _batch_endpoint(self) -> BatchEndpoint: ...
    def _urgent_first(self, items: list[WorkItem]) -> list[WorkItem]: ...
    def urgency(self) -> Callable[[WorkItem], bool] | None: ...
    def _arm_cap(self, items: Sequence[WorkItem]) -> CostCap | None: ...
    async def _after_batches(self, result: BatchResult, started: float) -> RunResult: ...
    def spent_usd(self) -> float | None: ...
    def cost(self, prompt_tokens: int, completion_tokens: int, *,
             batch: bool = False, stage: str = "extract") -> float | None: ...
    def _stage_model(self, stage: str) -> str: ...
    def _stage_models(self) -> dict[str, str]: ...
    def _extract_status_steps(self) -> Steps[None]: ...
    def _verify_pending(self) -> list[WorkItem]: ...


class JobSpending:
    """Batch runs, the cost cap and priorities, on top of the Job's own state."""

    batch_runner: BatchRunner | None  # while run_batch waits on batches
    pause_at_cap: bool  # the app: a run at the cap pauses and asks to raise it
    last_run: RunResult | None

    # -- the Batch API -------------------------------------------------------------------

    async def run_batch(self: _Job) -> RunResult:
        """Send every pending chunk through the endpoint's Batch API (``batch.py``), wait
        for the batches and collect them; resumes the batches a killed run left. What must
        go live (``batch_fallback = "direct"``) is sent live after."""
        endpoint = self._batch_endpoint()
        settings = self.settings
        # with those in a live batch too: the runner resumes those batches
        waiting, _ = await finish_async(self._pending_steps())
        items = self._urgent_first(waiting)
        cap = self._arm_cap(items)
        runner = self.batch_runner = BatchRunner(
            self.engine, self.session.batches, endpoint, sink=self._emit, clock=self.clock,
            poll=PollPolicy(settings.batch_poll_s, 1.5, settings.batch_poll_max_s),
            fallback=settings.batch_fallback, rounds=settings.retries,
            invalid_retries=settings.invalid_retries, cap=cap)
        started = self.clock.now()
        self._emit(RunStarted(len(items), 0, self.provider, settings.model, started))
        for item in items:
            self._emit(RequestPlanned(item.id, item.document, item.pages, item.tokens,
                                      started, (item.start, item.end), item.key))
        try:
            result = await runner.run(items)
        except (asyncio.CancelledError, SessionWriteError):
            self._interrupted(started)
            raise
        finally:
            self.batch_runner = None
            await endpoint.service.aclose()
        self._emit(RunFinished(sum(1 for o in result.outcomes
                                   if o.status is ChunkStatus.COMPLETED),
                               sum(1 for o in result.outcomes if o.status is ChunkStatus.FAILED),
                               0, self.clock.now(), result.stopped))
        done = await self._after_batches(result, started)
        if (self.verification.enabled and not done.fatal and not done.cancelled
                and not done.budget):
            # The verify stage goes live: its requests exist only once extraction is done.
            await finish_async(self._extract_status_steps())
            pending = self._verify_pending()
            if pending:
                return RunResult.joined([done, await self._send(pending)])
        return done

    async def _after_batches(self: _Job, result: BatchResult, started: float) -> RunResult:
        for outcome in result.outcomes:
            self.outcomes[outcome.item.id] = outcome
        self._epoch += 1
        self.elapsed += self.clock.now() - started
        outcomes = {o.item.id: o for o in result.outcomes}
        fatal, cancelled, budget = result.stopped, result.cancelled, result.budget
        if result.live and budget is None:
            live = await self._send(result.live)
            outcomes.update((o.item.id, o) for o in live.outcomes)
            fatal, cancelled = fatal or live.fatal, cancelled or live.cancelled
            budget = live.budget
        await finish_async(self._store_steps({chunk.doc for chunk in outcomes}))
        ordered = sorted(outcomes, key=ChunkId.order)
        ended = RunResult(tuple(outcomes[key] for key in ordered), fatal, cancelled,
                          self.clock.now() - started, budget=budget)
        self.last_run = ended
        return ended

    def _batch_endpoint(self: _Job) -> BatchEndpoint:
        """The endpoint a batch belongs to: the first of the pool that serves the model
        (its client, negotiated mode and name), with its Batch API and limits."""
        if self._inner is None:
            raise ConfigError("--batch sends to one endpoint: give it with --base-url (or "
                              "OPENAI_BASE_URL), not as the config file's [[endpoints]]")
        if self.provider == "offline" or not isinstance(self._inner, ChatWire):
            raise ConfigError("--batch needs an OpenAI-compatible endpoint with a Batch API; "
                              "the built-in offline provider has none")
        settings = self.settings
        limits = BatchLimits(settings.batch_max_requests, int(settings.batch_max_mb * 1e6))
        return BatchEndpoint(self.engine.primary("extract"), self._inner,
                             batch_service(settings), limits)

    # -- the cost cap --------------------------------------------------------------------

    def spent_usd(self: _Job) -> float | None:
        """What the session's calls cost so far: live ones at the live price, Batch API
        lines at the batch price, a later stage's requests at its model's price; None when
        a price is unknown."""
        total = self.session.spent_tokens()
        _, prompt, completion = self.session.batches.billed()
        costs = [self.cost(max(0, total.prompt - prompt), max(0, total.completion - completion)),
                 self.cost(prompt, completion, batch=True)]
        for stage in self._stage_models():
            used = self.session.stages.spent_tokens(stage)
            costs.append(self.cost(used.prompt, used.completion, stage=stage))
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    def _stage_models(self: _Job) -> dict[str, str]:
        """The later stages a cap prices, with their models: the verify stage's when it is
        on, or when the session holds what its calls cost."""
        if self.verification.enabled or self.session.stages.spent_tokens("verify") != Usage():
            return {"verify": self._stage_model("verify")}
        return {}

    def _arm_cap(self: _Job, items: Sequence[WorkItem]) -> CostCap | None:
        """The cap for a run over ``items`` (None without ``max_cost_usd``); the engine
        checks it before each request. ``ConfigError`` when the model has no price."""
        limit = self.settings.max_cost_usd
        if limit is None:
            self.engine.cost_cap = None
            return None
        overhead = self._prompt_overhead()
        most = self.engine.max_tokens  # every request carries it: no answer runs longer
        counted: dict[ChunkId, Usage] = {}
        engine = self.engine

        def estimate(item: WorkItem) -> Usage:
            if item.id.stage == "extract":
                return Usage(item.tokens + overhead, most)
            if item.id not in counted:  # a later stage's request (one a document): counted
                request = engine.request_for(item)
                counted[item.id] = Usage(engine.prompt_tokens(request),
                                         request.max_tokens or most)
            return counted[item.id]

        cap = CostCap.for_model(limit, self.settings.model, self.provider,
                                self.settings.prices, estimate, spent=self.spent_usd() or 0.0,
                                pause=self.pause_at_cap, stage_models=self._stage_models())
        self.engine.cost_cap = cap
        return cap

    def cap_line(self: _Job) -> str:
        """``cost cap: $0.30, $0.12 spent in this session so far``; ``ConfigError`` when the
        model's price is unknown (a cap could not be kept)."""
        limit = self.settings.max_cost_usd
        if limit is None:
            return "no cost cap"
        CostCap.for_model(limit, self.settings.model, self.provider, self.settings.prices,
                          lambda item: Usage(), stage_models=self._stage_models())
        spent = self.spent_usd() or 0.0
        return f"cost cap: ${limit:.2f}, ${spent:.4f} spent in this session so far"

    def raise_cap(self: _Job, limit: float) -> None:
        """A higher cap for the run paused at the old one (the app); it goes on at once."""
        cap = self.engine.cost_cap
        if cap is None:
            return
        cap.raise_to(limit)
        self.settings = self.settings.model_copy(update={"max_cost_usd": limit})
        self.engine.resume()

    # -- urgent work ---------------------------------------------------------------------

    def mark_urgent(self: _Job, paths: Sequence[Path | str] = (),
                    chunks: Sequence[ChunkId] = (), *, urgent: bool = True) -> int:
        """Mark documents (a path, or a folder holding them) and single chunks urgent, or
        not: they are sent first. How many documents and chunks the marks name."""
        wanted = [os.path.abspath(os.path.expanduser(p)) for p in paths]
        docs = [d.id for d in self.session.documents()
                if any(os.path.abspath(d.path) == w
                       or os.path.abspath(d.path).startswith(w.rstrip(os.sep) + os.sep)
                       for w in wanted)]
        self.session.urgent.set(docs, chunks, urgent=urgent)
        return len(docs) + len(chunks)

    def urgency(self: _Job) -> Callable[[WorkItem], bool] | None:
        """Whether a chunk is urgent, as the session's marks say; None without marks."""
        docs, chunks = self.session.urgent.get()
        if not docs and not chunks:
            return None
        return lambda item: UrgentMarks.covers(docs, chunks, item.id)

    def _urgent_first(self: _Job, items: list[WorkItem]) -> list[WorkItem]:
        """``items`` with the urgent ones first (stable); the engine keeps that order for
        every retry too (``engine.urgent``)."""
        urgent = self.engine.urgent = self.urgency()
        if urgent is None:
            return items
        return [i for i in items if urgent(i)] + [i for i in items if not urgent(i)]
