"""What the engine takes and gives: work items, its settings, each chunk's outcome.

Kept apart from ``engine.py`` because nearly everything reads these (the session, merge,
report, the app) while only the job drives the engine itself; ``split_point`` is here
because cutting a chunk in two is a fact about text, used by the engine and by a user's
"split and retry".
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from extractor_tui.core.events import ChunkId
from extractor_tui.core.prompts import RawCandidate
from extractor_tui.core.structured import StructuredOutput
from extractor_tui.errors import ErrorKind

__all__ = ["ChunkOutcome", "EngineConfig", "RunResult", "WorkItem", "split_point"]


@dataclass(frozen=True)
class WorkItem:
    """One chunk to send: its text, where it sits in the document, and its request key."""

    id: ChunkId
    document: str
    text: str
    start: int
    end: int
    page_starts: tuple[int, ...]
    tokens: int
    key: str

    def page_of(self, offset: int) -> int:
        return max(1, bisect_right(self.page_starts, offset))

    @property
    def pages(self) -> tuple[int, int]:
        return self.page_of(self.start), self.page_of(max(self.start, self.end - 1))


@dataclass(frozen=True)
class EngineConfig:
    """How hard to try. Built from ``Settings`` by the front ends."""

    concurrency: int = 20
    retries: int = 3
    invalid_retries: int = 2
    timeout: float = 60.0
    max_rate_limit_wait: float = 600.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_split_depth: int = 3
    min_split_chars: int = 200
    max_tokens: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    structured_output: StructuredOutput = "auto"
    structured_start: str | None = None  # the mode a previous run negotiated (session)


@dataclass(frozen=True)
class ChunkOutcome:
    """How one chunk ended: ``completed``, ``failed`` or ``cancelled``."""

    item: WorkItem
    status: str
    attempts: int
    candidates: tuple[RawCandidate, ...] = ()
    raw: str | None = None
    reason: ErrorKind | None = None
    message: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    tokens_estimated: bool = False


@dataclass(frozen=True)
class RunResult:
    """Every chunk's outcome in (document, chunk) order, and why the run stopped early."""

    outcomes: tuple[ChunkOutcome, ...]
    fatal: str | None
    cancelled: bool
    elapsed: float

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)


_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"[.!?][\"')\]]*\s+"), re.compile(r"\n"),
               re.compile(r"\s+"))


def split_point(text: str) -> int:
    """Where to cut a text in two: the best boundary nearest the middle (never 0 or len)."""
    middle = len(text) // 2
    low, high = len(text) // 4, len(text) * 3 // 4
    for pattern in _BOUNDARIES:
        best: int | None = None
        for match in pattern.finditer(text, low, high):
            if best is None or abs(match.end() - middle) < abs(best - middle):
                best = match.end()
        if best is not None and 0 < best < len(text):
            return best
    return max(1, middle)
