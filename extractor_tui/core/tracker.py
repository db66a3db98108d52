"""RequestTracker: a pure reducer from engine events to request rows and a run summary.

Shared by the TUI and ``extractor run``, so both show the same numbers. ``apply(event)``
does no I/O and reads no clock: everything it knows came in an event, so feeding the same
events gives the same state (tests replay event lists). It also remembers which rows
changed since ``take_changed()`` was last called, so a UI can update just those cells on
its timer instead of redrawing per event.

Each endpoint's health (in flight, answers, 429s, errors, breaker, mode) is an
``EndpointBoard`` fed the same events; with several endpoints the limit is their sum, and
a cool-down or an open breaker is one endpoint's, shown on its own line, not the run's.

Durations are kept sorted as they arrive (``insort``), so p50/p95/p99 cost a lookup, not a
sort of 20,000 numbers on every refresh. Failed attempts are counted by their error text, so
the end of a run can say what went wrong and how often ("12× 500 server error: …").
"""

from __future__ import annotations

from bisect import insort
from collections import Counter
from dataclasses import dataclass, field

from extractor_tui.core.endpoint_board import EndpointBoard
from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkRetrying,
    ChunkSplit,
    CircuitClosed,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    Event,
    RequestPlanned,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
)
from extractor_tui.core.model import ChunkId, ChunkStatus, EndpointHealth
from extractor_tui.errors import ErrorKind

__all__ = ["Attempt", "RequestRow", "RequestTracker", "Summary", "describe_failures"]


@dataclass
class Attempt:
    """One call: when it ran, how it ended, the HTTP status, the error and the tokens."""

    number: int
    start: float
    end: float | None = None
    outcome: str | None = None
    status: int | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    endpoint: str = ""


@dataclass
class RequestRow:
    """Everything shown about one request. Mutated only by ``RequestTracker.apply``."""

    id: ChunkId
    document: str
    pages: tuple[int, int]
    token_count: int
    status: ChunkStatus = ChunkStatus.PENDING
    attempts: list[Attempt] = field(default_factory=list)
    reason: ErrorKind | None = None
    error: str | None = None
    next_attempt_at: float | None = None
    processing_time: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_name: str | None = None
    marked_empty: bool = False  # answered by the user ("holds nothing"), not by a model
    cached: bool = False
    raw: str | None = None

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)


@dataclass(frozen=True)
class Summary:
    """The run at a glance."""

    counts: dict[ChunkStatus, int]
    total: int
    average: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    prompt_tokens: int
    completion_tokens: int
    retries: dict[ErrorKind, int]
    throughput: float
    calls: int
    calls_per_second: float
    limit: int
    maximum: int
    in_flight: int
    cooling_until: float | None
    circuit: str | None
    elapsed: float
    finished: bool
    paused: bool
    provider: str
    model: str
    cancelled: int = 0
    """How many chunks the last finished run left cancelled (0 while one runs)."""
    failures: tuple[tuple[str, int], ...] = ()
    tokens_estimated: bool = False
    """Some tokens were counted by us: the server reported none for those calls."""
    endpoints: tuple[EndpointHealth, ...] = ()

    @property
    def done(self) -> int:
        return sum(self.counts.get(status, 0)
                   for status in (ChunkStatus.COMPLETED, ChunkStatus.FAILED,
                                  ChunkStatus.CANCELLED))


