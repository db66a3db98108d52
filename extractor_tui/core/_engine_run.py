"""The engine's bookkeeping of one run: each chunk's state, the queue, the run's tasks.

Kept apart from ``engine.py`` so the engine reads as its policy (where a request goes, what
each error class costs) while the plain records it keeps while a run lasts live here.
``Run.spawn`` and ``Run.later`` make every error raised inside the run end it, so
``Engine.run`` can raise it instead of hanging or losing it in a task.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

from extractor_tui.core.dispatch import Permit
from extractor_tui.core.endpoints import Endpoint
from extractor_tui.core.llm.base import LLMRequest, LLMResponse
from extractor_tui.core.model import ChunkId, ChunkOutcome, WorkItem

__all__ = ["Admitted", "Answer", "ChunkState", "Queue", "Run"]


@dataclass
class ChunkState:
    """One chunk while a run lasts: what it has cost and spent of each budget."""

    item: WorkItem
    attempts: int = 0
    transient: int = 0
    invalid: int = 0
    waited: float = 0.0
    rate_limited: int = 0  # 429s so far: each one's wait is at least a floor that doubles
    first_start: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    repair: LLMRequest | None = None
    avoid: str | None = None  # the endpoint this chunk last failed on: others first
    done: bool = False


class Queue:
    """The chunks waiting to be sent: urgent ones first (``--priority``), then the rest.

    A retry rejoins the front of its own line, so it keeps its priority: an urgent chunk's
    retry goes before every other chunk, a normal one's before the other normal ones only.
    """

    def __init__(self, urgent: Callable[[WorkItem], bool] | None = None) -> None:
        self._urgent = urgent
        self._lines: tuple[deque[WorkItem], deque[WorkItem]] = (deque(), deque())

    def _line(self, item: WorkItem) -> deque[WorkItem]:
        return self._lines[0 if self._urgent is not None and self._urgent(item) else 1]

    def append(self, item: WorkItem) -> None:
        self._line(item).append(item)

    def appendleft(self, item: WorkItem) -> None:
        self._line(item).appendleft(item)

    def popleft(self) -> WorkItem:
        return (self._lines[0] or self._lines[1]).popleft()

    def __getitem__(self, index: int) -> WorkItem:
        if index != 0:
            raise IndexError("only the head of the queue is read")
        return (self._lines[0] or self._lines[1])[0]

    def __len__(self) -> int:
        return len(self._lines[0]) + len(self._lines[1])


@dataclass
class Run:
    """The queue, the run's tasks, each chunk's state and the outcomes so far: all of it goes
    with the run, so an engine that lives as long as the app holds no finished run's text."""

    states: dict[ChunkId, ChunkState] = field(default_factory=dict)
    ready: Queue = field(default_factory=Queue)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    open_chunks: int = 0
    running: int = 0
    outcomes: dict[ChunkId, ChunkOutcome] = field(default_factory=dict)
    cancel_reason: str | None = None
    stopped: str | None = None  # why nothing more is sent, the run not cancelled (--max-cost)
    over_cap: bool = False  # the next request waits for answers in flight (--max-cost)
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # an answer was paid for
    crash: BaseException | None = None

    def spawn(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        """A task of this run; if it raises (a bug, a sink that cannot write), the run ends
        and ``Engine.run`` raises that error, instead of hanging or losing it."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._crashed(error)

    def later(self, step: Callable[[], None]) -> None:
        """Run ``step`` soon, on this loop, with the same error handling as a task."""
        asyncio.get_running_loop().call_soon(self._guarded, step)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - re-raised by Engine.run, not swallowed
            self._crashed(error)

    def _crashed(self, error: BaseException) -> None:
        if self.crash is None:
            self.crash = error
        self.finished.set()


@dataclass(frozen=True)
class Admitted:
    """A queued chunk an endpoint admitted: where it goes and its permit there."""

    state: ChunkState
    endpoint: Endpoint
    permit: Permit


@dataclass(frozen=True)
class Answer:
    """An answer received and not yet parsed (see ``Engine._attempt``)."""

    state: ChunkState
    request: LLMRequest
    endpoint: Endpoint
    permit: Permit
    response: LLMResponse
    start: float
    attempt: int
