"""The engine's settings, and where to cut a chunk in two.

Kept apart from ``engine.py`` so the job can build an ``EngineConfig`` from the user's
settings without reading the engine's internals; ``split_point`` is here because cutting a
chunk in two is a fact about text, used by the engine and by a user's "split and retry".
The values the engine takes and gives (``WorkItem``, ``ChunkOutcome``, ``RunResult``) are
plain types in ``model.py``; they are imported here only for ``engine.py``'s sake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extractor_tui.core.dispatch import GateConfig
from extractor_tui.core.model import ChunkOutcome, RunResult, WorkItem
from extractor_tui.core.structured import StructuredOutput

__all__ = ["ChunkOutcome", "EngineConfig", "RunResult", "WorkItem", "split_point"]


@dataclass(frozen=True)
class EngineConfig:
    """How hard to try. Built from ``Settings`` by the front ends."""

    concurrency: int = 20
    retries: int = 3
    invalid_retries: int = 2
    timeout: float = 60.0
    max_rate_limit_wait: float = 600.0
    rate_limit_floor: float = 0.5  # a chunk's first wait after a 429; doubles with each one
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_split_depth: int = 3
    min_split_chars: int = 200
    max_tokens: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    structured_output: StructuredOutput = "auto"
    structured_start: str | None = None  # the mode a previous run negotiated (session)
    # The one endpoint's breaker, cool-down and out-of-service tuning; its maximum, rpm
    # and tpm are the fields above. With several endpoints each spec has its own.
    gate: GateConfig = GateConfig()


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
