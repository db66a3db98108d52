"""RequestTracker: replay hand-written and random event lists, check rows and the summary."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from extractor_tui.core.events import (
    AttemptFinished,
    AttemptStarted,
    ChunkCancelled,
    ChunkCompleted,
    ChunkFailed,
    ChunkRetrying,
    ChunkSplit,
    CircuitClosed,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    Event,
    RequestPlanned,
    RunFinished,
    RunPaused,
    RunResumed,
    RunStarted,
)
from extractor_tui.core.model import ChunkId
from extractor_tui.core.model import ChunkStatus
from extractor_tui.core.tracker import Attempt, RequestTracker
from extractor_tui.errors import ErrorKind

A = ChunkId(0, 0)
B = ChunkId(0, 1)
C = ChunkId(1, 0)


def planned(chunk: ChunkId, at: float = 0.0, tokens: int = 100) -> RequestPlanned:
    return RequestPlanned(chunk, f"doc{chunk.doc}.pdf", (1, 2), tokens, at)


def completed(chunk: ChunkId, at: float, duration: float, *, attempts: int = 1,
              prompt: int = 0, completion: int = 0, model: str = "gpt-test",
              cached: bool = False) -> ChunkCompleted:
    return ChunkCompleted(chunk, attempts, at, duration, prompt, completion, model, (),
                          '{"fields": []}', cached)


def started(total: int = 1, at: float = 0.0, limit: int = 4) -> RunStarted:
    return RunStarted(total, limit, "openai", "gpt-test", at)


def replay(*events: Event) -> RequestTracker:
    tracker = RequestTracker()
    for event in events:
        tracker.apply(event)
    return tracker


# -- one request's life ----------------------------------------------------------------------


def test_a_request_that_completes_first_time() -> None:
    tracker = replay(
        started(at=0.0), planned(A),
        AttemptStarted(A, 1, 1.0),
        AttemptFinished(A, 1, 3.0, 2.0, "ok", 200, None, 50, 20),
        completed(A, 3.0, 2.0, prompt=50, completion=20, model="gpt-4o-2024"))
    row = tracker.rows[A]
    assert row.status is ChunkStatus.COMPLETED
    assert row.attempt_count == 1
    assert row.attempts == [Attempt(1, 1.0, 3.0, "ok", 200, None, 50, 20)]
    assert row.processing_time == 2.0
    assert (row.prompt_tokens, row.completion_tokens) == (50, 20)
    assert row.model_name == "gpt-4o-2024"
    assert row.raw == '{"fields": []}' and not row.cached
    assert (row.document, row.pages, row.token_count) == ("doc0.pdf", (1, 2), 100)
    summary = tracker.summary()
    assert summary.counts[ChunkStatus.COMPLETED] == 1 and summary.total == 1 and summary.done == 1
    assert summary.average == summary.p50 == summary.p95 == summary.p99 == 2.0
    assert (summary.prompt_tokens, summary.completion_tokens) == (50, 20)
    assert summary.elapsed == 3.0
    assert summary.throughput == pytest.approx(1 / 3)
    assert (summary.provider, summary.model, summary.limit, summary.maximum) == (
        "openai", "gpt-test", 4, 4)
    assert not summary.finished and summary.in_flight == 0


def test_in_progress_while_an_attempt_runs() -> None:
    tracker = replay(started(), planned(A), planned(B), AttemptStarted(A, 1, 0.5))
    assert tracker.rows[A].status is ChunkStatus.IN_PROGRESS
    assert tracker.rows[B].status is ChunkStatus.PENDING
    assert tracker.in_flight() == 1
    assert tracker.summary().in_flight == 1
    assert tracker.rows[A].attempts == [Attempt(1, 0.5)]


def test_retrying_shows_the_reason_and_the_next_attempt() -> None:
    tracker = replay(
        started(), planned(A),
        AttemptStarted(A, 1, 1.0),
        AttemptFinished(A, 1, 2.0, 1.0, "transient", 503, "503 server error"),
        ChunkRetrying(A, ErrorKind.TRANSIENT, "503 server error", 5.5, 2.0))
    row = tracker.rows[A]
    assert tracker.rows[A].status is ChunkStatus.RETRYING
    assert (row.reason, row.error, row.next_attempt_at) == ("transient", "503 server error",
                                                            5.5)
    assert tracker.summary().retries == {"transient": 1}
    tracker.apply(AttemptStarted(A, 2, 5.5))
    assert tracker.rows[A].status is ChunkStatus.IN_PROGRESS and row.next_attempt_at is None
    tracker.apply(AttemptFinished(A, 2, 6.0, 0.5, "ok", 200, None, 10, 5))
    tracker.apply(completed(A, 6.0, 5.0, attempts=2, prompt=10, completion=5))
    assert row.status is ChunkStatus.COMPLETED and row.attempt_count == 2
    assert [a.outcome for a in row.attempts] == ["transient", "ok"]
    assert row.attempts[0].status == 503 and row.attempts[0].error == "503 server error"
    assert row.processing_time == 5.0


def test_rate_limit_retries_are_counted_by_kind() -> None:
    tracker = replay(started(), planned(A), planned(B))
    for chunk in (A, B):
        tracker.apply(AttemptStarted(chunk, 1, 0.0))
        tracker.apply(ChunkRetrying(chunk, ErrorKind.BACK_PRESSURE, "429", 2.0, 0.5))
    tracker.apply(AttemptStarted(A, 2, 2.0))
    tracker.apply(ChunkRetrying(A, ErrorKind.INVALID_OUTPUT, "not JSON", 3.0, 3.0))
    assert tracker.summary().retries == {"back-pressure": 2, "invalid-output": 1}
    assert tracker.summary().counts[ChunkStatus.RETRYING] == 2


def test_failed_keeps_the_reason_and_the_error() -> None:
    tracker = replay(
        started(), planned(A),
        AttemptStarted(A, 1, 1.0),
        AttemptFinished(A, 1, 1.5, 0.5, "fatal", 401, "401 invalid API key"),
        ChunkFailed(A, 1, 1.5, ErrorKind.FATAL, "401 invalid API key", 401, "raw body"))
    row = tracker.rows[A]
    assert row.status is ChunkStatus.FAILED
    assert (row.reason, row.error, row.raw) == ("fatal", "401 invalid API key", "raw body")
    assert row.next_attempt_at is None and row.processing_time is None
    summary = tracker.summary()
    assert summary.counts[ChunkStatus.FAILED] == 1 and summary.done == 1 and summary.p50 is None


def test_split_marks_the_parent_and_plans_the_halves() -> None:
    first, second = A.halves()
    tracker = replay(
        started(), planned(A, tokens=800),
        AttemptStarted(A, 1, 1.0),
        AttemptFinished(A, 1, 2.0, 1.0, "truncated", 200, "cut at the token limit", 800, 4096),
        ChunkSplit(A, (planned(first, 2.0, 400), planned(second, 2.0, 400)), 2.0))
    parent = tracker.rows[A]
    assert parent.status is ChunkStatus.SPLIT and parent.reason == "truncated"
    assert parent.attempt_count == 1
    assert list(tracker.rows) == [A, first, second]
    for half in (first, second):
        assert tracker.rows[half].status is ChunkStatus.PENDING
        assert tracker.rows[half].token_count == 400
    summary = tracker.summary()
    assert summary.counts[ChunkStatus.SPLIT] == 1 and summary.counts[ChunkStatus.PENDING] == 2
    assert summary.total == 2  # a split row is not a request any more
    assert summary.retries == {"truncated": 1}
    assert summary.prompt_tokens == 800 and summary.completion_tokens == 4096
    assert first.label == "0.0" and second.label == "0.1"


def test_cancelled_closes_an_open_attempt() -> None:
    tracker = replay(started(), planned(A), AttemptStarted(A, 1, 1.0),
                     ChunkCancelled(A, "cancelled by the user", 4.0))
    row = tracker.rows[A]
    assert row.status is ChunkStatus.CANCELLED
    assert row.attempts == [Attempt(1, 1.0, 4.0, "cancelled", None, "cancelled by the user")]
    assert (row.reason, row.error) == ("cancelled", "cancelled by the user")
    assert tracker.in_flight() == 0 and tracker.summary().done == 1


def test_cancelled_while_retrying_leaves_the_finished_attempt_alone() -> None:
    tracker = replay(started(), planned(A), AttemptStarted(A, 1, 1.0),
                     AttemptFinished(A, 1, 2.0, 1.0, "transient", 502, "bad gateway"),
                     ChunkRetrying(A, ErrorKind.TRANSIENT, "bad gateway", 9.0, 2.0),
                     ChunkCancelled(A, "not sent: 401", 3.0))
    row = tracker.rows[A]
    assert row.status is ChunkStatus.CANCELLED and row.next_attempt_at is None
    assert row.attempts == [Attempt(1, 1.0, 2.0, "transient", 502, "bad gateway")]


def test_a_finished_attempt_without_a_start_is_recorded() -> None:
    tracker = replay(planned(A), AttemptFinished(A, 1, 5.0, 1.5, "ok", 200, None, 7, 3))
    assert tracker.rows[A].attempts == [Attempt(1, 3.5, 5.0, "ok", 200, None, 7, 3)]


def test_a_cached_answer_completes_without_an_attempt() -> None:
    tracker = replay(started(), planned(A), completed(A, 0.0, 0.0, attempts=0, cached=True))
    row = tracker.rows[A]
    assert row.status is ChunkStatus.COMPLETED and row.cached and row.attempt_count == 0


def test_a_replanned_row_keeps_its_attempt_history() -> None:
    tracker = replay(
        started(), planned(A), AttemptStarted(A, 1, 1.0),
        AttemptFinished(A, 1, 2.0, 1.0, "transient", 500, "boom"),
        ChunkFailed(A, 1, 2.0, ErrorKind.TRANSIENT, "boom (gave up)", 500))
    tracker.apply(planned(A, at=10.0))  # resumed: the same request planned again
    row = tracker.rows[A]
    assert row.status is ChunkStatus.PENDING
    assert row.reason is None and row.error is None and row.next_attempt_at is None
    assert row.attempt_count == 1
    assert tracker.summary().counts[ChunkStatus.FAILED] == 0
    tracker.apply(AttemptStarted(A, 2, 11.0))
    tracker.apply(AttemptFinished(A, 2, 12.0, 1.0, "ok", 200, None, 1, 1))
    tracker.apply(completed(A, 12.0, 1.0, attempts=2))
    assert [a.number for a in row.attempts] == [1, 2]
    assert len(tracker.rows) == 1 and tracker.summary().total == 1


def test_replanning_a_completed_row_drops_its_duration() -> None:
    tracker = replay(started(), planned(A), planned(B), completed(A, 1.0, 1.0),
                     completed(B, 2.0, 9.0))
    assert tracker.summary().average == 5.0
    tracker.apply(planned(B, at=3.0))
    summary = tracker.summary()
    assert summary.average == summary.p50 == summary.p99 == 1.0
    assert summary.counts[ChunkStatus.COMPLETED] == 1 and summary.counts[ChunkStatus.PENDING] == 1
    tracker.apply(completed(B, 4.0, 3.0))
    assert tracker.summary().average == 2.0


# -- the summary -----------------------------------------------------------------------------


def test_percentiles_on_known_durations() -> None:
    tracker = replay(started(total=100))
    durations = [float(d) for d in range(1, 101)]
    random.Random(7).shuffle(durations)
    for i, duration in enumerate(durations):
        chunk = ChunkId(0, i)
        tracker.apply(planned(chunk))
        tracker.apply(completed(chunk, duration, duration))
    summary = tracker.summary()
    assert summary.average == 50.5
    assert summary.p50 is not None and 50.0 <= summary.p50 <= 51.0
    assert summary.p95 == 95.0
    assert summary.p99 == 99.0


def test_percentiles_of_nothing_and_of_one() -> None:
    empty = replay(started()).summary()
    assert empty.average is None and empty.p50 is None and empty.p95 is None
    assert empty.p99 is None and empty.throughput == 0.0
    one = replay(started(), planned(A), completed(A, 2.0, 1.25)).summary()
    assert one.p50 == one.p95 == one.p99 == one.average == 1.25


def test_throughput_is_completed_over_elapsed() -> None:
    tracker = replay(started(total=6, at=10.0))
    for i in range(6):
        tracker.apply(planned(ChunkId(0, i), at=10.0))
    for i in range(5):
        tracker.apply(completed(ChunkId(0, i), 11.0 + i, 1.0))
    tracker.apply(ChunkFailed(ChunkId(0, 5), 3, 14.0, ErrorKind.TRANSIENT, "gave up"))
    assert tracker.summary(now=20.0).throughput == pytest.approx(5 / 10)
    assert tracker.summary(now=20.0).elapsed == 10.0
    assert tracker.summary().elapsed == 5.0  # the last event was at 15
    tracker.apply(RunFinished(5, 1, 0, 15.0))
    finished = tracker.summary(now=100.0)  # after the run: the clock stops at its end
    assert finished.finished and finished.elapsed == 5.0
    assert finished.throughput == pytest.approx(1.0)


def test_run_events_feed_the_summary() -> None:
    tracker = replay(started(limit=8))
    tracker.apply(ConcurrencyChanged(4, 8, "429 rate limit", 1.0))
    tracker.apply(CoolDownStarted(5.0, "429 rate limit", 1.0))
    summary = tracker.summary(now=3.0)
    assert (summary.limit, summary.maximum, summary.cooling_until) == (4, 8, 5.0)
    assert tracker.summary().cooling_until == 5.0   # as of the last event (t=1)
    assert tracker.summary(now=5.0).cooling_until is None
    tracker.apply(RunPaused(2.0))
    assert tracker.summary().paused
    tracker.apply(RunResumed(3.0))
    assert not tracker.summary().paused
    tracker.apply(CircuitOpened("14 of the last 20 calls failed", False, 9.0, 4.0))
    assert tracker.summary().circuit == "open: 14 of the last 20 calls failed"
    tracker.apply(CircuitClosed(9.5))
    assert tracker.summary().circuit is None
    tracker.apply(CircuitOpened("401 invalid API key", True, None, 10.0))
    assert tracker.summary().circuit == "401 invalid API key"


def test_run_finished_with_fatal_sets_the_circuit() -> None:
    tracker = replay(started(), planned(A), RunPaused(0.5),
                     ChunkCancelled(A, "not sent: 401 invalid API key", 1.0),
                     RunFinished(0, 0, 1, 1.0, fatal="401 invalid API key"))
    summary = tracker.summary()
    assert summary.circuit == "401 invalid API key"
    assert summary.finished and not summary.paused
    assert summary.counts[ChunkStatus.CANCELLED] == 1
    # a resumed run starts with a clear circuit and keeps the first start time
    tracker.apply(started(at=50.0))
    summary = tracker.summary(now=60.0)
    # elapsed counts from the first start, less the 0.5 s spent paused (rates stand still)
    assert summary.circuit is None and not summary.finished and summary.elapsed == 59.5


def test_run_finished_without_fatal_keeps_the_circuit_clear() -> None:
    tracker = replay(started(), RunFinished(0, 0, 0, 1.0))
    assert tracker.summary().circuit is None


# -- change tracking -------------------------------------------------------------------------


def test_take_changed_returns_each_changed_id_once_then_nothing() -> None:
    tracker = replay(started(), planned(A), planned(B), planned(C),
                     AttemptStarted(B, 1, 1.0), AttemptStarted(A, 1, 1.0),
                     AttemptFinished(B, 1, 2.0, 1.0, "ok"), completed(B, 2.0, 1.0))
    assert tracker.take_changed() == [A, B, C]
    assert tracker.take_changed() == []
    tracker.apply(ChunkRetrying(A, ErrorKind.TRANSIENT, "x", 3.0, 2.0))
    tracker.apply(AttemptStarted(A, 2, 3.0))
    assert tracker.take_changed() == [A]
    assert tracker.take_changed() == []


def test_run_events_change_the_summary_not_the_rows() -> None:
    tracker = replay(started(), planned(A))
    tracker.take_changed()
    tracker.apply(ConcurrencyChanged(2, 4, "429", 1.0))
    assert tracker.take_changed() == []
    assert (tracker.summary().limit, tracker.summary().maximum) == (2, 4)


def test_split_reports_the_parent_and_both_halves_as_changed() -> None:
    first, second = B.halves()
    tracker = replay(planned(B))
    tracker.take_changed()
    tracker.apply(ChunkSplit(B, (planned(first), planned(second)), 1.0))
    assert tracker.take_changed() == [B, first, second]


# -- random valid event sequences ------------------------------------------------------------


@dataclass
class _Model:
    """What a row should look like, tracked independently of the tracker."""

    state: str = "pending"  # pending running answered retrying completed failed cancelled split
    attempts: int = 0
    first_start: float | None = None
    prompt: int = 0
    duration: float | None = None


_EXPECTED = {"pending": ChunkStatus.PENDING, "running": ChunkStatus.IN_PROGRESS,
             "answered": ChunkStatus.IN_PROGRESS, "retrying": ChunkStatus.RETRYING,
             "completed": ChunkStatus.COMPLETED, "failed": ChunkStatus.FAILED,
             "cancelled": ChunkStatus.CANCELLED, "split": ChunkStatus.SPLIT}
_ACTIONS = {
    "pending": ("start", "start", "cancel", "cached", "replan"),
    "retrying": ("start", "start", "cancel", "fail", "replan"),
    "running": ("ok", "ok", "error", "error", "cancel"),
    "answered": ("complete", "retry", "retry", "fail", "split", "cancel"),
    "completed": ("replan",),
    "failed": ("replan",),
    "cancelled": ("replan",),
}
_RUN_EVENTS = (lambda t: CoolDownStarted(t + 1.0, "429", t),
               lambda t: ConcurrencyChanged(2, 4, "429", t),
               lambda t: RunPaused(t), lambda t: RunResumed(t),
               lambda t: CircuitOpened("failing", False, t + 2.0, t),
               lambda t: CircuitClosed(t))


def _build(raw: bytes) -> tuple[list[Event], dict[ChunkId, _Model]]:
    """Decode bytes into a valid event sequence, and the model of where it ends."""
    data = iter(raw)
    models: dict[ChunkId, _Model] = {}
    events: list[Event] = [started(total=3)]
    for number in range(1 + next(data, 0) % 4):
        models[ChunkId(0, number)] = _Model()
        events.append(planned(ChunkId(0, number)))
    t = 0.0
    for a, b in zip(data, data, strict=False):
        t += (0.0, 0.25, 1.0, 3.0)[b % 4]
        if a % 8 == 0:
            events.append(_RUN_EVENTS[b % len(_RUN_EVENTS)](t))
            continue
        live = [c for c, m in models.items() if m.state != "split"]
        chunk = live[a % len(live)]
        m = models[chunk]
        action = _ACTIONS[m.state][b % len(_ACTIONS[m.state])]
        if action == "start":
            m.attempts += 1
            m.first_start = t if m.first_start is None else m.first_start
            m.state = "running"
            events.append(AttemptStarted(chunk, m.attempts, t))
        elif action in ("ok", "error"):
            m.prompt += a
            m.state = "answered"
            events.append(AttemptFinished(chunk, m.attempts, t, 0.5, "ok" if action == "ok"
                                          else "transient", 200, None, a, b))
        elif action == "complete" or action == "cached":
            m.duration = 0.0 if action == "cached" else t - (m.first_start or t)
            m.state = "completed"
            events.append(completed(chunk, t, m.duration, attempts=m.attempts))
        elif action == "retry":
            m.state = "retrying"
            events.append(ChunkRetrying(chunk, ErrorKind.TRANSIENT, "x", t + 1.0, t))
        elif action == "fail":
            m.state = "failed"
            events.append(ChunkFailed(chunk, m.attempts, t, ErrorKind.TRANSIENT, "gave up"))
        elif action == "cancel":
            m.state = "cancelled"
            events.append(ChunkCancelled(chunk, "cancelled", t))
        elif action == "replan":
            if m.state == "completed":
                m.duration = None
            m.state = "pending"
            events.append(planned(chunk, t))
        elif action == "split":
            m.state = "split"
            halves = chunk.halves()
            for half in halves:
                models[half] = _Model()
            events.append(ChunkSplit(chunk, (planned(halves[0], t), planned(halves[1], t)), t))
    return events, models


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=40, max_size=300))
def test_counts_always_match_the_rows(raw: bytes) -> None:
    events, final = _build(raw)
    note(f"{len(events)} events: {events}")
    tracker = RequestTracker()
    for event in events:
        tracker.apply(event)
        summary = tracker.summary()
        rows = tracker.rows.values()
        assert sum(summary.counts.values()) == len(tracker.rows)
        assert summary.total == sum(1 for r in rows if r.status is not ChunkStatus.SPLIT)
        for status in ChunkStatus:
            assert summary.counts[status] == sum(1 for r in rows if r.status is status)
        assert summary.in_flight == summary.counts[ChunkStatus.IN_PROGRESS]
        assert summary.prompt_tokens == sum(r.prompt_tokens for r in rows)
        done = [r.processing_time for r in rows if r.status is ChunkStatus.COMPLETED]
        if done:
            assert summary.average == pytest.approx(sum(d or 0.0 for d in done) / len(done))
        else:
            assert summary.average is None and summary.p50 is None
    assert set(tracker.rows) == set(final)
    for chunk, model in final.items():
        row = tracker.rows[chunk]
        assert row.status is _EXPECTED[model.state], chunk
        assert row.attempt_count == model.attempts
        assert row.prompt_tokens == model.prompt
        if model.state == "completed":
            assert row.processing_time == model.duration
    changed = tracker.take_changed()
    assert len(changed) == len(set(changed)) and set(changed) <= set(tracker.rows)
    assert tracker.take_changed() == []
