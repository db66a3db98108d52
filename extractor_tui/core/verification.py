"""The verify stage of one job: which documents it checks, their requests, their answers.

Kept out of ``job.py`` (which drives both stages through one engine) because it is all about
one question, "what does verification of this document look like now?", asked by the run,
the plan, the report and the app alike:

* A document is ready to verify when its extract stage has finished (``readout.finished``):
  no chunk left to send, and at least one answered (a chunk that failed counts as
  finished; when it is answered later, the document's ``basis`` changes and its
  verification is stale).
* Its requests are planned from its extract-stage results (``evidence.py``), keyed with the
  verify model, the evidence and the sampling (``verify.verify_key``), and registered in the
  session before they are sent, so the session records them like any chunk.
* Its verified results come from the session alone (``readout.stored_verdicts``: the
  requests it keeps, with their evidence, model and basis, and their answers in the cache),
  not from this job's settings: ``extractor export`` or the app reopening a session shows
  the verification made with another model, as long as its basis is still the document's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from extractor_tui.config import Settings
from extractor_tui.core.evidence import plan_evidence
from extractor_tui.core.fields import FieldSet
from extractor_tui.core.model import (
    ChunkId,
    ChunkOutcome,
    ChunkStatus,
    Evidence,
    FieldResult,
    RawCandidate,
    StageName,
    StageStatus,
    WorkItem,
)
from extractor_tui.core.stage_plan import (
    StagePlan,
    verdict_tokens,
    verify_estimate,
    verify_overhead,
)
from extractor_tui.core.readout import basis_of, stored_verdicts, verify_status
from extractor_tui.core.session import Session
from extractor_tui.core.structured import Mode
from extractor_tui.core.verify import VerifyStage, verify_key

__all__ = ["Verification"]

VERIFY = StageName.VERIFY.value


class Verification:
    """Plans, registers and reads back the verify requests of a job's documents."""

    def __init__(self, settings: Settings, fields: FieldSet, session: Session,
                 count_tokens: Callable[[str], int], *, routed: bool = True) -> None:
        self.settings = settings
        self.fields = fields
        self.session = session
        self.count_tokens = count_tokens
        verify = settings.stages.verify
        self.model = settings.verify_model
        self.stage = VerifyStage(fields, self.model, settings.verify_sampling(),
                                 max_tokens=verify.max_tokens,
                                 endpoint=verify.endpoint if routed else None)

    @property
    def enabled(self) -> bool:
        return self.settings.stages.verify.enabled

    def items(self, doc_id: int, path: str, results: dict[str, FieldResult],
              answered: Sequence[WorkItem]) -> list[WorkItem]:
        """The verify requests of one document, from its extract results and answered
        chunks (nothing when none was answered)."""
        if not answered:
            return []
        plans = plan_evidence(self.fields, results, answered,
                              self.settings.stages.verify.evidence_tokens)
        return [self._item(ChunkId(doc_id, n, stage=VERIFY), path, evidence)
                for n, evidence in enumerate(plans)]

    def _item(self, chunk: ChunkId, path: str, evidence: Evidence) -> WorkItem:
        key = verify_key(evidence, self.fields.subset(evidence.fields), self.model,
                         self.settings.structured_output, self.settings.verify_sampling())
        data = evidence.data
        return WorkItem(chunk, path, data, *evidence.span, evidence.page_starts,
                        self.count_tokens(data), key, evidence)

    def prepare(self, doc_id: int, path: str, results: dict[str, FieldResult],
                answered: Sequence[WorkItem]) -> list[WorkItem]:
        """Plan and register a finished document's verify requests and mark its verify
        stage; the requests not answered yet (a changed model, evidence or sampling makes
        new ones)."""
        basis = basis_of(answered)
        items = self.items(doc_id, path, results, answered)
        self.session.stages.set_requests(doc_id, VERIFY, items, model=self.model, basis=basis)
        done = {s.item.key for s in self.session.stages.requests(VERIFY, doc_id)
                if s.status == ChunkStatus.COMPLETED}
        todo = [item for item in items if item.key not in done
                or self.session.cached_answer(item.key) is None]
        self.session.stages.set_status(
            doc_id, VERIFY, StageStatus.IN_PROGRESS if todo else StageStatus.COMPLETE,
            model=self.model, basis=basis)
        return todo

    def keep_status(self, doc_id: int, answered: Sequence[WorkItem]) -> None:
        """Record where a document's verify stage stands after a run."""
        basis = basis_of(answered)
        _, outcomes = self.answers(doc_id, basis)
        self.session.stages.set_status(doc_id, VERIFY, self.status(outcomes),
                                       model=self.model, basis=basis)

    def reported_status(self, doc_id: int, answered: Sequence[WorkItem] | None,
                        stored: Mapping[tuple[int, str], tuple[StageStatus, str | None, str]]
                        ) -> str | None:
        """The verify status the report gives a document (``readout.verify_status``)."""
        return verify_status(stored, doc_id, answered, self.enabled)

    def answers(self, doc_id: int, basis: str
                ) -> tuple[list[tuple[Evidence, tuple[RawCandidate, ...]]], list[ChunkOutcome]]:
        """``readout.stored_verdicts`` of one of this job's documents."""
        return stored_verdicts(self.session, self.fields, doc_id, basis)

    def plan(self, documents: Sequence[tuple[int, str, Sequence[WorkItem],
                                             Sequence[WorkItem] | None]],
             results: Callable[[int], dict[str, FieldResult]], mode: Mode, *,
             extracting: bool, cost: Callable[[int, int], float | None]) -> StagePlan:
        """The verify stage's plan over (document id, path, chunks, answered chunks or None
        before extraction ends): exact for documents already extracted, estimated for the
        others (``stage_plan.py``), which with ``extracting`` off it does not reach."""
        overhead = verify_overhead(self.fields, mode, self.count_tokens)
        requests = cached = prompt = completion = 0
        unextracted: list[Sequence[WorkItem]] = []
        for doc_id, path, chunks, answered in documents:
            if answered is None:
                unextracted.append(chunks)
                continue
            for item in self.items(doc_id, path, results(doc_id), answered):
                if self.session.cached_answer(item.key) is not None:
                    cached += 1
                elif item.evidence is not None:
                    requests += 1
                    prompt += item.tokens + overhead
                    completion += verdict_tokens(item.evidence, self.count_tokens)
        skipped = 0 if extracting else len(unextracted)
        guessed, evidence, answers = verify_estimate(
            self.fields, unextracted if extracting else [],
            self.settings.stages.verify.evidence_tokens, self.count_tokens)
        requests += guessed
        prompt += evidence + guessed * overhead
        completion += answers
        return StagePlan(VERIFY, self.model, requests, cached, prompt, completion,
                         cost(prompt, completion), estimated=bool(guessed), skipped=skipped)

    def status(self, outcomes: Sequence[ChunkOutcome]) -> StageStatus:
        """A document's verify status from its requests' outcomes."""
        if not outcomes:
            return StageStatus.PENDING
        if all(o.status is ChunkStatus.COMPLETED for o in outcomes):
            return StageStatus.COMPLETE
        if any(o.status is ChunkStatus.FAILED for o in outcomes):
            return StageStatus.FAILED
        return StageStatus.PENDING
