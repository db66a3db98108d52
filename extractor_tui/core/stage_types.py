"""The plain values that name a stage, its status and its sampling.

Apart from ``stages.py`` because the prompts (request keys), the session (stage status)
and the settings read them, while only the engine's callers need the stages themselves;
these import nothing of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Sampling", "StageName", "StageStatus"]


class StageName(StrEnum):
    """The stages, in the order they run."""

    EXTRACT = "extract"
    VERIFY = "verify"


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
