"""The engine: work items in, one event per fact out, every chunk accounted for.

``Engine.run(items)`` sends one request per work item and owns every retry (the SDK's own
retries are off, so each attempt is visible). Where a request goes is the
``EndpointPool``'s answer (``endpoints.py``): one endpoint, or several routed by model and
weight, each with its own gate and structured-output negotiation. Each error class has its
own budget:

===============  ==========================================================================
back-pressure    429: costs no attempt; the chunk waits its ``Retry-After``, never less
                 than a floor that doubles with each of its 429s (0.5, 1, 2 … s: a
                 ``Retry-After: 0`` made 13,574 requests in 15 s); if the load caused it,
                 the gate's shared cool-down and AIMD too; every wait counts toward the
                 chunk's cap, and a server asking for more than is left of it ends the
                 chunk at once, saying how long it asked for and how long was waited
transient        5xx, timeout, dropped connection: jittered exponential backoff, up to
                 ``retries`` attempts; a breaker probe's failure spends none of them; the
                 same refused connection or 5xx twice before the endpoint answered takes
                 it out of service at once (``failfast.py``); the retry goes to another
                 endpoint first, when there is one
invalid output   not JSON, wrong shape, empty: re-ask with the error, ``invalid_retries`` times
truncated        ``finish_reason == "length"``: split the chunk in two, dispatch both halves
fatal            the endpoint's own (a refused key, no quota, an unknown model): it is
                 taken out of service and the chunk goes to another endpoint at no cost;
                 otherwise (context too long), or when no endpoint is left for the model,
                 nothing more is sent; in-flight calls finish and keep their results; the
                 rest end cancelled with the reason
===============  ==========================================================================

An item is a chunk (the ``extract`` stage) or a document's evidence (``verify``): its
``ChunkId.stage`` names the ``Stage`` that builds its request, parses its answer, re-asks
after a bad one and says whether a cut answer may be split (``stages.py``), and its
stage's model is what the item is routed by; everything else here is the same for every
stage.

One dispatcher task starts queued items, in order, as an endpoint admits them, and parks on
the endpoints' gates when none does. A request that gets its answer hands its slot straight to the next
queued item and parses the answer just after, so with many answers arriving together the
next requests leave first. Retries wait in their own task without holding a slot, then
rejoin at the front of the queue. Results are keyed by ``ChunkId``, so their order is
deterministic. ``cancel()`` (or cancelling ``run``) stops every task it started and marks
what was not finished as cancelled; nothing finished is lost. An error raised inside the run
(a sink that cannot record) ends it, and ``run`` raises it: it is never lost in a task.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from extractor_tui.core._engine_run import Admitted, Answer, ChunkState, Queue, Run
from extractor_tui.core.cost_cap import CostCap
from extractor_tui.core.clock import Clock, SystemClock
from extractor_tui.core.dispatch import CircuitOpen, Permit
from extractor_tui.core.endpoints import Endpoint, EndpointPool, EndpointSpec, Route
from extractor_tui.core.failfast import endpoint_label
from extractor_tui.core.llm.offline import count_tokens as _bundled_count
from extractor_tui.core.events import (
    AttemptFinished,
    BudgetReached,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkId,
    ChunkRetrying,
    ChunkSplit,
    EndpointInfo,
    RequestPlanned,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
    SamplingDropped,
    Sink,
)
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.llm.base import Client, LLMRequest, LLMResponse
from extractor_tui.core.llm.headers import RateLimitInfo
from extractor_tui.core.model import ChunkStatus, RawCandidate
from extractor_tui.core.prompts import answer_token_cap
from extractor_tui.core.stages import ExtractStage, Stage, refuses_seed
from extractor_tui.core.usage import Usage, answer_usage, estimated_usage
from extractor_tui.core.work import ChunkOutcome, EngineConfig, RunResult, WorkItem, split_point
from extractor_tui.errors import (
    ErrorKind,
    FatalProviderError,
    InvalidOutput,
    ProviderError,
    RateLimited,
    TruncatedOutput,
)

__all__ = ["ChunkOutcome", "Engine", "EngineConfig", "EndpointSpec", "RunResult", "WorkItem",
           "split_point"]

_PROMPT_OVERHEAD_TOKENS = 400  # system + field list, for budget estimates only


class Engine:
    """Sends work items to its endpoints and reports every fact to ``sink``.

    ``endpoints`` is one ``Client`` (an endpoint tuned by ``config``, named
    after its URL) or several ``EndpointSpec``s, each with its own tuning. ``stages``
    replace or add to the default ``extract`` stage (``fields`` with ``model``, no sampling
    set).
    """

    def __init__(self, endpoints: Client | Sequence[EndpointSpec], fields: FieldSet, *,
                 model: str, config: EngineConfig = EngineConfig(),
                 sink: Sink = lambda event: None, clock: Clock | None = None,
                 rng: random.Random | None = None,
                 count_tokens: Callable[[str], int] | None = None,
                 stages: Sequence[Stage] = ()) -> None:
        self.fields = fields
        self.model = model
        self.config = config
        self._sink = sink
        self._clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._count_tokens = count_tokens
        if not isinstance(endpoints, Sequence):
            gate_config = replace(config.gate, maximum=config.concurrency,
                                  rpm=config.rpm, tpm=config.tpm)
            endpoints = [EndpointSpec(endpoint_label(endpoints.endpoint), endpoints,
                                      gate=gate_config,
                                      structured_output=config.structured_output,
                                      structured_start=config.structured_start)]
        self.pool = EndpointPool(endpoints, self._clock, sink)
        self.cost_cap: CostCap | None = None  # --max-cost, set by the Job for a run
        self.urgent: Callable[[WorkItem], bool] | None = None  # sent first (--priority)
        self._run: Run | None = None
        # Every request carries a cap: the configured one, else what the fields need.
        self.max_tokens = config.max_tokens or answer_token_cap(fields, model)
        self.stages: dict[str, Stage] = {
            "extract": ExtractStage(fields, model, max_tokens=self.max_tokens)}
        for stage in stages:
            self.stages[stage.name] = stage
        # (model, endpoint named by the stage or None) of the run's items, first seen first
        self._routes: tuple[Route, ...] = ((model, None),)
        self._seedless: set[str] = set()  # endpoints that refused a seed: none is sent there

    # -- controls ----------------------------------------------------------------------------

    def set_concurrency(self, maximum: int) -> None:
        """Change the in-flight maximum now, even mid-run, held at 1–100 per endpoint; with
        several it is the total, shared in proportion to their configured concurrency."""
        self.pool.set_maximum(maximum)

    def pause(self) -> None:
        self.pool.pause()
        self._sink(RunPaused(self._clock.now()))

    def resume(self) -> None:
        self.pool.resume()
        self._sink(RunResumed(self._clock.now()))

    def cancel(self, reason: str = "cancelled by the user") -> None:
        """Stop the run: in-flight calls are abandoned, unfinished chunks end cancelled."""
        run = self._run
        if run is not None and run.cancel_reason is None:
            run.cancel_reason = reason
            run.finished.set()

    @property
    def running(self) -> bool:
        return self._run is not None

    @property
    def provider(self) -> str:
        return self.pool.endpoints[0].client.provider

    @property
    def fatal_message(self) -> str | None:
        """Why nothing more can be sent for a model of the run's items, or None."""
        return next((reason for model, endpoint in self._routes
                     if (reason := self.pool.stop_reason(model, endpoint)) is not None), None)

    def endpoint_info(self) -> tuple[EndpointInfo, ...]:
        """Each endpoint as a run starts: name, ceiling, limit, mode, models."""
        return tuple(EndpointInfo(e.name, e.gate.maximum, e.gate.limit,
                                  e.negotiation.mode.value, tuple(sorted(e.models)),
                                  any(e in self.pool.serving(*route) for route in self._routes))
                     for e in self.pool.endpoints)

    async def aclose(self) -> None:
        """Release every endpoint's connections."""
        for endpoint in self.pool.endpoints:
            await endpoint.client.aclose()

    # -- the run -----------------------------------------------------------------------------

    async def run(self, items: Sequence[WorkItem]) -> RunResult:
        """Send every item; return when each has completed, failed or been cancelled."""
        if self._run is not None:
            raise RuntimeError("this engine is already running")
        run = self._run = Run(ready=Queue(self.urgent))
        started = self._clock.now()
        self._routes = tuple(dict.fromkeys(self._route_of(item) for item in items)) \
            or ((self.model, None),)
        self._sink(RunStarted(len(items), self.pool.limit, self.provider, self._routes[0][0],
                              started, self.endpoint_info()))
        try:
            for at, item in enumerate(items, 1):
                run.states[item.id] = ChunkState(item)
                run.ready.append(item)
                run.open_chunks += 1
                self._sink(_planned(item, started))
                if at % _PLAN_STEP == 0:
                    await asyncio.sleep(0)  # 12,000 chunks planned at once held the loop
            if run.open_chunks == 0:
                run.finished.set()
            run.spawn(self._dispatch(run), "extractor-dispatch")
            await run.finished.wait()
        finally:
            for task in list(run.tasks):
                task.cancel()
            await asyncio.gather(*run.tasks, return_exceptions=True)
            fatal = self.fatal_message
            stopped = run.stopped and self.cost_cap and self.cost_cap.message  # spent by now
            reason = run.cancel_reason or (f"not sent: {fatal}" if fatal else
                                           f"not sent: {stopped}" if stopped else "cancelled")
            for state in [s for s in run.states.values() if not s.done]:  # with halves
                self._cancel_open(run, state.item.id, reason)
            self._run = None
            ordered = sorted(run.outcomes, key=ChunkId.order)
            result = RunResult(tuple(run.outcomes[key] for key in ordered), fatal,
                               run.cancel_reason is not None, self._clock.now() - started,
                               budget=stopped or None)
            counts = Counter(outcome.status for outcome in result.outcomes)
            self._sink(RunFinished(counts[ChunkStatus.COMPLETED], counts[ChunkStatus.FAILED],
                                   counts[ChunkStatus.CANCELLED], self._clock.now(), fatal))
        if run.crash is not None:
            raise run.crash
        return result

    def _cancel_open(self, run: Run, chunk: ChunkId, reason: str) -> None:
        state = run.states.get(chunk)
        if state is None or state.done:
            return
        self._finish(run, state, ChunkOutcome(
            state.item, ChunkStatus.CANCELLED, state.attempts, reason=ErrorKind.CANCELLED,
            message=reason, prompt_tokens=state.prompt_tokens,
            completion_tokens=state.completion_tokens, tokens_estimated=state.tokens_estimated))
        self._sink(ChunkCancelled(chunk, reason, self._clock.now()))

    async def _dispatch(self, run: Run) -> None:
        """Start every chunk an endpoint admits; park until the queue or a gate changes."""
        while True:
            if not run.ready:
                wake = run.wake = asyncio.Event()
                await wake.wait()
                continue
            admitted = self._take_now(run)
            if admitted is None and run.stopped is not None:
                await run.finished.wait()  # nothing more is sent; in-flight calls finish
                return
            if admitted is None and run.over_cap:
                settled = run.settled = asyncio.Event()  # an answer may free room
                await settled.wait()
                continue
            if admitted is None:
                try:
                    model, endpoint = self._route_of(run.ready[0])
                    await self.pool.changed(model, _budget_tokens(run.ready[0]), endpoint)
                except CircuitOpen:
                    self._maybe_finished(run)
                    return
                continue
            run.spawn(self._attempt(run, admitted),
                      f"extractor-chunk-{admitted.state.item.id.doc}-"
                      f"{admitted.state.item.id.label}")
            # Let the new task reach the socket before the next one starts: a burst of starts
            # would otherwise hold every first request back until all were built.
            await asyncio.sleep(0)

    def _take_now(self, run: Run) -> Admitted | None:
        """The next queued chunk, its endpoint and permit, if one admits it without waiting."""
        if not run.ready or run.cancel_reason is not None or run.stopped is not None:
            return None
        state = run.states[run.ready[0].id]
        run.over_cap = False
        if self.cost_cap is not None and not self.cost_cap.admit(
                state.item, prompt=self._repair_tokens(state)):
            if self.cost_cap.waiting:
                run.over_cap = True  # the answers in flight may cost less than reserved
            else:
                self._cap_reached(run)
            return None
        model, endpoint = self._route_of(state.item)
        admitted = self.pool.try_admit(model, _budget_tokens(state.item), state.avoid, endpoint)
        if admitted is None:
            if self.cost_cap is not None:
                self.cost_cap.release(state.item.id)  # not sent now: asked again later
            return None
        run.ready.popleft()
        run.running += 1
        return Admitted(state, *admitted)

    def _repair_tokens(self, state: ChunkState) -> int:
        """A re-ask's prompt tokens (it carries the bad answer and the error); 0 for a
        chunk's own request, which the cap's estimate counts."""
        if state.repair is None:
            return 0
        return self.prompt_tokens(state.repair)

    def _cap_reached(self, run: Run) -> None:
        """The next request would pass ``--max-cost`` with nothing in flight: stop sending
        (what finished is kept), or pause and let the app ask whether to raise the cap."""
        cap = self.cost_cap
        assert cap is not None
        if cap.pause:
            if not self.pool.paused:
                self.pause()
                self._sink(BudgetReached(cap.spent, cap.limit, self._clock.now(), True))
            return
        run.stopped = cap.message
        self._sink(BudgetReached(cap.spent, cap.limit, self._clock.now(), False))
        self._maybe_finished(run)

    def _enqueue(self, run: Run, item: WorkItem, front: bool = False) -> None:
        if front:
            run.ready.appendleft(item)
        else:
            run.ready.append(item)
        run.wake.set()

    def _maybe_finished(self, run: Run) -> None:
        if run.open_chunks == 0 or (run.running == 0 and (self.fatal_message is not None
                                                          or run.stopped is not None)):
            run.finished.set()

    async def _attempt(self, run: Run, admitted: Admitted) -> None:
        """Send chunks one after another while the gate admits them without waiting.

        When an answer arrives, the slot it frees goes straight to the next queued chunk, in
        this same step, and the answer is parsed and reported just after. With 20 answers
        arriving together that order matters: the next requests leave before the other
        answers are parsed, instead of after all of them (a hop through the dispatcher task
        would queue each send behind every answer already waiting).
        """
        following: Admitted | None = admitted
        while following is not None:
            following = await self._send(run, following)

    async def _send(self, run: Run, admitted: Admitted) -> Admitted | None:
        state, endpoint, permit = admitted.state, admitted.endpoint, admitted.permit
        item = state.item
        state.attempts += 1
        attempt = state.attempts
        # Dated when the gate admitted it, the moment its cool-downs, breaker and budgets
        # count, not when this task got its turn on the loop (a busy loop's delay apart).
        start = permit.sent_at
        if state.first_start is None:
            state.first_start = start
        self._sink(AttemptStarted(item.id, attempt, start, endpoint.name))
        mode = endpoint.negotiation.mode
        if state.repair is not None and state.repair.mode != mode.value:
            state.repair = None  # a re-ask built for a mode the endpoint no longer takes
        request = state.repair or self.request_for(item, endpoint)
        if endpoint.name in self._seedless and request.seed is not None:
            request = replace(request, seed=None)
        released = False
        try:
            try:
                response = await endpoint.client.complete(request, self.config.timeout)
            finally:
                endpoint.gate.release(permit)
                released = True
                run.running -= 1
            info = RateLimitInfo.from_headers(response.headers) if response.headers else None
            endpoint.gate.succeeded(info, permit, cached=response.cached)
        except ProviderError as exc:
            # An answer we refused (malformed usage, fields of the wrong type, over the size
            # cap) was still generated: count it, estimated.
            usage = (self._spent(state, estimated_usage(request, exc.raw or "", self._count))
                     if isinstance(exc, InvalidOutput) else Usage())
            self._paid(run, item.id, usage, False)
            self._attempt_failed(run, state, attempt, start, exc, request, endpoint, permit,
                                 usage)
            return None
        finally:
            if not released:  # cancelled while waiting for the answer
                endpoint.gate.release(permit)
                run.running -= 1
            self._maybe_finished(run)
        answered = Answer(state, request, endpoint, permit, response, start, attempt)
        # Under --max-cost the answer's cost replaces its reservation before the next
        # request is weighed against the cap.
        self._paid(run, item.id, answer_usage(request, response, self._count), response.cached)
        following = self._take_now(run)
        if following is None:
            self._settle(run, answered)
        else:
            run.later(lambda: self._settle(run, answered))
        return following

    def _settle(self, run: Run, answered: Answer) -> None:
        """Parse an answer and report it: completed, or re-asked, or split."""
        state, response, attempt = answered.state, answered.response, answered.attempt
        if state.done or self._run is not run:  # the run ended before this was reached
            return
        item, start = state.item, answered.start
        usage = self._spent(state, answer_usage(answered.request, response, self._count))
        try:
            candidates = self.check_answer(item, response)
        except ProviderError as exc:  # an HTTP 200 with bad output: its tokens were spent
            self._attempt_failed(run, state, attempt, start, exc, answered.request,
                                 answered.endpoint, answered.permit, usage,
                                 cached=response.cached)
            return
        end = self._clock.now()
        self._sink(AttemptFinished(item.id, attempt, end, end - start, "ok",
                                   response.status, None, usage.prompt, usage.completion,
                                   tokens_estimated=usage.estimated, cached=response.cached,
                                   endpoint="" if response.cached else answered.endpoint.name))
        outcome = ChunkOutcome(item, ChunkStatus.COMPLETED, attempt, candidates, response.content,
                               prompt_tokens=state.prompt_tokens,
                               completion_tokens=state.completion_tokens,
                               tokens_estimated=state.tokens_estimated,
                               cached=response.cached)
        self._finish(run, state, outcome)
        self._sink(ChunkCompleted(item.id, attempt, end, end - (state.first_start or start),
                                  state.prompt_tokens, state.completion_tokens,
                                  answered.request.model, candidates, response.content,
                                  response.cached, tokens_estimated=state.tokens_estimated))

    def _attempt_failed(self, run: Run, state: ChunkState, attempt: int, start: float,
                        exc: ProviderError, request: LLMRequest, endpoint: Endpoint,
                        permit: Permit, usage: Usage = Usage(), *,
                        cached: bool = False) -> None:
        end = self._clock.now()
        self._sink(AttemptFinished(state.item.id, attempt, end, end - start, exc.kind.value,
                                   exc.status, exc.message, usage.prompt, usage.completion,
                                   tokens_estimated=usage.estimated, cached=cached,
                                   endpoint="" if cached else endpoint.name))
        self._failed(run, state, exc, request, endpoint, permit)

    def _failed(self, run: Run, state: ChunkState, exc: ProviderError, request: LLMRequest,
                endpoint: Endpoint, permit: Permit) -> None:
        item, now = state.item, self._clock.now()
        if request.seed is not None and refuses_seed(exc):
            # As for a structured-output mode: the server refused a parameter, not the
            # chunk; sent again without it, at no cost to the chunk's attempts.
            if endpoint.name not in self._seedless:
                self._seedless.add(endpoint.name)
                self._sink(SamplingDropped(endpoint.name, "seed", exc.message[:300], now))
            state.repair = None
            self._sink(ChunkRetrying(item.id, exc.kind, f"{exc.message} (sent again "
                                     "without a seed)", now, now))
            self._enqueue(run, item, front=True)
            return
        if endpoint.negotiation.refused(request.mode, exc):
            # The server refused the kind of request, not the chunk: send it again in the
            # endpoint's next mode, without counting this against the chunk's attempts.
            state.repair = None
            self._sink(ChunkRetrying(item.id, exc.kind, f"{exc.message} (sent again as "
                                     f"{endpoint.negotiation.mode.value})", now, now))
            self._enqueue(run, item, front=True)
            return
        if isinstance(exc, RateLimited):
            self._rate_limited(run, state, exc, endpoint, permit)
        elif isinstance(exc, FatalProviderError):
            reason = endpoint.fail_fast.fatal_reason(exc)
            if exc.endpoint_own:
                self._out_of_service(run, state, exc, endpoint, reason)
            else:
                self.pool.stop(reason, *self._route_of(item))
                self._fail(run, state, exc, reason)
        elif isinstance(exc, TruncatedOutput):
            stage = self._stage(item)
            if not stage.splits:
                self._fail(run, state, exc, f"the {stage.name} answer was cut at the token "
                           f"limit ({request.max_tokens}); raise the {stage.name} stage's "
                           "max_tokens")
                return
            halves = self.split_item(item)
            if halves is None:
                self._fail(run, state, exc, "the answer was cut at the token limit and the "
                           "chunk is too small to split further")
                return
            planned = []
            for half in halves:
                run.states[half.id] = ChunkState(half)
                run.open_chunks += 1
                planned.append(_planned(half, now))
            # Only now: finishing the parent first would let a run whose last open chunk was
            # cut end there, with both halves cancelled before they were sent.
            self._finish(run, state, None)
            self._sink(ChunkSplit(item.id, (planned[0], planned[1]), now))
            self._enqueue(run, halves[1], front=True)
            self._enqueue(run, halves[0], front=True)
        elif isinstance(exc, InvalidOutput):
            state.invalid += 1
            if state.invalid > self.config.invalid_retries:
                self._fail(run, state, exc, exc.message)
                return
            state.repair = self.repair_request(item, request, exc.raw or "", exc.message)
            self._sink(ChunkRetrying(item.id, exc.kind, exc.message, now, now))
            self._enqueue(run, item, front=True)
        else:
            endpoint.gate.failed(permit)
            state.avoid = endpoint.name
            stop = endpoint.fail_fast.stop_reason(exc, endpoint.gate.proven)
            if stop is not None:
                self._out_of_service(run, state, exc, endpoint, stop)
                return
            if not permit.probe:  # a probe tests the endpoint; it costs the chunk nothing
                state.transient += 1
            if state.transient >= self.config.retries:
                tries = "1 attempt" if state.transient == 1 else f"{state.transient} attempts"
                self._fail(run, state, exc, f"{exc.message} (gave up after {tries})")
                return
            delay = self._backoff(max(1, state.transient))
            self._sink(ChunkRetrying(item.id, exc.kind, exc.message, now + delay, now))
            run.spawn(self._retry_later(run, item, delay), f"extractor-retry-{item.id.label}")

    def _out_of_service(self, run: Run, state: ChunkState, exc: ProviderError, endpoint: Endpoint,
                        reason: str) -> None:
        """``endpoint`` failed in a way of its own: it is taken down and probed later. The
        chunk goes to another endpoint at no cost to it; when none is left for the model,
        it fails with the reason and the run stops."""
        endpoint.gate.take_down(reason)
        stop = self.fatal_message
        if stop is not None:
            self.pool.stop(stop, *self._route_of(state.item))  # for good: no probe after the run
            self._fail(run, state, exc, stop)
            return
        state.avoid = endpoint.name
        now = self._clock.now()
        self._sink(ChunkRetrying(state.item.id, exc.kind,
                                 f"{reason} (sent to another endpoint)", now, now))
        self._enqueue(run, state.item, front=True)

    def _stage(self, item: WorkItem) -> Stage:
        stage = self.stages.get(item.id.stage)
        if stage is None:
            raise LookupError(f"no {item.id.stage!r} stage was given to this engine")
        return stage

    def _route_of(self, item: WorkItem) -> Route:
        """What an item is routed by: its stage's model, and the endpoint the stage names
        (None: any that serves the model)."""
        stage = self._stage(item)
        return stage.model, stage.endpoint

    def _rate_limited(self, run: Run, state: ChunkState, exc: RateLimited, endpoint: Endpoint,
                      permit: Permit) -> None:
        """A 429: this chunk waits (at least its floor), and fails once its cap is spent."""
        item, now = state.item, self._clock.now()
        shared = endpoint.gate.rate_limited(exc.retry_after, permit,
                                            RateLimitInfo.from_headers(exc.headers))
        state.rate_limited += 1
        asked = exc.retry_after if exc.retry_after is not None else shared
        floor = min(self.config.rate_limit_floor * 2.0 ** (state.rate_limited - 1),
                    endpoint.gate.config.cooldown_cap)
        wait = max(asked, shared, floor)
        cap = self.config.max_rate_limit_wait
        if state.waited + wait > cap:
            waited = f"{state.waited:.1f} s" if state.waited < 10 else f"{state.waited:.0f} s"
            why = (f"the server asks to wait {_span(asked)}, more than is left of the "
                   f"{cap:.0f} s a chunk may wait out 429s (waited {waited})"
                   if asked > cap - state.waited else
                   f"still rate limited after waiting {waited} in total (cap {cap:.0f} s)")
            self._fail(run, state, exc, f"{why}: {exc.message}")
            return
        state.waited += wait
        self._sink(ChunkRetrying(item.id, exc.kind, exc.message, now + wait, now))
        run.spawn(self._retry_later(run, item, wait), f"extractor-wait-{item.id.label}")

    def _count(self, text: str) -> int:
        return self._count_tokens(text) if self._count_tokens else _bundled_count(text)

    @staticmethod
    def _spent(state: ChunkState, usage: Usage) -> Usage:
        """Add one attempt's tokens to its chunk's; returns ``usage``."""
        state.prompt_tokens += usage.prompt
        state.completion_tokens += usage.completion
        state.tokens_estimated = state.tokens_estimated or usage.estimated
        return usage

    def _paid(self, run: Run, chunk: ChunkId, usage: Usage, cached: bool) -> None:
        """A call ended: under ``--max-cost`` its reservation gives way to what it cost,
        and a dispatcher waiting for room under the cap looks again."""
        if self.cost_cap is not None:
            self.cost_cap.settle(chunk, Usage() if cached else usage)
            run.settled.set()

    # -- one request, built and read: shared with the Batch API hand-off (batch.py) ----------

    def primary(self, stage: str) -> Endpoint:
        """The endpoint a plan assumes for ``stage``'s requests: the first that serves its
        model (the one it names, if it names one)."""
        named = self.stages[stage]
        return self.pool.primary(named.model, named.endpoint)

    def request_for(self, item: WorkItem, endpoint: Endpoint | None = None) -> LLMRequest:
        """The request ``item`` is sent as to ``endpoint`` (else the first serving the
        model), in that endpoint's negotiated mode; a batch line's body is exactly this."""
        mode = (endpoint or self.pool.primary(*self._route_of(item))).negotiation.mode
        return self._stage(item).build_request(item, mode)

    def check_answer(self, item: WorkItem, response: LLMResponse) -> tuple[RawCandidate, ...]:
        """The answer's candidates; ``TruncatedOutput`` when it was cut at the token limit,
        ``InvalidOutput`` when it cannot be used."""
        if response.finish_reason == "length":
            raise TruncatedOutput("the answer was cut at the token limit",
                                  status=response.status, raw=response.content)
        try:
            return self._stage(item).parse(item, response.content)
        except InvalidOutput as exc:
            exc.status = response.status
            raise

    def prompt_tokens(self, request: LLMRequest) -> int:
        """``request``'s prompt tokens as we count them (what ``--max-cost`` reserves for a
        re-ask, whose messages are not the chunk's own)."""
        return estimated_usage(request, "", self._count).prompt

    def usage_of(self, request: LLMRequest, response: LLMResponse) -> Usage:
        """What one answered request cost: the server's figures, or our count, estimated."""
        return answer_usage(request, response, self._count)

    def repair_request(self, item: WorkItem, request: LLMRequest, bad_output: str,
                       error: str) -> LLMRequest:
        """``request`` asked again, with the unusable answer and what was wrong with it."""
        return self._stage(item).repair(request, bad_output, error)

    def _backoff(self, failures: int) -> float:
        """Exponential with "equal jitter": half fixed, half random, capped."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _retry_later(self, run: Run, item: WorkItem, delay: float) -> None:
        await self._clock.sleep(delay)
        self._enqueue(run, item, front=True)

    def _fail(self, run: Run, state: ChunkState, exc: ProviderError, message: str) -> None:
        self._finish(run, state, ChunkOutcome(
            state.item, ChunkStatus.FAILED, state.attempts, raw=exc.raw, reason=exc.kind,
            message=message, prompt_tokens=state.prompt_tokens,
            completion_tokens=state.completion_tokens, tokens_estimated=state.tokens_estimated))
        self._sink(ChunkFailed(state.item.id, state.attempts, self._clock.now(), exc.kind,
                               message, exc.status, exc.raw))

    def _finish(self, run: Run, state: ChunkState, outcome: ChunkOutcome | None) -> None:
        state.done = True
        run.open_chunks -= 1
        if outcome is not None:
            run.outcomes[state.item.id] = outcome
        self._maybe_finished(run)

    def split_item(self, item: WorkItem, *, force: bool = False
                   ) -> tuple[WorkItem, WorkItem] | None:
        """Two halves cut at the best boundary near the middle; None when too small.

        ``force`` (a user's "split and retry") ignores the automatic depth limit.
        """
        if not force and len(item.id.part) >= self.config.max_split_depth:
            return None
        if len(item.text) < self.config.min_split_chars:
            return None
        cut = split_point(item.text)
        first, second = item.id.halves()
        texts = (item.text[:cut], item.text[cut:])
        spans = ((item.start, item.start + cut), (item.start + cut, item.end))
        halves = []
        for chunk_id, text, (start, end) in zip((first, second), texts, spans, strict=True):
            tokens = (self._count_tokens(text) if self._count_tokens
                      else max(1, item.tokens * len(text) // max(1, len(item.text))))
            key = hashlib.sha256(f"{item.key}:{chunk_id.part[-1]}".encode()).hexdigest()
            halves.append(WorkItem(chunk_id, item.document, text, start, end, item.page_starts,
                                   tokens, key))
        return halves[0], halves[1]


def _span(seconds: float) -> str:
    """``"45 s"``, ``"2.5 h (9000 s)"``: a wait as a person reads it."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    hours = seconds / 3600
    return (f"{hours:.1f} h ({seconds:.0f} s)" if hours < 48
            else f"{hours / 24:.1f} days ({seconds:.0f} s)")


def _budget_tokens(item: WorkItem) -> int:
    """What the gate charges an item against a TPM budget: its text plus the prompt."""
    return item.tokens + _PROMPT_OVERHEAD_TOKENS


_PLAN_STEP = 1000
"""Chunks a run plans (an event each) before it lets the loop run: about 10 ms."""


def _planned(item: WorkItem, at: float) -> RequestPlanned:
    return RequestPlanned(item.id, item.document, item.pages, item.tokens, at,
                          (item.start, item.end), item.key)
