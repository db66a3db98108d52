"""The plain values every layer passes around: chunk ids, work items, outcomes, results.

Why one module of types, importing nothing but the error kinds: the engine produces these
values, and merge, the session store, the report, the tracker and the app consume them. When
they lived beside the engine, every one of those depended on the engine, and through it on
dispatch and the rate budgets; a change to how requests are sent rebuilt the whole graph. Here
they are frozen dataclasses (hashable, comparable, cheap to build), with no behaviour beyond
reading their own fields; pydantic meets them only at the edges (``serial.py``, the
report).

The layering this module anchors, checked by ``tests/test_layers.py``::

    chunking ← types (model, events, fields) ← {engine, merge, session, report} ← job
             ← {cli, ui}
"""

from __future__ import annotations

import hashlib
import os
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import total_ordering

from extractor_tui.errors import ErrorKind

__all__ = [
    "BatchState",
    "CachedAnswer",
    "BreakerState",
    "Candidate",
    "ChunkId",
    "ChunkOutcome",
    "ChunkStatus",
    "DocumentStatus",
    "EndpointHealth",
    "Evidence",
    "EvidenceChunk",
    "FieldResult",
    "FileStamp",
    "RawCandidate",
    "ResultStatus",
    "RunResult",
    "Sampling",
    "Source",
    "StageName",
    "StageStatus",
    "Usage",
    "Verdict",
    "WorkItem",
]


