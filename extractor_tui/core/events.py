"""What the engine tells the world: small frozen dataclasses named as facts.

The engine calls ``sink(event)`` and nothing else; the RequestTracker (shared by the TUI and
the CLI) and the session store turn events into rows, summaries and database writes. Events
are immutable and carry plain data only, so they can be buffered, replayed and compared in
tests. Times (``at``) come from the engine's injected clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from extractor_tui.core.model import ChunkId, RawCandidate
from extractor_tui.errors import ErrorKind

__all__ = [
    "AttemptFinished",
    "AttemptStarted",
    "BatchChanged",
    "BatchCollected",
    "BudgetReached",
    "ChunkCancelled",
    "ChunkCompleted",
    "ChunkFailed",
    "ChunkId",  # for engine.py, until it imports the type from model.py
    "ChunkRetrying",
    "ChunkSplit",
    "CircuitClosed",
    "CircuitOpened",
    "ConcurrencyChanged",
    "CoolDownStarted",
    "EndpointInfo",
    "Event",
    "RequestPlanned",
    "RunFinished",
    "RunPaused",
    "RunResumed",
    "RunStarted",
    "SamplingDropped",
    "Sink",
    "StructuredOutputChanged",
]


@dataclass(frozen=True)
class RequestPlanned:
    """A request exists and waits to be sent (status: pending).

    ``span`` is the chunk's character span in its document and ``key`` its request key, so
    a store can record the halves of a split chunk from the event alone.
    """

    id: ChunkId
    document: str
    pages: tuple[int, int]
    tokens: int
    at: float
    span: tuple[int, int] = (0, 0)
    key: str = ""


@dataclass(frozen=True)
class EndpointInfo:
    """One endpoint as a run starts: its name (never a key or a URL with credentials), its
    concurrency ceiling and limit, its structured-output mode, the models it serves (empty:
    any) and whether it serves this run's model."""

    name: str
    maximum: int
    limit: int
    mode: str
    models: tuple[str, ...] = ()
    serves: bool = True


@dataclass(frozen=True)
class RunStarted:
    """``limit`` is the sum of the endpoints' limits; ``endpoints`` lists them."""

    total: int
    limit: int
    provider: str
    model: str
    at: float
    endpoints: tuple[EndpointInfo, ...] = ()


@dataclass(frozen=True)
class AttemptStarted:
    """A call left for ``endpoint`` (its name)."""

    id: ChunkId
    attempt: int
    at: float
    endpoint: str = ""


@dataclass(frozen=True)
class AttemptFinished:
    """One call ended. ``outcome`` is ``"ok"`` or the error kind. The tokens are what the
    call cost (also when its answer was cut off or invalid); ``tokens_estimated`` when we
    counted them because the server did not; ``cached`` when the session answered (free).
    ``endpoint`` is the name of the endpoint that answered, ``""`` when the cache did;
    ``batch`` when it was a line of a Batch API batch (billed at the batch price)."""

    id: ChunkId
    attempt: int
    at: float
    duration: float
    outcome: str
    status: int | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    cached: bool = False
    endpoint: str = ""
    batch: bool = False


@dataclass(frozen=True)
class ChunkRetrying:
    id: ChunkId
    reason: ErrorKind
    error: str
    next_at: float
    at: float


@dataclass(frozen=True)
class ChunkCompleted:
    """A chunk has its answer. ``model`` is the model that answered; ``marked_empty`` says
    no model did: the user said the chunk holds nothing (``model`` is then empty)."""

    id: ChunkId
    attempts: int
    at: float
    duration: float
    prompt_tokens: int
    completion_tokens: int
    model: str
    candidates: tuple[RawCandidate, ...]
    raw: str
    cached: bool = False
    tokens_estimated: bool = False
    marked_empty: bool = False


@dataclass(frozen=True)
class ChunkFailed:
    id: ChunkId
    attempts: int
    at: float
    reason: ErrorKind
    message: str
    status: int | None = None
    raw: str | None = None


