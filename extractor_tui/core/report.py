"""The JSON result document: a contract that other tools script against.

Shape (every key always present; extra keys may be added, never removed or renamed)::

    {"version": 1,
     "documents": [{"path", "status": "complete" | "partial" | "failed", "error",
                    "fields": {NAME: {"value", "valid", "errors", "grounded",
                                      "sources": [{"chunk", "page", "quote"}],
                                      "candidates", "conflicts", "edited", ...,
                                      "verified", "stage"}},
                    "chunks": {"total", "completed", "failed", "cancelled"},
                    "failed_chunks": [{"chunk", "error", "reason", "attempts", "pages",
                                       "text", "raw"}],
                    "tokens": {"prompt", "completion", "estimated"}, "cost_usd",
                    "stages": {"extract": STATUS, "verify": STATUS | null}}],
     "skipped": [{"path", "reason"}],
     "summary": {"documents", "chunks", "requests", "retries", "failed_chunks",
                 "prompt_tokens", "completion_tokens", "tokens_estimated", "cost_usd",
                 "elapsed_seconds", "provider", "model", "fatal", "cancelled", "skipped",
                 "batch": {"requests", "prompt_tokens", "completion_tokens", "cost_usd"},
                 "stages": {STAGE: {"model", "requests", "prompt_tokens",
                                    "completion_tokens", "cost_usd"}},
                 "endpoints": [{"name", "models", "requests", "answers", "rate_limited",
                                "errors", "breaker", "reason", "mode", "limit",
                                "maximum"}]}}

``summary.batch`` is what this run had answered through the Batch API, billed at the batch
price (its tokens and cost are also in the totals).

A field's ``verified`` is the verify stage's verdict where it took effect (``confirmed``,
``corrected``, ``not_found``; null otherwise) and ``stage`` the stage its value came from.
A document's tokens and cost are its chunks' and its verify requests' together; a failed
verify request is listed in ``failed_chunks`` (chunk ``verify-1``) and makes the document
``partial``, as a failed chunk does; ``chunks`` counts chunks only.

Why dataclasses first and a dict last: the dataclasses below have exactly the JSON's shape
(``DocumentReport.chunks`` is the ``chunks`` object, ``tokens`` the ``tokens`` one), and
``build_report`` has pydantic write them out, so the contract is the types themselves, with
no hand-written ``to_dict`` to fall out of step (its test asserts the key sets). Cancelled chunks
count as failed in ``chunks.failed`` and appear in ``failed_chunks`` (reason
``cancelled``), because for the user both mean "not extracted yet, retry me".

Tokens and cost are what the calls of this job cost: every attempt that got an answer, the
cut-off and invalid ones included, never an answer the session already held. ``estimated``
is true when some of them were counted by us because the server reported no usage.

Exit codes (``exit_code``), documented for scripts: 0 every document complete; 1 results
exist but some document, chunk or field failed; 2 no document produced any result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pydantic

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.model import (
    ChunkOutcome,
    ChunkStatus,
    EndpointHealth,
    FieldResult,
    ResultStatus,
    Usage,
)
from extractor_tui.exits import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from extractor_tui.core.serial import warm as warm_results

__all__ = [
    "NOT_LOADED",
    "REPORT_VERSION",
    "BatchBilling",
    "ChunkCounts",
    "DocumentReport",
    "EndpointSummary",
    "FailedChunk",
    "Report",
    "RunSummary",
    "SkippedFile",
    "StageSpend",
    "assemble_report",
    "build_report",
    "document_json",
    "warm",
    "document_report",
    "exit_code",
    "failed_document",
]

REPORT_VERSION = 1
"""Bumped only when a key is removed or changes meaning."""

NOT_LOADED = "document not loaded"
"""The error of every field of a document that did not load."""


@dataclass(frozen=True)
class FailedChunk:
    """A chunk that failed or was cancelled: what to show, and what a retry needs."""

    chunk: str
    error: str
    reason: str
    attempts: int
    pages: tuple[int, int]
    text: str
    raw: str | None


@dataclass(frozen=True)
class ChunkCounts:
    """How a document's chunks went; ``failed`` counts the cancelled ones too."""

    total: int
    completed: int
    failed: int
    cancelled: int = 0


