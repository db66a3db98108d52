"""Results as the session file holds them: each chunk's outcome, the merged fields, the report.

One reading of a session, shared by the ``Job`` (which adds the outcomes of its own runs on
top) and ``extractor export`` (which has nothing else). Export needs no provider, tokenizer
or engine to read a file: before this module it built a whole ``Job`` with a stand-in
offline provider, then patched the provider's name into the report, and reported none of the
tokens the session's calls had cost. Everything here only reads, so it works on a session
opened read-only (a file another run is writing, a read-only file or folder).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.merge import apply_edit, merge_document
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    Evidence,
    FieldResult,
    RawCandidate,
    StageName,
    StageStatus,
    Usage,
    WorkItem,
)
from extractor_tui.core.pricing import cost_usd
from extractor_tui.core.prompts import parse_output
from extractor_tui.core.report import (
    DocumentReport,
    RunSummary,
    StageSpend,
    build_report,
    document_report,
    failed_document,
)
from extractor_tui.core.session import Documents, Session
from extractor_tui.core.verdicts import apply_verdicts
from extractor_tui.core.verify import parse_verdicts
from extractor_tui.errors import InvalidOutput

__all__ = ["NOT_SENT", "basis_of", "document_outcomes", "extract_status", "finished",
           "merged_results", "session_report", "stored_outcomes", "stored_verdicts",
           "verify_status"]

NOT_SENT = "not sent yet"
"""The message of a chunk that has neither an answer nor a recorded failure."""


def stored_outcomes(session: Session, fields: FieldSet,
                    doc_id: Documents = None) -> dict[ChunkId, ChunkOutcome]:
    """Every leaf chunk the session has an answer for (parsed again for ``fields``), and
    every other one whose last request failed or was cancelled, with its reason; of one
    document, a page of them, or all (None)."""
    outcomes: dict[ChunkId, ChunkOutcome] = {}
    for item, content in session.completed(doc_id):
        try:
            candidates = parse_output(content, fields)
        except InvalidOutput:  # an answer stored for other fields: the chunk is to do
            continue
        outcomes[item.id] = ChunkOutcome(item, ChunkStatus.COMPLETED, 1, candidates, content,
                                         cached=True)
    for stored in session.failed_chunks(doc_id):
        if stored.item.id not in outcomes:
            outcomes[stored.item.id] = ChunkOutcome(
                stored.item, stored.status, stored.attempts, raw=stored.raw,
                reason=stored.reason, message=stored.message,
                prompt_tokens=stored.prompt_tokens, completion_tokens=stored.completion_tokens)
    return outcomes


def merged_results(session: Session, fields: FieldSet, doc_id: int,
                   outcomes: Iterable[ChunkOutcome]) -> dict[str, FieldResult]:
    """A document's fields merged from its completed chunks, the verify stage's verdicts
    applied when they were given on these chunks' answers (``verdicts.py``), with the
    user's edits on top."""
    done = [o for o in outcomes if o.status is ChunkStatus.COMPLETED]
    results = merge_document(fields, [(o.item, o.candidates) for o in done])
    applied, _ = stored_verdicts(session, fields, doc_id, basis_of([o.item for o in done]))
    if applied:
        results = apply_verdicts(fields, results, applied)
    for name, edit in session.edits(doc_id).items():
        spec = fields.get(name)
        if spec is not None and name in results:
            results[name] = apply_edit(results[name], spec, edit.value, by=edit.by,
                                       at=edit.at)
    return results


def basis_of(answered: Sequence[WorkItem]) -> str:
    """What a document's extract results rest on: the keys of its answered chunks."""
    return hashlib.sha256("\n".join(item.key for item in answered).encode()).hexdigest()


def finished(items: Sequence[WorkItem], outcomes: Sequence[ChunkOutcome]
             ) -> list[WorkItem] | None:
    """A document's answered chunks once its extract stage has finished (nothing left to
    send, one answered at least); None before."""
    status = {o.item.id: o.status for o in outcomes}
    if any(status.get(item.id) not in (ChunkStatus.COMPLETED, ChunkStatus.FAILED)
           for item in items):
        return None
    answered = [item for item in items if status[item.id] is ChunkStatus.COMPLETED]
    return answered or None


def extract_status(items: Sequence[WorkItem], outcomes: Sequence[ChunkOutcome]) -> StageStatus:
    """Where a document's extract stage stands, from its chunks' outcomes."""
    if finished(items, outcomes) is None:
        return StageStatus.PENDING
    if any(o.status is ChunkStatus.FAILED for o in outcomes):
        return StageStatus.FAILED
    return StageStatus.COMPLETE