@dataclass(frozen=True)
class ChunkSplit:
    """A truncated answer: the chunk was replaced by two halves, planned at once."""

    id: ChunkId
    into: tuple[RequestPlanned, RequestPlanned]
    at: float


@dataclass(frozen=True)
class ChunkCancelled:
    id: ChunkId
    reason: str
    at: float


@dataclass(frozen=True)
class CoolDownStarted:
    """A 429: nothing is sent to ``endpoint`` until ``until``."""

    until: float
    reason: str
    at: float
    endpoint: str = ""


@dataclass(frozen=True)
class ConcurrencyChanged:
    """``endpoint``'s limit and ceiling changed."""

    limit: int
    maximum: int
    reason: str
    at: float
    endpoint: str = ""


@dataclass(frozen=True)
class CircuitOpened:
    """Sending to ``endpoint`` stopped: for a while (``fatal`` False, then a probe), or for
    good. ``out_of_service``: for an error of the endpoint's own (a refused key, nothing
    listening), until a probe is answered."""

    reason: str
    fatal: bool
    until: float | None
    at: float
    endpoint: str = ""
    out_of_service: bool = False


@dataclass(frozen=True)
class CircuitClosed:
    """``endpoint``'s probe was answered: it is in service again."""

    at: float
    endpoint: str = ""


@dataclass(frozen=True)
class RunPaused:
    at: float


@dataclass(frozen=True)
class RunResumed:
    at: float


@dataclass(frozen=True)
class RunFinished:
    completed: int
    failed: int
    cancelled: int
    at: float
    fatal: str | None = None


@dataclass(frozen=True)
class StructuredOutputChanged:
    """The endpoint refused a structured-output mode; it is asked in ``mode`` from now on.

    ``message`` is the one line shown to the user; ``reason`` is the server's own words.
    ``endpoint`` is its URL (the session remembers the mode by it), ``name`` its name.
    """

    endpoint: str
    previous: str
    mode: str
    message: str
    reason: str
    at: float
    name: str = ""


@dataclass(frozen=True)
class BatchChanged:
    """A batch handed to the provider's Batch API was created, or its status or counts
    changed. ``batch`` is the session's number for it, ``batch_id`` the provider's (None
    until it is created); ``requests`` is how many request lines it holds."""

    batch: int
    batch_id: str | None
    status: str
    requests: int
    completed: int
    failed: int
    at: float
    message: str | None = None
    started: float | None = None  # the provider's in_progress_at (Unix seconds)


@dataclass(frozen=True)
class BatchCollected:
    """A finished batch's output and error files were read: how many lines were usable
    answers, answers that must be asked again, failed, and never ran."""

    batch: int
    batch_id: str | None
    status: str
    answered: int
    invalid: int
    failed: int
    not_run: int
    at: float


@dataclass(frozen=True)
class SamplingDropped:
    """The endpoint refused a sampling parameter (``seed``); it is not sent from now on.

    ``reason`` is the server's own words.
    """

    endpoint: str
    parameter: str
    reason: str
    at: float


@dataclass(frozen=True)
class BudgetReached:
    """The next request would pass ``--max-cost``: ``spent`` of ``limit`` USD so far.
    ``paused``: the run waits for the cap to be raised (the app); else it stops sending."""

    spent: float
    limit: float
    at: float
    paused: bool = False


Event = (RequestPlanned | RunStarted | AttemptStarted | AttemptFinished | ChunkRetrying
         | ChunkCompleted | ChunkFailed | ChunkSplit | ChunkCancelled | CoolDownStarted
         | ConcurrencyChanged | CircuitOpened | CircuitClosed | RunPaused | RunResumed
         | RunFinished | StructuredOutputChanged | BatchChanged | BatchCollected
         | SamplingDropped | BudgetReached)

Sink = Callable[[Event], None]
