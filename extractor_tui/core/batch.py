"""The Batch API hand-off: the chunks still to send go to the provider's batches instead of
live calls, and every answer comes back into the session exactly as a live one does.

How it works, and why:

* **The engine's own request.** Each line's body is ``Engine.request_for(item)`` turned into
  JSON by the endpoint's client (``OpenAIClient.body``): the negotiated structured-output
  mode, the model, the answer cap, byte for byte what a live call sends. A re-ask after an
  unusable answer is ``Engine.repair_request``, as live. One line per request key (identical
  chunks share one answer, as they share the cache).
* **The engine's own reading.** Each output line's body goes through the client's
  ``read_answer`` (envelope checks, the cap, the key redacted) and ``Engine.check_answer``
  (cut at the limit, not JSON, wrong shape); a usable answer becomes the same events a live
  call's does (attempt, ``ChunkCompleted``), so the session stores it in the cache under
  the request key and merges it the same way. A cut answer splits the chunk as live; an
  unusable one is asked again in the next batch (``invalid_retries`` times).
* **Written down before it is paid for** (``batch_store.py``): a killed run resumes polling
  the batches it made and never submits a key that is in one. A batch row without a
  provider id (killed between upload and create) is found by its input file first.
* **Failed lines** (the error file: 5xx, 429, timeouts) and lines a batch never ran
  (expired, failed validation) go back to the queue and into the next batch, ``rounds``
  times at most; lines of a *cancelled* batch go back to the session's queue and this run
  ends (the user cancelled: the same command sends them again). ``fallback="direct"`` hands
  all of these to the caller to send live instead.
* **Polls grow**: ``PollPolicy.first`` seconds, times ``growth`` while nothing changes, up to
  ``longest``; back to ``first`` when a batch moves. Polls that fail ``failures`` times in a
  row end the run with one line (the batches go on at the provider; the same command
  collects them). Time comes from the injected clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from extractor_tui.config import Settings
from extractor_tui.core.batch_files import (
    BatchLimits,
    OutputLine,
    RemoteBatch,
    input_line,
    read_lines,
    split_lines,
)
from extractor_tui.core.batch_store import BatchLine, BatchStore, StoredBatch
from extractor_tui.core.clock import Clock
from extractor_tui.core.cost_cap import CostCap
from extractor_tui.core.endpoints import Endpoint
from extractor_tui.core.engine import Engine
from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    BatchChanged,
    BatchCollected,
    ChunkCompleted,
    ChunkFailed,
    ChunkRetrying,
    ChunkSplit,
    RequestPlanned,
    Sink,
)
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.model import (BatchState, ChunkId, ChunkOutcome, ChunkStatus, Usage,
                                       WorkItem)
from extractor_tui.errors import (
    FatalProviderError,
    InvalidOutput,
    ProviderError,
    TransientError,
    TruncatedOutput,
)

__all__ = ["BatchEndpoint", "BatchLimits", "BatchResult", "BatchRunner", "BatchService",
           "ChatWire", "Fallback", "PollPolicy", "TERMINAL", "batch_service", "describe"]

TERMINAL = frozenset({BatchState.COMPLETED, BatchState.FAILED, BatchState.EXPIRED,
                      BatchState.CANCELLED})
Fallback = Literal["queue", "direct"]


class BatchService(Protocol):
    """The provider's Files and Batch APIs (``openai_batch.OpenAIBatchService``)."""

    async def upload(self, name: str, data: bytes) -> str: ...
    async def create(self, input_file_id: str) -> RemoteBatch: ...
    async def retrieve(self, batch_id: str) -> RemoteBatch: ...
    async def cancel(self, batch_id: str) -> RemoteBatch: ...
    async def find(self, input_file_id: str) -> RemoteBatch | None: ...
    async def download(self, file_id: str) -> bytes: ...
    def line_error(self, status: int, body: object) -> ProviderError: ...
    async def aclose(self) -> None: ...


@runtime_checkable
class ChatWire(Protocol):
    """How the endpoint's client writes a request and reads an answer (``OpenAIClient``)."""

    def body(self, request: LLMRequest) -> dict[str, Any]: ...

    def read_answer(self, content: bytes, headers: dict[str, str], status: int,
                    request: LLMRequest) -> LLMResponse: ...


