"""Helpers for engine tests: work items from plain text, an event recorder, a run over HTTP.

Kept apart from the tests so the CLI and app tests can build the same fixtures.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from extractor_tui.core.engine import Engine, EngineConfig
from extractor_tui.core.events import Event
from extractor_tui.core.fields import FieldSet, FieldSpec, FieldType
from extractor_tui.core.llm.openai_client import OpenAIClient
from extractor_tui.core.model import ChunkId, RunResult, WorkItem
from extractor_tui.core.tracker import RequestTracker

FIELDS = FieldSet((FieldSpec("total", FieldType.NUMBER, description="amount due"),
                   FieldSpec("parties", FieldType.STRING, many=True)))

FAST = EngineConfig(concurrency=20, retries=4, timeout=2.0, backoff_base=0.01,
                    backoff_cap=0.05, rate_limit_floor=0.01)


def items(n: int, *, doc: int = 0, words: int = 60) -> list[WorkItem]:
    """``n`` chunks of one synthetic document, each with a few sentences of text."""
    out = []
    pos = 0
    for i in range(n):
        text = " ".join(f"Sentence {i}.{j} says the total is {j}." for j in range(words // 6))
        key = hashlib.sha256(f"{doc}:{i}:{text}".encode()).hexdigest()
        out.append(WorkItem(ChunkId(doc, i), f"doc{doc}.txt", text, pos, pos + len(text),
                            (0,), len(text) // 4, key))
        pos += len(text)
    return out


@dataclass
class Recorder:
    """A sink that keeps every event and feeds a tracker."""

    events: list[Event] = field(default_factory=list)
    tracker: RequestTracker = field(default_factory=RequestTracker)

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self.tracker.apply(event)

    def of(self, kind: type) -> list[Event]:
        return [event for event in self.events if isinstance(event, kind)]


def engine_for(base_url: str, recorder: Recorder, config: EngineConfig = FAST,
               fields: FieldSet = FIELDS) -> Engine:
    client = OpenAIClient(base_url=base_url, api_key="sk-test-not-a-key", timeout=config.timeout)
    return Engine(client, fields, model="loopback-1", config=config, sink=recorder,
                  rng=random.Random(7))


async def run_over(base_url: str, work: Sequence[WorkItem], config: EngineConfig = FAST,
                   recorder: Recorder | None = None) -> tuple[RunResult, Recorder]:
    recorder = recorder or Recorder()
    engine = engine_for(base_url, recorder, config)
    try:
        result = await engine.run(work)
    finally:
        await engine.aclose()
    return result, recorder