def stored_verdicts(session: Session, fields: FieldSet, doc_id: int, basis: str
                    ) -> tuple[list[tuple[Evidence, tuple[RawCandidate, ...]]],
                               list[ChunkOutcome]]:
    """A document's answered verify requests on ``basis`` (the keys of the chunks its
    extract results rest on): (evidence, verdicts) to apply, and each request's outcome;
    requests made on another basis (chunks retried or split since) are stale and left out."""
    applied: list[tuple[Evidence, tuple[RawCandidate, ...]]] = []
    outcomes: list[ChunkOutcome] = []
    for stored in session.stages.requests(StageName.VERIFY.value, doc_id):
        item, evidence = stored.item, stored.item.evidence
        if stored.basis != basis or evidence is None:
            continue
        cached = session.cached_answer(item.key) \
            if stored.status == ChunkStatus.COMPLETED else None
        if cached is None:
            failed = stored.status == ChunkStatus.FAILED
            outcomes.append(ChunkOutcome(
                item, ChunkStatus.FAILED if failed else ChunkStatus.CANCELLED,
                stored.attempts, raw=stored.raw, message=stored.message,
                prompt_tokens=stored.prompt_tokens,
                completion_tokens=stored.completion_tokens))
            continue
        try:
            raws = parse_verdicts(cached.content, fields.subset(evidence.fields))
        except InvalidOutput:
            continue
        applied.append((evidence, raws))
        # As a restored chunk: answered before, it costs this run nothing.
        outcomes.append(ChunkOutcome(item, ChunkStatus.COMPLETED, stored.attempts, raws,
                                     cached.content, cached=True))
    return applied, outcomes


def verify_status(stored: Mapping[tuple[int, str], tuple[StageStatus, str | None, str]],
                  doc_id: int, answered: Sequence[WorkItem] | None,
                  asked: bool = False) -> str | None:
    """A document's verify status as the session keeps it (``Session.stages.statuses``),
    pending once its basis moved (``answered`` is None before extraction ends); when none
    is kept, pending if verification was ``asked`` for, else null."""
    kept = stored.get((doc_id, StageName.VERIFY.value))
    if kept is not None:
        current = answered is not None and kept[2] == basis_of(answered)
        return kept[0].value if current else StageStatus.PENDING.value
    return StageStatus.PENDING.value if asked else None


def document_outcomes(items: Sequence[WorkItem],
                      outcomes: Mapping[ChunkId, ChunkOutcome]) -> list[ChunkOutcome]:
    """The outcome of each of a document's leaf chunks, in chunk order; a chunk with none
    counts as cancelled, ``NOT_SENT``."""
    return sorted((outcomes.get(item.id) or ChunkOutcome(item, ChunkStatus.CANCELLED, 0,
                                                         message=NOT_SENT)
                   for item in items), key=lambda outcome: outcome.item.id.order())


def session_report(session: Session, fields: FieldSet, *, provider: str, model: str,
                   prices: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """The JSON report of everything the session holds (``extractor export``). Tokens, cost
    and requests are those of every call the session recorded, across all its runs."""
    outcomes = stored_outcomes(session, fields)
    items: dict[int, list[WorkItem]] = {}
    for item in session.work_items():
        items.setdefault(item.id.doc, []).append(item)
    spent = session.spent()
    statuses = session.stages.statuses()
    verifications = session.stages.requests(StageName.VERIFY.value)
    reports: list[DocumentReport] = []
    totals = {"extract": Usage(), "verify": Usage()}
    for doc in session.documents():
        if doc.error is not None:
            reports.append(failed_document(doc.path, doc.error, fields))
            continue
        chunks = items.get(doc.id, [])
        mine = document_outcomes(chunks, outcomes)
        usage = spent.get(doc.id, Usage())
        rows = [row for row in verifications if row.item.id.doc == doc.id]
        checked = Usage(sum(row.prompt_tokens for row in rows),
                        sum(row.completion_tokens for row in rows))
        totals = {"extract": totals["extract"] + usage, "verify": totals["verify"] + checked}
        costs = [cost_usd(model, usage.prompt, usage.completion, provider=provider,
                          overrides=prices)]
        costs += [cost_usd(row.model, row.prompt_tokens, row.completion_tokens,
                           provider=provider, overrides=prices) for row in rows]
        answered = finished(chunks, mine)
        _, later = stored_verdicts(session, fields, doc.id, basis_of(
            [o.item for o in mine if o.status is ChunkStatus.COMPLETED]))
        reports.append(document_report(
            doc.path, fields, mine, merged_results(session, fields, doc.id, mine),
            None if None in costs else sum(c or 0.0 for c in costs), usage + checked,
            later=later, stages={"extract": extract_status(chunks, mine).value,
                                 "verify": verify_status(statuses, doc.id, answered)}))
    requests, retries = session.request_counts()
    stages = {"extract": StageSpend(model, requests, totals["extract"].prompt,
                                    totals["extract"].completion,
                                    cost_usd(model, totals["extract"].prompt,
                                             totals["extract"].completion, provider=provider,
                                             overrides=prices))}
    if verifications:
        last = verifications[-1].model
        stages["verify"] = StageSpend(
            last, sum(row.attempts for row in verifications), totals["verify"].prompt,
            totals["verify"].completion,
            cost_usd(last, totals["verify"].prompt, totals["verify"].completion,
                     provider=provider, overrides=prices))
    summary = RunSummary.from_documents(
        reports, requests=requests + sum(row.attempts for row in verifications),
        retries=retries, elapsed_seconds=0.0, provider=provider, model=model, stages=stages)
    return build_report(reports, summary)
