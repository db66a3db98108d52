"""Results as the session file holds them: each chunk's outcome, the merged fields, the report.

One reading of a session, shared by the ``Job`` (which adds the outcomes of its own runs on
top) and ``extractor export`` (which has nothing else). Export needs no provider, tokenizer
or engine to read a file: before this module it built a whole ``Job`` with a stand-in
offline provider, then patched the provider's name into the report, and reported none of the
tokens the session's calls had cost. Everything here only reads, so it works on a session
opened read-only (a file another run is writing, a read-only file or folder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.merge import apply_edit, merge_document
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    FieldResult,
    Usage,
    WorkItem,
)
from extractor_tui.core.pricing import cost_usd
from extractor_tui.core.prompts import parse_output
from extractor_tui.core.report import (
    DocumentReport,
    RunSummary,
    build_report,
    document_report,
    failed_document,
)
from extractor_tui.core.session import Session
from extractor_tui.errors import InvalidOutput

__all__ = ["NOT_SENT", "document_outcomes", "merged_results", "session_report",
           "stored_outcomes"]

NOT_SENT = "not sent yet"
"""The message of a chunk that has neither an answer nor a recorded failure."""


def stored_outcomes(session: Session, fields: FieldSet) -> dict[ChunkId, ChunkOutcome]:
    """Every leaf chunk the session has an answer for (parsed again for ``fields``), and
    every other one whose last request failed or was cancelled, with its reason."""
    outcomes: dict[ChunkId, ChunkOutcome] = {}
    for item, content in session.completed():
        try:
            candidates = parse_output(content, fields)
        except InvalidOutput:  # an answer stored for other fields: the chunk is to do
            continue
        outcomes[item.id] = ChunkOutcome(item, ChunkStatus.COMPLETED, 1, candidates, content,
                                         cached=True)
    for stored in session.failed_chunks():
        if stored.item.id not in outcomes:
            outcomes[stored.item.id] = ChunkOutcome(
                stored.item, stored.status, stored.attempts, raw=stored.raw,
                reason=stored.reason, message=stored.message,
                prompt_tokens=stored.prompt_tokens, completion_tokens=stored.completion_tokens)
    return outcomes


def merged_results(session: Session, fields: FieldSet, doc_id: int,
                   outcomes: Iterable[ChunkOutcome]) -> dict[str, FieldResult]:
    """A document's fields merged from its completed chunks, with the user's edits on top."""
    completed = [(o.item, o.candidates) for o in outcomes if o.status is ChunkStatus.COMPLETED]
    results = merge_document(fields, completed)
    for name, edit in session.edits(doc_id).items():
        spec = fields.get(name)
        if spec is not None and name in results:
            results[name] = apply_edit(results[name], spec, edit.value, by=edit.by,
                                       at=edit.at)
    return results


def document_outcomes(items: Sequence[WorkItem],
                      outcomes: Mapping[ChunkId, ChunkOutcome]) -> list[ChunkOutcome]:
    """The outcome of each of a document's leaf chunks, in chunk order; a chunk with none
    counts as cancelled, ``NOT_SENT``."""
    return sorted((outcomes.get(item.id) or ChunkOutcome(item, ChunkStatus.CANCELLED, 0,
                                                         message=NOT_SENT)
                   for item in items), key=lambda outcome: outcome.item.id)


def session_report(session: Session, fields: FieldSet, *, provider: str, model: str,
                   prices: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """The JSON report of everything the session holds (``extractor export``). Tokens, cost
    and requests are those of every call the session recorded, across all its runs."""
    outcomes = stored_outcomes(session, fields)
    items: dict[int, list[WorkItem]] = {}
    for item in session.work_items():
        items.setdefault(item.id.doc, []).append(item)
    spent = session.spent()
    reports: list[DocumentReport] = []
    for doc in session.documents():
        if doc.error is not None:
            reports.append(failed_document(doc.path, doc.error, fields))
            continue
        mine = document_outcomes(items.get(doc.id, []), outcomes)
        usage = spent.get(doc.id, Usage())
        reports.append(document_report(
            doc.path, fields, mine, merged_results(session, fields, doc.id, mine),
            cost_usd(model, usage.prompt, usage.completion, provider=provider,
                     overrides=prices), usage))
    requests, retries = session.request_counts()
    summary = RunSummary.from_documents(reports, requests=requests, retries=retries,
                                        elapsed_seconds=0.0, provider=provider, model=model)
    return build_report(reports, summary)