@dataclass(frozen=True)
class BatchEndpoint:
    """The endpoint a batch belongs to: the engine's (its name and negotiated mode), how its
    client writes and reads a request, its Batch API and its per-file limits."""

    endpoint: Endpoint
    wire: ChatWire
    service: BatchService
    limits: BatchLimits = BatchLimits()

    @property
    def name(self) -> str:
        return self.endpoint.name


@dataclass(frozen=True)
class PollPolicy:
    first: float = 10.0
    growth: float = 1.5
    longest: float = 300.0
    failures: int = 5


@dataclass(frozen=True)
class BatchResult:
    """What the batches did in this run.

    ``live`` holds the chunks to send live now (``fallback="direct"``); ``stopped`` says why
    the run ended before every batch was collected (the batches go on at the provider).
    """

    outcomes: tuple[ChunkOutcome, ...]
    live: tuple[WorkItem, ...]
    cancelled: bool
    stopped: str | None
    batches: int = 0
    lines: int = 0
    budget: str | None = None  # not all was submitted: --max-cost would have been passed


@dataclass
class _Round:
    requeue: list[WorkItem] = field(default_factory=list)
    cancelled: list[WorkItem] = field(default_factory=list)


class BatchRunner:
    """Sends work items through an endpoint's Batch API and collects what comes back."""

    def __init__(self, engine: Engine, store: BatchStore, endpoint: BatchEndpoint, *,
                 sink: Sink, clock: Clock, poll: PollPolicy = PollPolicy(),
                 fallback: Fallback = "queue", rounds: int = 4, invalid_retries: int = 2,
                 cap: CostCap | None = None) -> None:
        self.engine, self.store, self.endpoint = engine, store, endpoint
        self._sink, self._clock, self._poll = sink, clock, poll
        self._fallback, self._rounds, self._invalid_retries = fallback, rounds, invalid_retries
        self._cap = cap
        self._budget: str | None = None
        self._items: dict[str, list[WorkItem]] = {}
        self._outcomes: dict[ChunkId, ChunkOutcome] = {}
        self._seen: dict[int, tuple[str, int, int]] = {}
        self._round = _Round()
        self._stopped: str | None = None
        self._cancel_requested = False
        self._unsent: list[WorkItem] = []  # what the last submit held back (--max-cost)
        self.submitted = self.lines = 0

    # -- the run -------------------------------------------------------------------------

    async def run(self, items: Sequence[WorkItem]) -> BatchResult:
        """Submit what is not in a batch yet, wait for every batch of this endpoint, collect
        each, and send what came back unusable again, until nothing is left or a limit."""
        for item in items:
            self._items.setdefault(item.key, []).append(item)
        busy = self.store.live_keys()
        queue = [item for item in items if item.key not in busy]
        if self._cap is not None:  # what a resumed run waits on is in flight already
            for key in busy & set(self._items):
                self._cap.hold(self._items[key][0], batch=True)
        live: list[WorkItem] = []
        cancelled = False
        while self._stopped is None:
            if queue and not self._cancel_requested:
                await self._submit(queue)
            watching = [b for b in self.store.batches(live_only=True)
                        if b.endpoint == self.endpoint.name]
            if not watching:
                break
            self._round = _Round()
            await self._watch(watching)
            cancelled = cancelled or bool(self._round.cancelled)
            # What the cap held back is weighed again: collected lines cost what they cost,
            # usually far below the worst case reserved for them.
            queue = self._round.requeue
            if self._fallback == "direct" or self._cancel_requested:
                live += queue + self._round.cancelled
                queue = []
            elif self._round.cancelled:
                queue = []  # the user cancelled: they wait in the session's queue
            if not self._cancel_requested:
                queue += self._unsent
        if self._fallback != "direct":
            live = []
        budget = self._cap.message if self._budget is not None and self._cap else None
        ordered = sorted(self._outcomes, key=ChunkId.order)
        return BatchResult(tuple(self._outcomes[key] for key in ordered), tuple(live),
                           cancelled or self._cancel_requested, self._stopped,
                           self.submitted, self.lines, budget)

    async def cancel(self) -> None:
        """Ask the provider to cancel every batch of this session still running; the run
        collects what they finished and ends."""
        self._cancel_requested = True
        for batch in self.store.batches(live_only=True):
            if batch.batch_id is not None and batch.status not in TERMINAL:
                try:
                    await self.endpoint.service.cancel(batch.batch_id)
                except ProviderError:
                    continue  # finished meanwhile, or unreachable: the poll will tell

    # -- submitting ----------------------------------------------------------------------

    async def _submit(self, queue: Sequence[WorkItem]) -> None:
        limits = self.endpoint.limits
        lines: list[tuple[str, bytes]] = []
        first: dict[str, WorkItem] = {}
        self._unsent, self._budget = [], None
        for at, item in enumerate(queue):
            if item.key in first:
                continue
            request, repair = self._request(item)
            if self._cap is not None and not self._cap.admit(item, prompt=repair, batch=True):
                self._budget = self._cap.message  # the rest waits for room, or a higher cap
                self._unsent = [i for i in queue[at:] if i.key not in first]
                break
            line = input_line(item.key, self.endpoint.wire.body(request))
            if len(line) > limits.max_bytes:
                self._fail(item, FatalProviderError(
                    f"the request is {len(line):,} bytes, more than the {limits.max_bytes:,} "
                    "a batch input file may hold at this endpoint"), 0)
                continue
            first[item.key] = item
            lines.append((item.key, line))
        for part in split_lines(lines, limits):
            try:
                file_id = await self.endpoint.service.upload(
                    f"extractor-{len(part.keys)}.jsonl", part.data)
            except ProviderError as exc:
                self._stopped = f"could not upload a batch input file: {exc.message}"
                return
            local = self.store.add(self.endpoint.name, file_id,
                                   [(key, first[key].id) for key in part.keys], len(part.data))
            self.submitted += 1
            self.lines += len(part.keys)
            if not await self._create(local, file_id, len(part.keys)):
                return

    def _request(self, item: WorkItem) -> tuple[LLMRequest, int]:
        """The chunk's request, and a re-ask's prompt tokens (0 for a first ask: the cap's
        estimate counts those)."""
        request = self.engine.request_for(item, self.endpoint.endpoint)
        history = self.store.history(item.key)
        if history and history[-1].outcome == "invalid":
            last = history[-1]
            repair = self.engine.repair_request(item, request, last.raw or "",
                                                last.message or "")
            return repair, self.engine.prompt_tokens(repair)
        return request, 0

    async def _create(self, local: int, file_id: str, requests: int) -> bool:
        try:
            remote = await self.endpoint.service.create(file_id)
        except TransientError as exc:  # it may exist all the same: looked up on resume
            self._stopped = f"could not create a batch: {exc.message}"
            return False
        except ProviderError as exc:
            self.store.collect(local, [], status="failed", message=exc.message)
            self._changed(local, None, "failed", requests, 0, 0, exc.message)
            self._stopped = f"the Batch API refused the batch: {exc.message}"
            return False
        self._update(local, remote, requests)
        return True

    # -- watching ------------------------------------------------------------------------

    async def _watch(self, batches: Sequence[StoredBatch]) -> None:
        """Poll until every batch ends, collecting each as it does."""
        waiting = {batch.id: batch for batch in batches}
        for batch in list(waiting.values()):
            if batch.batch_id is None and not await self._adopt(batch):
                waiting.pop(batch.id)
        known = {b.id: b for b in self.store.batches(live_only=True)}
        waiting = {local: known[local] for local in waiting if local in known}
        delay, failures = self._poll.first, 0
        while waiting and self._stopped is None:
            moved = False
            for local, batch in list(waiting.items()):
                try:
                    remote = await self.endpoint.service.retrieve(batch.batch_id or "")
                except ProviderError as exc:
                    failures += 1
                    if isinstance(exc, FatalProviderError) or failures >= self._poll.failures:
                        self._stopped = (f"cannot read the batches' status: {exc.message} "
                                         "(they go on at the provider; run the same command "
                                         "again to collect them)")
                        return
                    continue
                failures = 0
                moved = self._update(local, remote, batch.requests) or moved
                if remote.status in TERMINAL:
                    await self._collect(batch, remote)
                    waiting.pop(local)
            if not waiting or self._stopped is not None:
                return
            delay = self._poll.first if moved else min(self._poll.longest,
                                                       delay * self._poll.growth)
            await self._clock.sleep(delay)

    async def _adopt(self, batch: StoredBatch) -> bool:
        """A batch recorded before the provider's id was known: found by its input file,
        or created now (the file was uploaded, the batch never made)."""
        try:
            remote = await self.endpoint.service.find(batch.input_file_id)
        except ProviderError as exc:
            self._stopped = f"cannot list the batches: {exc.message}"
            return False
        if remote is not None:
            self._update(batch.id, remote, batch.requests)
            return True
        return await self._create(batch.id, batch.input_file_id, batch.requests)

    def _update(self, local: int, remote: RemoteBatch, requests: int) -> bool:
        """Store and announce what the provider said, when it changed."""
        now = (remote.status, remote.completed, remote.failed)
        if self._seen.get(local) == now:
            return False
        self._seen[local] = now
        message = "; ".join(remote.errors) or None
        self.store.update(local, batch_id=remote.id, status=remote.status, total=remote.total,
                          completed=remote.completed, failed=remote.failed, message=message,
                          in_progress_at=remote.in_progress_at)
        self._changed(local, remote.id, remote.status, requests, remote.completed,
                      remote.failed, message, remote.in_progress_at)
        return True

    def _changed(self, local: int, batch_id: str | None, status: str, requests: int,
                 completed: int, failed: int, message: str | None,
                 started: int | None = None) -> None:
        self._sink(BatchChanged(local, batch_id, status, requests, completed, failed,
                                self._clock.now(), message,
                                float(started) if started is not None else None))

    # -- collecting ----------------------------------------------------------------------

    async def _collect(self, stored: StoredBatch, remote: RemoteBatch) -> None:
        """Read a finished batch's files into the session; requeue what was not answered."""
        lines: dict[str, OutputLine] = {}
        for file_id in (remote.error_file_id, remote.output_file_id):
            if file_id is None:
                continue
            try:
                lines.update(read_lines(await self.endpoint.service.download(file_id)))
            except ProviderError as exc:
                self._stopped = (f"cannot download the results of batch {remote.id}: "
                                 f"{exc.message} (run the same command again to collect them)")
                return
        waited = _seconds_since(stored.created_at)
        ends: list[BatchLine] = []
        for key in self.store.keys(stored.id):
            ends.append(self._line(key, lines.get(key), remote.status, waited))
        self.store.collect(stored.id, ends, status=remote.status)
        counts = {name: sum(1 for end in ends if end.outcome == name)
                  for name in ("answered", "invalid", "failed", "not_run")}
        self._sink(BatchCollected(stored.id, remote.id, remote.status, counts["answered"],
                                  counts["invalid"], counts["failed"], counts["not_run"],
                                  self._clock.now()))

    def _line(self, key: str, line: OutputLine | None, status: str,
              waited: float) -> BatchLine:
        end = self._read_line(key, line, status, waited)
        if self._cap is not None:
            for item in self._items.get(key, []):
                self._cap.release(item.id)
            self._cap.spend(Usage(end.prompt_tokens, end.completion_tokens), batch=True)
        return end

    def _read_line(self, key: str, line: OutputLine | None, status: str,
                   waited: float) -> BatchLine:
        items = self._items.get(key, [])
        if line is None or line.status is None:
            why = (f"{line.code}: {line.message}" if line is not None and line.code
                   else f"not run: the batch {status}")
            self._back(items, TransientError(why), cancelled=status == BatchState.CANCELLED)
            return BatchLine(key, "not_run", why)
        if not line.answered:
            error = self.endpoint.service.line_error(line.status, line.body)
            self._back(items, error)
            return BatchLine(key, "failed", error.message)
        if not items:
            return BatchLine(key, "answered")
        request = self.engine.request_for(items[0], self.endpoint.endpoint)
        try:
            response = self.endpoint.wire.read_answer(
                json.dumps(line.body).encode(), {}, 200, request)
        except ProviderError as exc:
            self._back(items, exc)
            return BatchLine(key, "failed", exc.message)
        usage = self.engine.usage_of(request, response)
        tokens = (usage.prompt, usage.completion)
        try:
            candidates = self.engine.check_answer(items[0], response)
        except TruncatedOutput as exc:
            self._split(items[0], exc, usage, waited)
            return BatchLine(key, "invalid", exc.message, response.content, *tokens)
        except InvalidOutput as exc:
            invalid = sum(1 for h in self.store.history(key) if h.outcome == "invalid")
            self._attempt(items[0], waited, exc.kind.value, usage, exc.message)
            for item in items:
                if invalid >= self._invalid_retries:
                    self._fail(item, exc, invalid + 1)
                else:
                    self._round.requeue.append(item)
            return BatchLine(key, "invalid", exc.message, response.content, *tokens)
        number = self._attempt(items[0], waited, "ok", usage)
        for item in items:  # chunks with the same text share the one (paid) answer
            self._answered(item, response, candidates, waited, usage, number)
        return BatchLine(key, "answered", None, None, *tokens)

    def _back(self, items: Sequence[WorkItem], error: ProviderError, *,
              cancelled: bool = False) -> None:
        """Lines that failed or never ran: the next batch, or failed after ``rounds``."""
        for item in items:
            if cancelled:
                self._round.cancelled.append(item)
                continue
            request = self.engine.request_for(item, self.endpoint.endpoint)
            if self.endpoint.endpoint.negotiation.refused(request.mode, error):
                self._round.requeue.append(item)  # asked again in the endpoint's next mode
                continue
            tries = sum(1 for h in self.store.history(item.key)
                        if h.outcome in ("failed", "not_run")) + 1
            if isinstance(error, FatalProviderError) or tries >= self._rounds:
                self._fail(item, error, tries)
            else:
                self._round.requeue.append(item)
                now = self._clock.now()  # a retry, as a live call's; it goes in the next batch
                self._sink(ChunkRetrying(item.id, error.kind, error.message, now, now))

    def _attempt(self, item: WorkItem, waited: float, outcome: str, usage: Usage,
                 error: str | None = None) -> int:
        """One batch line answered for ``item``: an attempt, as a live call records one,
        billed at the batch price."""
        number = len(self.store.history(item.key)) + 1
        now = self._clock.now()
        self._sink(AttemptStarted(item.id, number, now - waited, self.endpoint.name))
        self._sink(AttemptFinished(item.id, number, now, waited, outcome, 200, error,
                                   usage.prompt, usage.completion, usage.estimated,
                                   endpoint=self.endpoint.name, batch=True))
        return number

    def _answered(self, item: WorkItem, response: LLMResponse, candidates: Any,
                  waited: float, usage: Usage, number: int) -> None:
        self._outcomes[item.id] = ChunkOutcome(
            item, ChunkStatus.COMPLETED, number, candidates, response.content, prompt_tokens=usage.prompt,
            completion_tokens=usage.completion, tokens_estimated=usage.estimated, batch=True)
        self._sink(ChunkCompleted(item.id, number, self._clock.now(), waited, usage.prompt,
                                  usage.completion, self.engine.model, candidates,
                                  response.content))

    def _split(self, first: WorkItem, exc: TruncatedOutput, usage: Usage,
               waited: float) -> None:
        self._attempt(first, waited, exc.kind.value, usage, exc.message)
        for item in self._items.get(first.key, [first]):
            self._split_one(item, exc)

    def _split_one(self, item: WorkItem, exc: TruncatedOutput) -> None:
        halves = self.engine.split_item(item)
        if halves is None:
            self._fail(item, exc, 1, "the answer was cut at the token limit and the chunk "
                                     "is too small to split further")
            return
        now = self._clock.now()
        planned = tuple(RequestPlanned(h.id, h.document, h.pages, h.tokens, now,
                                       (h.start, h.end), h.key) for h in halves)
        self._sink(ChunkSplit(item.id, (planned[0], planned[1]), now))
        for half in halves:
            self._items.setdefault(half.key, []).append(half)
            self._round.requeue.append(half)

    def _fail(self, item: WorkItem, error: ProviderError, attempts: int,
              message: str | None = None) -> None:
        text = message or error.message
        self._outcomes[item.id] = ChunkOutcome(item, ChunkStatus.FAILED, attempts, raw=error.raw,
                                               reason=error.kind, message=text)
        self._sink(ChunkFailed(item.id, attempts, self._clock.now(), error.kind, text,
                               error.status, error.raw))


def batch_service(settings: Settings, timeout: float | None = None) -> BatchService:
    """The Batch API of the endpoint the settings name (the key from them, never stored)."""
    from extractor_tui.core.llm.openai_batch import OpenAIBatchService
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return OpenAIBatchService(base_url=settings.base_url, api_key=key,
                              timeout=timeout or settings.timeout_s)


def _seconds_since(iso: str) -> float:
    try:
        return max(0.0, (datetime.now(UTC) - datetime.fromisoformat(iso)).total_seconds())
    except ValueError:
        return 0.0


def describe(batch: StoredBatch | BatchChanged) -> str:
    """``batch_000123 in_progress: 120 of 500 done, 3 failed``."""
    name = batch.batch_id or "(not created yet)"
    done = batch.completed + batch.failed
    return (f"{name} {batch.status}: {done:,} of {batch.requests:,} done"
            + (f", {batch.failed:,} failed" if batch.failed else ""))