def describe_failures(failures: tuple[tuple[str, int], ...], most: int = 5) -> str:
    """``"12× 500 server error: …; 3× no answer within 5 s"``, or ``"none"``: the ``most``
    frequent reasons, then how many others there were."""
    if not failures:
        return "none"
    shown = "; ".join(f"{count}× {reason}" for reason, count in failures[:most])
    rest = sum(count for _, count in failures[most:])
    return shown + (f"; {rest}× for {len(failures) - most} other reason(s)" if rest else "")


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class RequestTracker:
    """Rows by request id (in plan order) and the counters behind the summary."""

    def __init__(self) -> None:
        self.rows: dict[ChunkId, RequestRow] = {}
        self._changed: dict[ChunkId, None] = {}
        self._counts: Counter[ChunkStatus] = Counter()
        self._durations: list[float] = []
        self._retries: Counter[ErrorKind] = Counter()
        self._failures: Counter[str] = Counter()
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.tokens_estimated = False
        self.calls = 0
        self.limit = 0
        self.maximum = 0
        self.started_at: float | None = None
        self.last_at = 0.0
        self.finished_at: float | None = None
        self.cooling_until: float | None = None
        self.circuit: str | None = None
        self.paused = False
        self.paused_at: float | None = None
        self.paused_for = 0.0  # time spent paused, left out of the rates
        self.cancelled = 0
        self.provider = ""
        self.model = ""
        self.endpoints = EndpointBoard()

    # -- reducer -----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:  # noqa: C901 - one branch per event type
        """Fold one event into the state."""
        at = getattr(event, "at", None)
        if isinstance(at, float | int):
            self.last_at = max(self.last_at, float(at))
        self.endpoints.apply(event)
        if isinstance(event, RequestPlanned):
            self._plan(event)
        elif isinstance(event, AttemptStarted):
            row = self._row(event.id)
            row.attempts.append(Attempt(event.attempt, event.at, endpoint=event.endpoint))
            self.calls += 1
            row.next_attempt_at = None
            self._set(row, ChunkStatus.IN_PROGRESS)
        elif isinstance(event, AttemptFinished):
            row = self._row(event.id)
            attempt = self._open_attempt(row, event.attempt, event.at - event.duration)
            attempt.end, attempt.outcome, attempt.status = event.at, event.outcome, event.status
            attempt.error = event.error
            attempt.prompt_tokens = event.prompt_tokens
            attempt.completion_tokens = event.completion_tokens
            row.prompt_tokens += event.prompt_tokens
            row.completion_tokens += event.completion_tokens
            self.prompt_tokens += event.prompt_tokens
            self.completion_tokens += event.completion_tokens
            self.tokens_estimated = self.tokens_estimated or event.tokens_estimated
            if event.outcome != "ok":
                self._failures[" ".join((event.error or event.outcome).split())] += 1
            self._touch(row)
        elif isinstance(event, ChunkRetrying):
            row = self._row(event.id)
            row.reason, row.error, row.next_attempt_at = event.reason, event.error, \
                event.next_at
            self._retries[event.reason] += 1
            self._set(row, ChunkStatus.RETRYING)
        elif isinstance(event, ChunkCompleted):
            row = self._row(event.id)
            row.marked_empty = event.marked_empty
            row.processing_time, row.model_name, row.cached = event.duration, event.model, \
                event.cached
            row.raw, row.next_attempt_at = event.raw, None
            insort(self._durations, event.duration)
            self._set(row, ChunkStatus.COMPLETED)
        elif isinstance(event, ChunkFailed):
            row = self._row(event.id)
            row.reason, row.error, row.raw = event.reason, event.message, event.raw
            row.next_attempt_at = None
            self._set(row, ChunkStatus.FAILED)
        elif isinstance(event, ChunkSplit):
            row = self._row(event.id)
            row.reason, row.error = ErrorKind.TRUNCATED, "split in two after a truncated answer"
            self._retries[ErrorKind.TRUNCATED] += 1
            self._set(row, ChunkStatus.SPLIT)
            for half in event.into:
                self._plan(half)
        elif isinstance(event, ChunkCancelled):
            row = self._row(event.id)
            if row.attempts and row.attempts[-1].end is None:
                last = row.attempts[-1]
                last.end, last.outcome, last.error = event.at, ErrorKind.CANCELLED, event.reason
            row.reason, row.error, row.next_attempt_at = ErrorKind.CANCELLED, event.reason, None
            self._set(row, ChunkStatus.CANCELLED)
        else:
            self._apply_run_event(event)

    def _apply_run_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            if self.started_at is None:
                self.started_at = event.at
            self.finished_at = None
            self.cancelled = 0
            self.limit = self.maximum = event.limit
            self.provider, self.model = event.provider, event.model
            self.circuit = None
        elif isinstance(event, ConcurrencyChanged):
            several = len(self.endpoints) > 1
            self.limit = self.endpoints.limit if several else event.limit
            self.maximum = self.endpoints.maximum if several else event.maximum
        elif (isinstance(event, CoolDownStarted | CircuitOpened | CircuitClosed)
              and len(self.endpoints) > 1):
            return  # one endpoint's cool-down or breaker: shown on its own line
        elif isinstance(event, CoolDownStarted):
            self.cooling_until = event.until
        elif isinstance(event, CircuitOpened):
            self.circuit = event.reason if event.fatal else f"open: {event.reason}"
        elif isinstance(event, CircuitClosed):
            self.circuit = None
        elif isinstance(event, RunPaused):
            self.paused = True
            if self.paused_at is None:
                self.paused_at = event.at
        elif isinstance(event, RunResumed):
            self.paused = False
            self._unpause(event.at)
        elif isinstance(event, RunFinished):
            self.finished_at = event.at
            self.paused = False
            self._unpause(event.at)
            self.cancelled = event.cancelled
            if event.fatal:
                self.circuit = event.fatal

    def _unpause(self, at: float) -> None:
        if self.paused_at is not None:
            self.paused_for += max(0.0, at - self.paused_at)
            self.paused_at = None

    def _plan(self, event: RequestPlanned) -> None:
        row = self.rows.get(event.id)
        if row is None:  # a retry of a known request keeps its history
            row = self.rows[event.id] = RequestRow(event.id, event.document, event.pages,
                                                   event.tokens)
            self._counts[row.status] += 1
        else:
            row.reason = row.error = None
            row.next_attempt_at = None
        self._set(row, ChunkStatus.PENDING)

    def _row(self, chunk: ChunkId) -> RequestRow:
        return self.rows[chunk]

    @staticmethod
    def _open_attempt(row: RequestRow, number: int, start: float) -> Attempt:
        for attempt in reversed(row.attempts):
            if attempt.number == number and attempt.end is None:
                return attempt
        attempt = Attempt(number, start)
        row.attempts.append(attempt)
        return attempt

    def _set(self, row: RequestRow, status: ChunkStatus) -> None:
        if row.status is not status:
            self._counts[row.status] -= 1
            self._counts[status] += 1
            if row.status is ChunkStatus.COMPLETED and row.processing_time is not None:
                self._durations.remove(row.processing_time)
            row.status = status
        self._touch(row)

    def _touch(self, row: RequestRow) -> None:
        self._changed[row.id] = None

    # -- reading -----------------------------------------------------------------------------

    def take_changed(self) -> list[ChunkId]:
        """Ids of rows changed since the last call, in the order they first changed."""
        changed = list(self._changed)
        self._changed.clear()
        return changed

    def in_flight(self) -> int:
        return self._counts[ChunkStatus.IN_PROGRESS]

    def summary(self, now: float | None = None) -> Summary:
        """Counts, durations, tokens, retries and throughput as of ``now`` (or the last event)."""
        end = self.finished_at if self.finished_at is not None else (now or self.last_at)
        if self.paused_at is not None:  # the rates stand still while nothing is sent
            end = min(end, self.paused_at)
        elapsed = (max(0.0, end - self.started_at - self.paused_for)
                   if self.started_at is not None else 0.0)
        completed = self._counts[ChunkStatus.COMPLETED]
        durations = self._durations
        cooling = self.cooling_until
        if cooling is not None and cooling <= (now if now is not None else self.last_at):
            cooling = None
        return Summary(
            counts={status: self._counts[status] for status in ChunkStatus},
            total=sum(self._counts[s] for s in ChunkStatus if s is not ChunkStatus.SPLIT),
            average=sum(durations) / len(durations) if durations else None,
            p50=_percentile(durations, 0.50), p95=_percentile(durations, 0.95),
            p99=_percentile(durations, 0.99),
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
            retries=dict(self._retries),
            throughput=completed / elapsed if elapsed > 0 else 0.0,
            calls=self.calls,
            calls_per_second=self.calls / elapsed if elapsed > 0 else 0.0,
            limit=self.limit, maximum=self.maximum, in_flight=self.in_flight(),
            cooling_until=cooling, circuit=self.circuit, elapsed=elapsed,
            finished=self.finished_at is not None, paused=self.paused,
            provider=self.provider, model=self.model, cancelled=self.cancelled,
            failures=self.failure_reasons(), tokens_estimated=self.tokens_estimated,
            endpoints=self.endpoints.health())

    def failure_reasons(self) -> tuple[tuple[str, int], ...]:
        """Every failed attempt's reason with its count, most frequent first."""
        return tuple(sorted(self._failures.items(), key=lambda item: (-item[1], item[0])))