@dataclass(frozen=True)
class DocumentReport:
    """One document's results and how its chunks went; ``tokens`` is what its calls cost."""

    path: str
    status: ResultStatus
    error: str | None
    fields: dict[str, FieldResult]
    chunks: ChunkCounts
    failed_chunks: tuple[FailedChunk, ...]
    tokens: Usage
    cost_usd: float | None
    stages: dict[str, str | None] = field(default_factory=dict)


def _status(loaded: bool, completed: int, failed: int,
            fields: dict[str, FieldResult]) -> ResultStatus:
    if not loaded or completed == 0:
        return ResultStatus.FAILED
    if failed or not all(result.valid for result in fields.values()):
        return ResultStatus.PARTIAL
    return ResultStatus.COMPLETE


def _failed_chunk(outcome: ChunkOutcome) -> FailedChunk:
    reason = str(outcome.reason or outcome.status)
    return FailedChunk(chunk=outcome.item.id.label, error=outcome.message or reason,
                       reason=reason, attempts=outcome.attempts, pages=outcome.item.pages,
                       text=outcome.item.text, raw=outcome.raw)


def document_report(path: str, fields: FieldSet, outcomes: Sequence[ChunkOutcome],
                    results: dict[str, FieldResult], cost_usd: float | None,
                    tokens: Usage | None = None, *, later: Sequence[ChunkOutcome] = (),
                    stages: Mapping[str, str | None] | None = None) -> DocumentReport:
    """The report of a loaded document from its chunks' outcomes and merged results;
    ``tokens`` is what its calls cost (else the outcomes' own totals); ``later`` are its
    verify requests' outcomes, ``stages`` its status per stage."""
    if tokens is None:
        tokens = Usage(sum(o.prompt_tokens for o in outcomes),
                       sum(o.completion_tokens for o in outcomes),
                       any(o.tokens_estimated for o in outcomes))
    ordered = {name: results[name] for name in fields.names if name in results}
    ordered.update((name, result) for name, result in results.items() if name not in ordered)
    completed = sum(1 for outcome in outcomes if outcome.status is ChunkStatus.COMPLETED)
    cancelled = sum(1 for outcome in outcomes if outcome.status is ChunkStatus.CANCELLED)
    failed = len(outcomes) - completed
    status = _status(True, completed, failed, ordered)
    if status is ResultStatus.COMPLETE and any(o.status is ChunkStatus.FAILED for o in later):
        status = ResultStatus.PARTIAL
    return DocumentReport(
        path=path, status=status, error=None,
        fields=ordered, chunks=ChunkCounts(len(outcomes), completed, failed, cancelled),
        failed_chunks=tuple(_failed_chunk(o) for o in (*outcomes, *later)
                            if o.status is not ChunkStatus.COMPLETED),
        tokens=tokens, cost_usd=cost_usd, stages=dict(stages or {}))


def failed_document(path: str, error: str, fields: FieldSet) -> DocumentReport:
    """The report of a document that did not load: every field empty and invalid."""
    empty = {spec.name: FieldResult(spec.name, [] if spec.many else None, valid=False,
                                    errors=(NOT_LOADED,)) for spec in fields}
    return DocumentReport(path=path, status=ResultStatus.FAILED, error=error, fields=empty,
                          chunks=ChunkCounts(0, 0, 0), failed_chunks=(), tokens=Usage(),
                          cost_usd=0.0)