class ChunkStatus(StrEnum):
    """Where a chunk's request stands. A finished run leaves each chunk ``COMPLETED``,
    ``FAILED`` or ``CANCELLED`` (``ChunkOutcome.status``); the tracker also shows the states
    on the way there, and ``SPLIT`` for a chunk replaced by its two halves. The values are
    what the session file and the JSON report hold."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SPLIT = "split"


class DocumentStatus(StrEnum):
    """A document in the session: read (with its chunks), or not, with the reason."""

    LOADED = "loaded"
    FAILED = "failed"


class ResultStatus(StrEnum):
    """A document in the report: every chunk answered and every field valid, some of it, or
    no result at all (the JSON report's ``status``)."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"


class BreakerState(StrEnum):
    """Whether an endpoint takes requests: yes (``closed``); not for a while after most of its
    recent calls failed, then one probe (``open``); not until a probe is answered after an
    error of its own, a refused key or no one listening (``out-of-service``); never again
    in this run (``stopped``)."""

    CLOSED = "closed"
    OPEN = "open"
    OUT_OF_SERVICE = "out-of-service"
    STOPPED = "stopped"


@dataclass(frozen=True)
class EndpointHealth:
    """One endpoint as the Run screen, the CLI summary and the JSON ``summary`` show it.

    ``answers`` are calls it answered with HTTP 200 (whatever the content), ``rate_limited``
    its 429s, ``errors`` every other failed call (5xx, 4xx, timeouts, refused connections);
    calls answered from the session's cache count for none. ``reason`` says why the breaker
    is not closed; ``mode`` is its structured-output mode.
    """

    name: str
    models: tuple[str, ...] = ()
    serves: bool = True
    maximum: int = 0
    limit: int = 0
    in_flight: int = 0
    answers: int = 0
    rate_limited: int = 0
    errors: int = 0
    breaker: BreakerState = BreakerState.CLOSED
    reason: str | None = None
    mode: str = ""
    cooling_until: float | None = None

    @property
    def requests(self) -> int:
        return self.answers + self.rate_limited + self.errors


@total_ordering
@dataclass(frozen=True)
class ChunkId:
    """(document, chunk), plus the path of halves when a truncated chunk was split, and the
    stage the request belongs to: a verify request of a document is ``ChunkId(doc, n,
    stage="verify")``, its n-th (usually only) part.

    Ordered, so results sort deterministically whatever order they completed in: by
    document, then the extract stage's chunks before the later stages' requests.
    """

    doc: int
    chunk: int
    part: tuple[int, ...] = ()
    stage: str = "extract"

    def __post_init__(self) -> None:
        # Hashed once: every event, outcome and table row of a run looks its chunk up by id,
        # and the generated ``__hash__`` built a tuple each time (36,000 hashes, 15 ms, as a
        # 12,000-chunk run ended).
        object.__setattr__(self, "_hash", hash((self.doc, self.chunk, self.part, self.stage)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]

    @property
    def label(self) -> str:
        """``"3"``, or ``"3.1.0"`` for the first half of the second half of chunk 3;
        ``"verify-1"`` for the first verify request of a document."""
        if self.stage != "extract":
            return f"{self.stage}-{self.chunk + 1}"
        return ".".join(str(n) for n in (self.chunk, *self.part))

    def halves(self) -> tuple[ChunkId, ChunkId]:
        return (ChunkId(self.doc, self.chunk, (*self.part, 0), self.stage),
                ChunkId(self.doc, self.chunk, (*self.part, 1), self.stage))

    def order(self) -> tuple[int, bool, str, int, tuple[int, ...]]:
        """The sort key: ``sorted(ids, key=ChunkId.order)`` compares tuples in C, 4x faster
        than ``__lt__`` (sorting a run's 12,000 outcomes took the loop 32 ms that way)."""
        return self.doc, self.stage != "extract", self.stage, self.chunk, self.part

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ChunkId):
            return NotImplemented
        return self.order() < other.order()


class StageName(StrEnum):
    """The stages, in the order they run."""

    EXTRACT = "extract"
    VERIFY = "verify"


class BatchState(StrEnum):
    """Where a batch handed to a Batch API stands: OpenAI's states, and ``uploaded`` (made
    here, not yet known to have reached the provider). A server's own word is kept as the
    string it sent; these compare equal to it."""

    UPLOADED = "uploaded"
    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


class StageStatus(StrEnum):
    """Where one stage stands for one document (kept in the session)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Sampling:
    """How a stage's model samples; None leaves the server's default (and sends nothing)."""

    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None

    def key_part(self) -> list[object] | None:
        """What the request key adds for this sampling; None when nothing is set."""
        if self == Sampling():
            return None
        return ["sampling", self.temperature, self.top_p, self.seed]


class Verdict(StrEnum):
    """What the verify stage says of a field's value."""

    CONFIRMED = "confirmed"  # the extracted value is what the text states
    CORRECTED = "corrected"  # the text states another value, given instead
    NOT_FOUND = "not_found"  # the text given does not state the field


@dataclass(frozen=True)
class EvidenceChunk:
    """The text of one chunk a candidate came from, and where it sits in the document."""

    label: str
    start: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """What one verify request carries: the fields it checks, their extracted values and
    candidates (``extracted``, JSON), and the text of every chunk a candidate came from.

    ``data`` is what goes between the delimiters, and what the request key hashes; a quote
    in the answer is grounded only in ``chunks``, never in ``extracted`` (a quote of the
    listed candidates would prove nothing).
    """

    fields: tuple[str, ...]
    extracted: str
    chunks: tuple[EvidenceChunk, ...]
    page_starts: tuple[int, ...] = (0,)

    @property
    def data(self) -> str:
        parts = ["Extracted values (JSON):", self.extracted]
        for chunk in self.chunks:
            parts += ["", f"Chunk {chunk.label} (page {self.page_of(chunk.start)}):",
                      chunk.text]
        return "\n".join(parts)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data.encode("utf-8", "surrogatepass")).hexdigest()

    def page_of(self, offset: int) -> int:
        return max(1, bisect_right(self.page_starts, offset))

    @property
    def span(self) -> tuple[int, int]:
        """Where its chunks lie in the document, first start to last end ((0, 0): none)."""
        if not self.chunks:
            return 0, 0
        return (min(c.start for c in self.chunks),
                max(c.start + len(c.text) for c in self.chunks))


@dataclass(frozen=True)
class WorkItem:
    """One request to send: a chunk (its text, where it sits in the document, its request
    key) or, for the verify stage, a document's ``evidence`` (``text`` is then its data)."""

    id: ChunkId
    document: str
    text: str
    start: int
    end: int
    page_starts: tuple[int, ...]
    tokens: int
    key: str
    evidence: Evidence | None = None

    def page_of(self, offset: int) -> int:
        return max(1, bisect_right(self.page_starts, offset))

    @property
    def pages(self) -> tuple[int, int]:
        return self.page_of(self.start), self.page_of(max(self.start, self.end - 1))


