"""The plan of each stage: requests, tokens and cost, priced with the stage's own model.

The extract stage's numbers are the job's (``Job.plan``). The verify stage's are exact for
documents whose extraction has finished (their evidence is known: the prompt is counted as
sent, the answer as a verdict confirming each listed value with its quote) and estimated
for the others, before anything was extracted: the built-in extractor reads a spread
sample of their chunks (at most ``SAMPLE`` of them), the share of chunks where it finds a
value stands for the share a model's candidates will cite, and each document is counted as
``ceil(evidence / evidence_tokens)`` requests carrying that share of its text plus the
candidates found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from extractor_tui.core.fields import FieldSet
from extractor_tui.core.llm.offline import MESSAGE_TOKENS, REPLY_TOKENS, offline_answer
from extractor_tui.core.model import Evidence, WorkItem
from extractor_tui.core.structured import Mode
from extractor_tui.core.verify import verify_messages

__all__ = ["SAMPLE", "StagePlan", "verdict_tokens", "verify_estimate", "verify_overhead"]

SAMPLE = 256

_VALUE_ANSWER_TOKENS = 40  # one {"value", "quote"} in a verdict, when none is known yet


@dataclass(frozen=True)
class StagePlan:
    """What one stage would send: requests (and how many the session answers), tokens,
    and the cost with the stage's model (None: not in the price table)."""

    stage: str
    model: str
    requests: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    estimated: bool = False  # some documents not extracted yet: their share is estimated
    skipped: int = 0  # documents this run cannot reach (not extracted, extract stage off)


def verify_overhead(fields: FieldSet, mode: Mode, count: Callable[[str], int]) -> int:
    """Tokens a verify request adds to its data: rules, fields, the chat format's own."""
    empty = Evidence(fields.names, "", ())
    messages = verify_messages(fields, empty, mode)
    return sum(count(m["content"]) + MESSAGE_TOKENS for m in messages) + REPLY_TOKENS


def verdict_tokens(evidence: Evidence, count: Callable[[str], int]) -> int:
    """A verdict confirming every listed value with its quote: the answer to expect."""
    listed = json.loads(evidence.extracted)
    answer = {}
    for name, entry in listed.items():
        found = entry.get("candidates", [])[:max(1, len(entry.get("candidates", [])))]
        answer[name] = {"verdict": "confirmed",
                        "values": [{"value": c["value"], "quote": c["quote"]} for c in found]}
    return count(json.dumps(answer, ensure_ascii=False))


def verify_estimate(fields: FieldSet, documents: Sequence[Sequence[WorkItem]],
                    budget_tokens: int, count: Callable[[str], int]
                    ) -> tuple[int, int, int]:
    """(requests, evidence and candidate tokens, answer tokens) for documents not yet
    extracted, each given as its chunks."""
    chunks = [item for items in documents for item in items]
    if not chunks:
        return 0, 0, 0
    step = max(1, -(-len(chunks) // SAMPLE))
    sample = chunks[::step]
    cited = 0
    listed = 0
    for item in sample:
        answer = json.loads(offline_answer(item.text, fields))
        if any(answer.values()):
            cited += 1
            listed += count(json.dumps(answer, ensure_ascii=False))
    share = cited / len(sample)
    requests = 0
    evidence = 0
    for items in documents:
        tokens = round(share * sum(item.tokens for item in items))
        evidence += tokens
        requests += max(1, -(-tokens // budget_tokens))
    listed_total = round(listed * len(chunks) / len(sample))
    answers = requests * len(fields) * _VALUE_ANSWER_TOKENS
    return requests, evidence + listed_total, answers