@dataclass(frozen=True)
class BatchBilling:
    """The answers a run got through the Batch API, at the batch price."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0


@dataclass(frozen=True)
class StageSpend:
    """What one stage's calls cost in a run, with its own model's price."""

    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


@dataclass(frozen=True, kw_only=True)
class EndpointSummary:
    """One endpoint in ``summary.endpoints``: its name only (never a key or a URL), its calls
    answered (HTTP 200), its 429s and other failed calls, its breaker and why it is not
    closed, its structured-output mode, and its concurrency limit and ceiling."""

    name: str
    models: tuple[str, ...]
    requests: int
    answers: int
    rate_limited: int
    errors: int
    breaker: str
    reason: str | None
    mode: str
    limit: int
    maximum: int

    @classmethod
    def of(cls, health: EndpointHealth) -> EndpointSummary:
        return cls(name=health.name, models=health.models, requests=health.requests,
                   answers=health.answers, rate_limited=health.rate_limited,
                   errors=health.errors, breaker=health.breaker.value, reason=health.reason,
                   mode=health.mode, limit=health.limit, maximum=health.maximum)


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """The run as a whole. ``cost_usd`` is None when the price of the model is unknown."""

    documents: int
    chunks: int
    requests: int
    retries: int
    failed_chunks: int
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool = False
    cost_usd: float | None
    elapsed_seconds: float
    provider: str
    model: str
    fatal: str | None = None
    cancelled: bool = False
    skipped: int = 0
    batch: BatchBilling = BatchBilling()
    stages: dict[str, StageSpend] = field(default_factory=dict)
    endpoints: tuple[EndpointSummary, ...] = ()

    @classmethod
    def from_documents(cls, documents: Sequence[DocumentReport], *, requests: int,
                       retries: int, elapsed_seconds: float, provider: str, model: str,
                       fatal: str | None = None, cancelled: bool = False,
                       skipped: int = 0, batch: BatchBilling = BatchBilling(),
                       stages: Mapping[str, StageSpend] | None = None,
                       endpoints: Sequence[EndpointHealth] = ()) -> RunSummary:
        """Totals summed from the documents; request counts come from the tracker.

        The cost is None as soon as one document that sent chunks has an unknown cost: a
        partial sum would understate what the run cost.
        """
        costs = [d.cost_usd for d in documents if d.chunks.total]
        cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
        return cls(documents=len(documents), chunks=sum(d.chunks.total for d in documents),
                   requests=requests, retries=retries,
                   failed_chunks=sum(d.chunks.failed for d in documents),
                   prompt_tokens=sum(d.tokens.prompt for d in documents),
                   completion_tokens=sum(d.tokens.completion for d in documents),
                   tokens_estimated=any(d.tokens.estimated for d in documents),
                   cost_usd=cost, elapsed_seconds=round(elapsed_seconds, 3),
                   provider=provider, model=model, fatal=fatal, cancelled=cancelled,
                   skipped=skipped, batch=batch, stages=dict(stages or {}),
                   endpoints=tuple(EndpointSummary.of(health) for health in endpoints))


@dataclass(frozen=True)
class SkippedFile:
    """A file passed over while walking a folder, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Report:
    """The whole JSON result; ``build_report`` writes it out."""

    version: int
    documents: tuple[DocumentReport, ...]
    skipped: tuple[SkippedFile, ...]
    summary: RunSummary


@cache
def _adapter() -> pydantic.TypeAdapter[Report]:
    return pydantic.TypeAdapter(Report)


@cache
def _document_adapter() -> pydantic.TypeAdapter[DocumentReport]:
    return pydantic.TypeAdapter(DocumentReport)


def warm() -> None:
    """Build the report's serialisers now (pydantic makes each on first use, 80 ms): the
    CLI does it before its event loop starts (``cli_run.prepare``), not on the loop at the
    run's end; the stored results' one with them."""
    _adapter()
    _document_adapter()
    warm_results()


def build_report(documents: Sequence[DocumentReport], summary: RunSummary,
                 skipped: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The JSON-serialisable report: documents in the given order, fields in field order,
    and the (path, reason) of each file skipped while walking a folder."""
    return assemble_report([document_json(document) for document in documents], summary,
                           skipped)


def document_json(document: DocumentReport) -> dict[str, Any]:
    """One document of the report as JSON data: a pass over 10,000 documents writes them
    one at a time (one call for the whole report held the event loop 0.8 s)."""
    data: dict[str, Any] = _document_adapter().dump_python(document, mode="json")
    return data


def assemble_report(documents: list[dict[str, Any]], summary: RunSummary,
                    skipped: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The report around documents ``document_json`` wrote, in the order of ``Report``."""
    report = Report(REPORT_VERSION, (),
                    tuple(SkippedFile(path, reason) for path, reason in skipped), summary)
    data: dict[str, Any] = _adapter().dump_python(report, mode="json")
    data["documents"] = documents
    return data


def exit_code(report: dict[str, Any]) -> int:
    """0 all complete · 1 results exist but something failed · 2 no result at all."""
    statuses = [document.get("status") for document in report.get("documents", ())]
    if not statuses or all(status == ResultStatus.FAILED for status in statuses):
        return EXIT_USAGE
    return EXIT_OK if all(status == ResultStatus.COMPLETE for status in statuses) \
        else EXIT_PARTIAL
