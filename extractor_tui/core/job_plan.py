"""What a Job hands its front ends about the work: each document with its chunks
(``DocumentEntry``) and what a run would send and cost before anything is spent (``Plan``).
Plain frozen values, apart from ``job.py`` so a screen can name them without the Job."""

from __future__ import annotations

from dataclasses import dataclass

from extractor_tui.core.model import WorkItem
from extractor_tui.core.stage_plan import StagePlan

__all__ = ["DocumentEntry", "Plan"]


@dataclass(frozen=True)
class DocumentEntry:
    """A document in the session: loaded (with its chunks) or failed (with the reason)."""

    doc_id: int
    path: str
    pages: int
    error: str | None
    items: tuple[WorkItem, ...]
    notes: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return sum(item.tokens for item in self.items)


@dataclass(frozen=True)
class Plan:
    """What a run would send, before anything is spent (``--dry-run``, the TUI's confirm)."""

    documents: int
    failed_documents: int
    pages: int
    chunks: int
    to_send: int
    cached: int
    chunk_tokens: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    provider: str
    model: str
    tokenizer: str
    model_cost_usd: float | None = None  # what the model would cost, even when offline
    batch_cost_usd: float | None = None  # the same requests through the Batch API
    in_batches: int = 0  # chunks waiting in a batch already submitted (not sent again)
    urgent: int = 0  # of ``to_send``, the urgent chunks, sent first
    urgent_documents: tuple[str, ...] = ()  # the documents they are in, in order
    stages: tuple[StagePlan, ...] = ()
    """Each stage that would run, priced with its own model; the fields above are the
    extract stage's."""

    @property
    def total_cost_usd(self) -> float | None:
        """Every stage's cost together; None when one is unknown."""
        costs = [stage.cost_usd for stage in self.stages] or [self.cost_usd]
        return None if None in costs else sum(c or 0.0 for c in costs)