@dataclass(frozen=True)
class Usage:
    """Prompt and completion tokens; ``estimated`` when any part was counted by us."""

    prompt: int = 0
    completion: int = 0
    estimated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt + other.prompt, self.completion + other.completion,
                     self.estimated or other.estimated)

    @classmethod
    def total(cls, parts: Iterable[Usage]) -> Usage:
        result = cls()
        for part in parts:
            result += part
        return result


@dataclass(frozen=True)
class RawCandidate:
    """One value a model offered for a field, before grounding and coercion; a verify
    answer's values carry the field's ``verdict`` (``not_found`` with an empty value)."""

    field: str
    value: str
    quote: str
    confidence: float | None
    verdict: str | None = None


@dataclass(frozen=True)
class ChunkOutcome:
    """How one chunk ended: ``completed``, ``failed`` or ``cancelled``."""

    item: WorkItem
    status: ChunkStatus
    attempts: int
    candidates: tuple[RawCandidate, ...] = ()
    raw: str | None = None
    reason: ErrorKind | None = None
    message: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    tokens_estimated: bool = False
    batch: bool = False  # answered through the Batch API: billed at the batch price


@dataclass(frozen=True)
class RunResult:
    """Every chunk's outcome in (document, chunk) order, and why the run stopped early."""

    outcomes: tuple[ChunkOutcome, ...]
    fatal: str | None
    cancelled: bool
    elapsed: float
    budget: str | None = None  # the run stopped at --max-cost: the line that says so

    @staticmethod
    def joined(results: Sequence[RunResult]) -> RunResult:
        """The stages' engine runs as one: outcomes in order, the first fatal reason and
        the first cost cap's line."""
        if len(results) == 1:
            return results[0]
        fatal = next((r.fatal for r in results if r.fatal), None)
        budget = next((r.budget for r in results if r.budget), None)
        return RunResult(tuple(o for r in results for o in r.outcomes), fatal,
                         any(r.cancelled for r in results), sum(r.elapsed for r in results),
                         budget)

    def count(self, status: ChunkStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


@dataclass(frozen=True)
class CachedAnswer:
    """An answer the session holds for a request key, with what the call that got it cost."""

    content: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class FileStamp:
    """A file's size and modification time (ns): unchanged means it need not be read again
    (git's index makes the same bet)."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStamp:
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class Candidate:
    """One value a model offered for a field, grounded and coerced.

    ``normalized`` is the coerced value (None when coercion failed, then ``error`` says
    why). ``page`` is the page of the quote when it was found, else the chunk's first page;
    ``offset`` is the quote's character offset in the document (None when not found).
    """

    field: str
    value: str
    normalized: object
    error: str | None
    quote: str
    chunk: str
    page: int | None
    grounded: bool
    confidence: float | None
    offset: int | None = None
    stage: str = "extract"


@dataclass(frozen=True)
class Source:
    """Where a value was read: chunk label, page, and the model's quote."""

    chunk: str
    page: int | None
    quote: str


@dataclass(frozen=True)
class FieldResult:
    """The merged value of one field, with everything a reviewer needs to judge it.

    ``value`` is the coerced value when valid and the raw value otherwise (a list for list
    fields, None when nothing was found). ``conflicts`` holds, for scalars, one grounded
    candidate per other value the document supports. ``verified`` is the verify stage's
    verdict when it took effect (``verdicts.py``), and ``stage`` the stage the value came
    from.
    """

    name: str
    value: object
    valid: bool
    errors: tuple[str, ...] = ()
    grounded: bool = False
    sources: tuple[Source, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    conflicts: tuple[Candidate, ...] = ()
    edited: bool = False
    edited_by: str | None = None
    edited_at: str | None = None
    verified: str | None = None
    stage: str = "extract"
