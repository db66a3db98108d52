"""The Gate on virtual time: concurrency (AIMD), shared cool-down, breaker, pause, fatal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from extractor_tui.core.dispatch import (
    CircuitOpen,
    Gate,
    GateConfig,
    GateEvent,
    GateEventKind,
    GateState,
    Permit,
)
from extractor_tui.core.llm.headers import RateLimitInfo
from fakeclock import FakeClock

LIMIT_429 = "429 rate limit"
SPENT = RateLimitInfo(remaining_requests=0)  # a 429 whose headers say the budget is spent
# The breaker tests spell their tuning out instead of relying on GateConfig's defaults.
BREAKER: dict[str, object] = {"breaker_window": 10, "breaker_min_calls": 6,
                              "breaker_failure_ratio": 0.6, "breaker_open_for": 2.0,
                              "breaker_open_cap": 30.0}


def make_gate(slow_start: bool = False,
              **config: object) -> tuple[Gate, FakeClock, list[GateEvent]]:
    """A gate on a fake clock; past its slow start (as if the endpoint had answered) unless
    ``slow_start``."""
    clock = FakeClock()
    events: list[GateEvent] = []
    gate = Gate(GateConfig(**config), clock, events.append)  # type: ignore[arg-type]
    gate.proven = not slow_start
    return gate, clock, events


async def permit_from(gate: Gate, tokens: int = 0) -> Permit:
    """Admission as the endpoint pool asks for it: a permit now, else wait for the gate's
    next change (a deadline passed, a slot freed, a setting changed) and ask again."""
    while (permit := gate.try_acquire(tokens)) is None:
        await gate.changed(tokens)
    return permit


async def admit(gate: Gate, clock: FakeClock, tokens: int = 0) -> Permit:
    """Admission, letting virtual time run as far as needed; fail if it never comes."""
    task = asyncio.create_task(permit_from(gate, tokens))
    await clock.run_until_idle()
    assert task.done(), "acquire did not complete"
    return task.result()


def state(gate: Gate) -> GateState:
    """The gate's state, read through a call so mypy does not narrow it between checks."""
    return gate.state


def kinds(events: list[GateEvent]) -> list[str]:
    return [event.kind for event in events]


# -- the fake clock itself -------------------------------------------------------------------


async def test_fake_clock_concurrent_sleepers_share_time() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(name, s))
             for name, s in (("c", 3.0), ("a", 1.0), ("a2", 1.0), ("b", 2.0))]
    await clock.advance(1.5)
    assert woke == [("a", 1.0), ("a2", 1.0)]  # two 1-s sleeps take 1 s, not 2
    assert clock.now() == 1.5
    await clock.run_until_idle()
    assert woke[2:] == [("b", 2.0), ("c", 3.0)]
    assert clock.now() == 3.0
    await asyncio.gather(*tasks)


async def test_fake_clock_drops_cancelled_sleepers() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5.0))
    await clock.settle()
    assert clock.sleepers == 1
    task.cancel()
    await clock.settle()
    assert clock.sleepers == 0 and clock.next_deadline() is None
    await clock.run_until_idle()
    assert clock.now() == 0.0


# -- concurrency -----------------------------------------------------------------------------


async def test_acquire_up_to_the_limit_then_wait_for_a_release() -> None:
    gate, clock, events = make_gate(maximum=3)
    permits = [await permit_from(gate) for _ in range(3)]
    assert [p.seq for p in permits] == [(1, 0), (2, 0), (3, 0)]
    assert not any(p.probe for p in permits)
    assert gate.in_flight == 3
    waiter = asyncio.create_task(permit_from(gate))
    await clock.run_until_idle()
    assert not waiter.done()
    gate.release()
    await clock.settle()
    assert waiter.done() and waiter.result().seq == (4, 0)
    assert gate.in_flight == 3 and gate.peak_in_flight == 3
    assert events == []


async def test_set_maximum_raises_and_lowers_the_limit_mid_run() -> None:
    gate, clock, events = make_gate(maximum=2)
    for _ in range(2):
        await permit_from(gate)
    waiters = [asyncio.create_task(permit_from(gate)) for _ in range(3)]
    await clock.settle()
    assert not any(w.done() for w in waiters)

    gate.set_maximum(4)
    assert events == [GateEvent("limit", 0.0, limit=4, maximum=4,
                                reason="concurrency setting changed")]
    await clock.settle()
    assert sum(w.done() for w in waiters) == 2 and gate.in_flight == 4

    gate.set_maximum(1)
    assert (gate.limit, gate.maximum) == (1, 1)
    assert events[-1].limit == 1
    for _ in range(3):  # in flight 4 → 1: still no room under a limit of 1
        gate.release()
        await clock.settle()
    assert not waiters[2].done()
    gate.release()
    await clock.settle()
    assert waiters[2].done() and gate.in_flight == 1


async def test_set_maximum_keeps_a_limit_lowered_by_back_pressure() -> None:
    """Issue 12 item 13: at 1/25 after 429s, three '-' make 1/22, not 22/22 (then 11/22)."""
    gate, _, events = make_gate(maximum=25)
    for _ in range(5):  # 25 → 12 → 6 → 3 → 1 → 1
        permit = await permit_from(gate)
        gate.rate_limited(0.0, permit, SPENT)
        gate.release(permit)
    assert (gate.limit, gate.maximum) == (1, 25)
    for ceiling in (24, 23, 22):
        gate.set_maximum(ceiling)
    assert (gate.limit, gate.maximum) == (1, 22)
    assert (events[-1].limit, events[-1].maximum) == (1, 22), "the new ceiling is announced"
    gate.set_maximum(23)  # raising the ceiling leaves the lowered limit to the AIMD
    assert (gate.limit, gate.maximum) == (1, 23)
    at_top, _, _ = make_gate(maximum=5)
    at_top.set_maximum(6)
    assert (at_top.limit, at_top.maximum) == (6, 6), "a limit at the ceiling follows it"
    at_top.set_maximum(3)
    assert (at_top.limit, at_top.maximum) == (3, 3)


@pytest.mark.parametrize("bad", [0, 101, -1])
async def test_set_maximum_rejects_out_of_range(bad: int) -> None:
    gate, _, events = make_gate(maximum=5)
    with pytest.raises(ValueError):
        gate.set_maximum(bad)
    assert (gate.limit, gate.maximum) == (5, 5) and events == []
    with pytest.raises(ValueError):
        make_gate(maximum=bad)


async def test_set_maximum_accepts_the_bounds() -> None:
    gate, _, _ = make_gate(maximum=5)
    gate.set_maximum(100)
    assert gate.limit == 100
    gate.set_maximum(1)
    assert gate.limit == 1


async def test_cancelled_waiter_holds_no_slot() -> None:
    gate, clock, _ = make_gate(maximum=1)
    await permit_from(gate)
    first = asyncio.create_task(permit_from(gate))
    second = asyncio.create_task(permit_from(gate))
    await clock.settle()
    first.cancel()
    await clock.settle()
    assert first.cancelled() and gate.in_flight == 1
    gate.release()
    await clock.settle()
    assert second.done() and gate.in_flight == 1  # the slot went to the live waiter
    gate.release()
    assert gate.in_flight == 0
    await permit_from(gate)
    assert gate.in_flight == 1


async def test_cancelled_sleeping_waiter_holds_no_slot() -> None:
    gate, clock, _ = make_gate(maximum=2)
    permit = await permit_from(gate)
    gate.rate_limited(5.0, permit, SPENT)
    gate.release()
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(1.0)
    assert clock.sleepers == 1
    waiter.cancel()
    await clock.run_until_idle()
    assert waiter.cancelled() and gate.in_flight == 0


async def test_pause_blocks_new_acquires_until_resume() -> None:
    gate, clock, events = make_gate(maximum=3)
    held = await permit_from(gate)
    gate.pause()
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(10.0)
    assert not waiter.done() and gate.in_flight == 1
    gate.release()            # in-flight requests finish normally while paused
    gate.succeeded(None, held)
    await clock.settle()
    assert not waiter.done() and gate.in_flight == 0
    gate.resume()
    await clock.settle()
    assert waiter.done() and gate.in_flight == 1
    assert waiter.result().sent_at == 10.0
    assert events == []


# -- 429: halve once per burst, one shared cool-down -----------------------------------------


async def test_a_burst_of_429s_halves_once_and_a_later_one_again() -> None:
    gate, clock, events = make_gate(maximum=8)
    permits = [await permit_from(gate) for _ in range(4)]
    await clock.advance(0.5)
    assert gate.rate_limited(1.0, permits[0], SPENT) == 1.0
    assert gate.limit == 4 and gate.cooldown_until == 1.5
    gate.rate_limited(1.0, permits[1], SPENT)
    gate.rate_limited(1.0, permits[2], SPENT)
    assert gate.limit == 4  # sent before the decrease: the same burst
    assert events == [GateEvent("cooldown", 0.5, until=1.5, reason=LIMIT_429),
                      GateEvent("limit", 0.5, limit=4, maximum=8, reason=LIMIT_429)]
    for _ in range(3):
        gate.release()
    later = await admit(gate, clock)
    assert later.sent_at == 1.5
    await clock.advance(0.5)
    gate.rate_limited(1.0, permits[3], SPENT)  # an old request: still the first burst
    assert gate.limit == 4
    gate.rate_limited(1.0, later, SPENT)      # sent after the decrease: a new signal
    assert gate.limit == 2
    assert kinds(events) == ["cooldown", "limit", "cooldown", "limit"]
    assert events[-1] == GateEvent("limit", 2.0, limit=2, maximum=8, reason=LIMIT_429)


async def test_a_burst_at_one_clock_reading_halves_once() -> None:
    gate, _, _ = make_gate(maximum=8)
    permits = [await permit_from(gate) for _ in range(3)]  # all sent at t=0 ...
    gate.rate_limited(1.0, permits[0], SPENT)                  # ... and refused at t=0
    gate.rate_limited(1.0, permits[1], SPENT)
    gate.rate_limited(1.0, permits[2], SPENT)
    assert gate.limit == 4


async def test_a_burst_of_headerless_429s_backs_off_once() -> None:
    gate, clock, _ = make_gate(maximum=8)
    permits = [await permit_from(gate) for _ in range(4)]
    await clock.advance(0.5)
    for permit in permits:  # one burst: all sent before the first refusal
        gate.rate_limited(None, permit, SPENT)
    assert gate.cooldown_until == 1.5


async def test_limit_never_drops_below_one() -> None:
    gate, clock, _ = make_gate(maximum=2)
    for expected in (1, 1, 1):
        permit = await admit(gate, clock)
        await clock.advance(0.1)
        gate.rate_limited(0.5, permit, SPENT)
        gate.release()
        assert gate.limit == expected


async def test_no_acquire_completes_before_the_cool_down_ends() -> None:
    gate, clock, events = make_gate(maximum=4)
    permit = await permit_from(gate)
    await clock.advance(0.25)
    assert gate.rate_limited(2.0, permit, SPENT) == 2.0
    gate.release()
    admitted: list[float] = []

    async def worker() -> None:
        await permit_from(gate)
        admitted.append(clock.now())

    tasks = [asyncio.create_task(worker()) for _ in range(5)]
    await clock.advance(1.99)
    assert admitted == []
    await clock.advance_to(2.25)
    assert admitted == [2.25, 2.25]  # the limit was halved to 2
    assert gate.in_flight == 2 and events[0].until == 2.25
    for _ in range(3):
        gate.release()
        await clock.settle()
    assert len(admitted) == 5
    await asyncio.gather(*tasks)


async def test_cool_down_holds_waiters_parked_on_a_full_gate() -> None:
    gate, clock, _ = make_gate(maximum=1)
    permit = await permit_from(gate)
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(1.0)
    gate.rate_limited(3.0, permit, SPENT)  # wakes the parked waiter, which must now sleep
    gate.release()
    await clock.advance(2.999)
    assert not waiter.done()
    await clock.advance(0.001)
    assert waiter.done() and waiter.result().sent_at == 4.0


async def test_a_later_429_extends_the_cool_down_of_sleeping_waiters() -> None:
    gate, clock, events = make_gate(maximum=8)
    first, second = await permit_from(gate), await permit_from(gate)
    gate.release()
    gate.release()
    await clock.advance(0.5)
    gate.rate_limited(1.0, first, SPENT)            # until 1.5
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(0.5)
    gate.rate_limited(2.0, second, SPENT)           # at 1.0: until 3.0
    shorter = gate.rate_limited(0.1, second, SPENT)  # would end sooner: no shorter cool-down
    assert shorter == pytest.approx(0.1) and gate.cooldown_until == 3.0
    await clock.advance_to(2.999)
    assert not waiter.done()
    await clock.advance_to(3.0)
    assert waiter.done() and waiter.result().sent_at == 3.0
    assert [e.until for e in events if e.kind == "cooldown"] == [1.5, 3.0]


async def test_retry_after_is_capped() -> None:
    gate, clock, _ = make_gate(maximum=2, cooldown_cap=60.0)
    permit = await permit_from(gate)
    assert gate.rate_limited(3600.0, permit, SPENT) == 60.0
    assert gate.cooldown_until == 60.0


async def test_without_a_header_the_cool_down_backs_off_exponentially() -> None:
    gate, clock, events = make_gate(maximum=1)
    waits = []
    for _ in range(8):
        permit = await admit(gate, clock)
        assert permit.sent_at >= gate.cooldown_until
        await clock.advance(0.5)
        waits.append(gate.rate_limited(None, permit, SPENT))
        gate.release()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert [e.until - e.at for e in events if e.kind == "cooldown"] == waits
    permit = await admit(gate, clock)
    gate.release()
    gate.succeeded(None, permit)  # an answer ends the streak
    permit = await admit(gate, clock)
    assert gate.rate_limited(None, permit, SPENT) == 1.0


async def test_backoff_uses_the_configured_base_and_cap() -> None:
    gate, clock, _ = make_gate(maximum=1, cooldown_without_header=0.5, cooldown_cap=3.0)
    waits = []
    for _ in range(5):
        permit = await admit(gate, clock)
        waits.append(gate.rate_limited(None, permit, SPENT))
        gate.release()
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]


async def test_a_window_of_successes_adds_one_up_to_the_maximum() -> None:
    gate, clock, events = make_gate(maximum=8)
    permit = await permit_from(gate)
    await clock.advance(1.0)
    gate.rate_limited(0.5, permit, SPENT)
    gate.release()
    assert gate.limit == 4
    await clock.advance(1.0)
    limits = []
    for _ in range(4 + 5 + 6 + 7 + 20):
        permit = await admit(gate, clock)
        gate.release()
        gate.succeeded(None, permit)
        limits.append(gate.limit)
    assert limits[:4] == [4, 4, 4, 5]
    assert limits[4:9] == [5] * 4 + [6]
    assert limits[9:15] == [6] * 5 + [7]
    assert limits[15:22] == [7] * 6 + [8]
    assert set(limits[22:]) == {8}
    grow = [e for e in events if e.kind == "limit" and e.reason == "a window of successes"]
    assert [e.limit for e in grow] == [5, 6, 7, 8]
    assert all(e.maximum == 8 for e in grow)


async def test_a_429_restarts_the_window_of_successes() -> None:
    gate, clock, _ = make_gate(maximum=8)
    permit = await permit_from(gate)
    gate.release()
    await clock.advance(1.0)
    gate.rate_limited(0.5, permit, SPENT)  # limit 4
    await clock.advance(1.0)
    for _ in range(3):
        ok = await admit(gate, clock)
        gate.release()
        gate.succeeded(None, ok)
    late = await admit(gate, clock)
    gate.release()
    await clock.advance(0.1)
    gate.rate_limited(0.5, late, SPENT)    # limit 2, the 3 successes are forgotten
    assert gate.limit == 2
    await clock.advance(1.0)
    ok = await admit(gate, clock)
    gate.release()
    gate.succeeded(None, ok)
    assert gate.limit == 2
    gate.succeeded(None, ok)
    assert gate.limit == 3


async def test_successes_at_the_maximum_emit_nothing() -> None:
    gate, clock, events = make_gate(maximum=3)
    for _ in range(20):
        permit = await admit(gate, clock)
        gate.release()
        gate.succeeded(None, permit)
    assert gate.limit == 3 and events == []


# -- circuit breaker -------------------------------------------------------------------------


async def fail_calls(gate: Gate, clock: FakeClock, outcomes: str) -> None:
    """Send one call per character: ``f`` fails (transient), ``o`` succeeds."""
    for outcome in outcomes:
        permit = await admit(gate, clock)
        gate.release()
        if outcome == "f":
            gate.failed(permit)
        else:
            gate.succeeded(None, permit)


async def test_breaker_opens_when_most_recent_calls_fail() -> None:
    gate, clock, events = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "fffff")
    assert state(gate) is GateState.CLOSED  # fewer than breaker_min_calls (6)
    await clock.advance(1.0)
    await fail_calls(gate, clock, "f")
    assert state(gate) is GateState.OPEN
    assert events == [GateEvent("circuit-open", 1.0, until=3.0,
                                reason="6 of the last 6 calls failed")]


async def test_an_open_breaker_reads_half_open_once_its_time_is_up() -> None:
    """The state is the breaker's as of now, not as of the last request that asked."""
    gate, clock, events = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    assert state(gate) is GateState.OPEN and events[-1].kind is GateEventKind.CIRCUIT_OPEN
    await clock.advance(1.9)
    assert state(gate) is GateState.OPEN
    await clock.advance(0.1)
    assert state(gate) is GateState.HALF_OPEN  # nobody asked for a permit meanwhile
    assert (await admit(gate, clock)).probe


async def test_breaker_failure_ratio_over_the_window() -> None:
    gate, clock, events = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "oooofffff")  # 5 of 9 failed: below 0.6
    assert state(gate) is GateState.CLOSED
    await fail_calls(gate, clock, "f")           # 6 of 10
    assert state(gate) is GateState.OPEN
    assert events[-1].reason == "6 of the last 10 calls failed"


async def test_breaker_window_forgets_old_failures() -> None:
    gate, clock, _ = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "fffff" + "o" * 10 + "fffff")
    assert state(gate) is GateState.CLOSED  # 5 of the last 10


async def test_default_breaker_opens_on_a_dead_endpoint() -> None:
    gate, clock, events = make_gate(maximum=5)
    config = gate.config
    await fail_calls(gate, clock, "f" * (config.breaker_min_calls - 1))
    assert state(gate) is GateState.CLOSED
    await fail_calls(gate, clock, "f")
    assert state(gate) is GateState.OPEN
    assert events[-1].until - events[-1].at == config.breaker_open_for


async def test_breaker_follows_the_config() -> None:
    gate, clock, events = make_gate(maximum=5, breaker_window=4, breaker_min_calls=2,
                                    breaker_failure_ratio=0.5, breaker_open_for=1.5)
    await fail_calls(gate, clock, "o")
    assert state(gate) is GateState.CLOSED
    await fail_calls(gate, clock, "f")
    assert state(gate) is GateState.OPEN
    assert events[-1].until == pytest.approx(1.5)


async def test_429s_do_not_count_toward_the_breaker() -> None:
    gate, clock, _ = make_gate(maximum=5, **BREAKER)
    for _ in range(12):
        permit = await admit(gate, clock)
        gate.release()
        gate.rate_limited(0.1, permit, SPENT)
    assert state(gate) is GateState.CLOSED


async def test_open_breaker_admits_exactly_one_probe_then_closes_on_success() -> None:
    gate, clock, events = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    assert state(gate) is GateState.OPEN
    waiters = [asyncio.create_task(permit_from(gate)) for _ in range(3)]
    await clock.advance(1.999)
    assert not any(w.done() for w in waiters) and gate.in_flight == 0
    await clock.advance_to(2.0)
    done = [w for w in waiters if w.done()]
    assert len(done) == 1
    probe = done[0].result()
    assert probe.probe and probe.sent_at == 2.0
    assert state(gate) is GateState.HALF_OPEN and gate.in_flight == 1
    late = asyncio.create_task(permit_from(gate))
    await clock.advance(5.0)
    assert sum(w.done() for w in waiters) == 1 and not late.done()
    gate.release()  # the engine releases before reporting the outcome
    await clock.settle()
    assert sum(w.done() for w in waiters) == 1 and not late.done()
    gate.succeeded(None, probe)
    assert state(gate) is GateState.CLOSED
    assert events[-1] == GateEvent("circuit-closed", 7.0)
    await clock.settle()
    rest = [w.result() for w in (*waiters, late) if w is not done[0]]
    assert len(rest) == 3 and not any(p.probe for p in rest)


async def test_failed_probe_reopens_with_a_doubled_period() -> None:
    gate, clock, events = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    opened_at = [0.0]
    for _ in range(5):
        probe = await admit(gate, clock)
        assert probe.probe
        gate.release()
        gate.failed(probe)
        assert state(gate) is GateState.OPEN
        opened_at.append(clock.now())
    opens = [e for e in events if e.kind == "circuit-open"]
    assert [e.until - e.at for e in opens] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert [e.at for e in opens] == opened_at
    assert all(e.reason == "the probe failed" for e in opens[1:])
    # a successful probe closes the circuit and resets the period
    probe = await admit(gate, clock)
    gate.release()
    gate.succeeded(None, probe)
    assert kinds(events)[-1] == "circuit-closed"
    await fail_calls(gate, clock, "ffffff")
    assert events[-1].kind == "circuit-open" and events[-1].until - events[-1].at == 2.0


async def test_a_probe_released_without_an_outcome_does_not_wedge_the_gate() -> None:
    gate, clock, _ = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    probe = await admit(gate, clock)
    assert probe.probe
    gate.release(probe)  # cancelled while waiting for the answer: no outcome is reported
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(3600.0)
    done = waiter.done()
    waiter.cancel()
    assert done, "no request is admitted after the probe was abandoned"


async def test_calls_in_flight_when_the_circuit_opened_do_not_close_it() -> None:
    gate, clock, _ = make_gate(maximum=10, **BREAKER)
    old = await permit_from(gate)
    await fail_calls(gate, clock, "ffffff")
    gate.release()
    gate.succeeded(None, old)  # not the probe: the circuit stays open
    assert state(gate) is GateState.OPEN
    gate.failed(old)
    assert state(gate) is GateState.OPEN


async def test_a_rate_limited_probe_lets_another_probe_out_after_the_cool_down() -> None:
    gate, clock, _ = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    probe = await admit(gate, clock)
    assert probe.probe
    gate.release()
    await clock.advance(0.5)
    gate.rate_limited(1.0, probe, SPENT)
    assert state(gate) is GateState.HALF_OPEN
    second = asyncio.create_task(permit_from(gate))
    await clock.advance(0.999)
    assert not second.done()
    await clock.advance(0.001)
    assert second.done() and second.result().probe


# -- fatal -----------------------------------------------------------------------------------


async def test_fatal_raises_in_waiters_and_new_acquires() -> None:
    gate, clock, events = make_gate(maximum=1)
    held = await permit_from(gate)
    waiters = [asyncio.create_task(permit_from(gate)) for _ in range(2)]
    await clock.settle()
    gate.fatal("401 invalid API key")
    await clock.settle()
    for waiter in waiters:
        with pytest.raises(CircuitOpen) as info:
            waiter.result()
        assert info.value.message == "401 invalid API key"
        assert str(info.value) == "401 invalid API key"
    with pytest.raises(CircuitOpen, match="401 invalid API key"):
        await permit_from(gate)
    assert state(gate) is GateState.FATAL and gate.in_flight == 1
    assert events == [GateEvent("fatal", 0.0, reason="401 invalid API key")]
    gate.fatal("a second fatal error")  # the first message stays, no second event
    assert gate.fatal_message == "401 invalid API key" and len(events) == 1
    gate.release()
    gate.succeeded(None, held)
    gate.failed(held)
    assert state(gate) is GateState.FATAL and len(events) == 1


async def test_fatal_during_a_cool_down_raises_when_the_sleep_ends() -> None:
    gate, clock, _ = make_gate(maximum=2)
    permit = await permit_from(gate)
    gate.rate_limited(10.0, permit, SPENT)
    gate.release()
    waiter = asyncio.create_task(permit_from(gate))
    await clock.advance(1.0)
    gate.fatal("no quota")
    await clock.run_until_idle()
    assert clock.now() <= 10.0
    with pytest.raises(CircuitOpen, match="no quota"):
        waiter.result()
    assert gate.in_flight == 0


async def test_fatal_while_half_open_raises_in_parked_waiters() -> None:
    gate, clock, _ = make_gate(maximum=5, **BREAKER)
    await fail_calls(gate, clock, "ffffff")
    probe = await admit(gate, clock)
    waiter = asyncio.create_task(permit_from(gate))
    await clock.settle()
    gate.fatal("403 forbidden")
    await clock.settle()
    with pytest.raises(CircuitOpen):
        waiter.result()
    gate.release()
    gate.succeeded(None, probe)
    assert state(gate) is GateState.FATAL


# -- budgets through the gate ----------------------------------------------------------------


async def test_rpm_is_paced_on_the_clock() -> None:
    gate, clock, _ = make_gate(maximum=100, rpm=600)
    tasks = [asyncio.create_task(permit_from(gate)) for _ in range(13)]
    await clock.run_until_idle()
    sent = sorted(t.result().sent_at for t in tasks)
    assert sent[:10] == [0.0] * 10
    assert sent[10:] == pytest.approx([0.1, 0.2, 0.3])


async def test_tpm_is_paced_on_the_clock() -> None:
    gate, clock, _ = make_gate(maximum=100, tpm=60_000)  # 1000 tokens a second
    permits = [await admit(gate, clock, tokens=500) for _ in range(4)]
    assert [p.sent_at for p in permits] == pytest.approx([0.0, 0.0, 0.5, 1.0])
    assert [p.seq for p in permits] == [(1, 500), (2, 1000), (3, 1500), (4, 2000)]


# -- randomized: the gate's promises hold under any interleaving -----------------------------


@dataclass
class _Sim:
    gate: Gate
    clock: FakeClock
    out: list[Permit] = field(default_factory=list)      # admitted, no outcome yet
    waiting: list[asyncio.Task[None]] = field(default_factory=list)
    probes_out: int = 0
    paused: bool = False
    seen: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    async def worker(self) -> None:
        permit = await permit_from(self.gate)
        gate, now = self.gate, self.clock.now()  # no await since acquire returned
        if now < gate.cooldown_until:
            self.violations.append(f"admitted at {now} during a cool-down to "
                                   f"{gate.cooldown_until}")
        if self.paused:
            self.violations.append("admitted while paused")
        if gate.in_flight > gate.limit:
            self.violations.append(f"in flight {gate.in_flight} > limit {gate.limit}")
        if gate.in_flight > 1 and not gate.proven:
            self.violations.append("two in flight before the endpoint's first answer")
        if gate.state is GateState.OPEN:
            self.violations.append("admitted while the circuit is open")
        self.seen.add("probe" if permit.probe else "admitted")
        if permit.probe:
            if gate.state is not GateState.HALF_OPEN:
                self.violations.append("a probe outside half-open")
            self.probes_out += 1
            if self.probes_out > 1:
                self.violations.append("two probes out")
        elif gate.state is GateState.HALF_OPEN:
            self.violations.append("a non-probe admitted while half-open")
        self.out.append(permit)

    def finish(self, index: int, outcome: str, retry: float | None = None) -> None:
        permit = self.out.pop(index % len(self.out))
        self.gate.release()
        if permit.probe:
            self.probes_out -= 1
        if outcome == "ok":
            self.gate.succeeded(None, permit)
        elif outcome == "fail":
            self.gate.failed(permit)
        else:
            self.gate.rate_limited(retry, permit, SPENT)


# One op: (kind, n, x), decoded from three random bytes (drawing bytes is much cheaper for
# hypothesis than drawing a list of tuples). Repeated kinds weigh the draw towards opening
# the circuit; ``n`` picks a permit, waiter or maximum, ``x`` a retry-after or a time step.
_KINDS = ("acquire", "acquire", "acquire", "fail", "fail", "advance", "advance", "ok", "429",
          "max", "pause", "resume", "cancel")
_RETRY_AFTER = (None, None, 0.0, 0.5, 2.0, 0.5)
_STEP = (0.0, 0.1, 0.5, 1.0, 1.0, 3.0)


def _decode(raw: bytes) -> list[tuple[str, int, int]]:
    return [(_KINDS[raw[i] % len(_KINDS)], raw[i + 1], raw[i + 2] % 6)
            for i in range(0, len(raw) - 2, 3)]


async def _simulate(ops: list[tuple[str, int, int]]) -> _Sim:
    clock = FakeClock(settle_rounds=3)  # enough for one wake-up chain; keeps it fast
    sim = _Sim(Gate(GateConfig(maximum=3, breaker_min_calls=2, breaker_window=4,
                               breaker_open_for=0.5), clock), clock)
    for op, n, x in ops:
        if op == "acquire":
            sim.waiting.append(asyncio.create_task(sim.worker()))
        elif op in ("ok", "fail", "429") and sim.out:
            sim.finish(n, op, _RETRY_AFTER[x])
        elif op == "max":
            sim.gate.set_maximum(1 + n % 6)
        elif op == "pause":
            sim.gate.pause()
            sim.paused = True
        elif op == "resume":
            sim.gate.resume()
            sim.paused = False
        elif op == "advance":
            await clock.advance(_STEP[x])
        elif op == "cancel":
            pending = [t for t in sim.waiting if not t.done()]
            if pending:
                pending[n % len(pending)].cancel()
        await clock.settle()
        admitted_or_waiting = len(sim.out) + sum(not t.done() for t in sim.waiting)
        assert sim.gate.in_flight == len(sim.out) <= admitted_or_waiting
        assert 1 <= sim.gate.limit <= sim.gate.maximum
    # liveness: once resumed and answered, every waiter gets in
    sim.gate.resume()
    sim.paused = False
    for _ in range(200):
        while sim.out:
            sim.finish(0, "ok")
        await clock.run_until_idle()
        if all(t.done() for t in sim.waiting):
            break
    assert all(t.done() for t in sim.waiting), "a waiter never got in"
    await asyncio.gather(*sim.waiting, return_exceptions=True)
    return sim


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=60, max_size=240))
def test_gate_invariants_under_random_operations(raw: bytes) -> None:
    ops = _decode(raw)
    note(f"ops: {ops}")
    sim = asyncio.run(_simulate(ops))
    event(f"a probe went out: {'probe' in sim.seen}")
    assert sim.violations == []


# -- admission without waiting (the engine's hand-over from a finished request) ------------


async def test_try_acquire_admits_exactly_when_acquire_would_not_wait() -> None:
    gate, clock, _ = make_gate(maximum=2)
    first, second = gate.try_acquire(), gate.try_acquire()
    assert first is not None and second is not None and gate.try_acquire() is None
    gate.release(first)
    cooled = gate.try_acquire()
    assert cooled is not None
    gate.rate_limited(3.0, cooled, SPENT)  # a 429: a cool-down, and the limit halves to 1
    gate.release(second)
    assert gate.try_acquire() is None  # a slot is free, but the cool-down holds it
    await clock.advance(3.0)
    assert gate.try_acquire() is None and gate.in_flight == 1  # the halved limit is full
    gate.pause()
    gate.release(cooled)
    assert gate.try_acquire() is None  # paused
    gate.resume()
    assert gate.try_acquire() is not None
    gate.fatal("401 the API key was refused")
    with pytest.raises(CircuitOpen):
        gate.try_acquire()


async def test_changed_returns_at_the_deadline_or_the_next_release() -> None:
    gate, clock, _ = make_gate(maximum=1)
    permit = await admit(gate, clock)
    waiter = asyncio.create_task(gate.changed())
    await clock.settle()
    assert not waiter.done()  # the only slot is taken: wait for a change
    gate.release(permit)
    await clock.settle()
    assert waiter.done() and gate.in_flight == 0  # woken, and it took nothing
    permit = await admit(gate, clock)
    gate.rate_limited(2.0, permit, SPENT)
    gate.release(permit)
    sleeper = asyncio.create_task(gate.changed())
    await clock.advance(1.9)
    assert not sleeper.done()
    await clock.advance(0.1)
    assert sleeper.done() and gate.try_acquire() is not None


# -- which 429s the load caused (issue 13, item 6) ------------------------------------------


async def test_a_429_whose_headers_show_budget_left_holds_back_nobody() -> None:
    gate, _, events = make_gate(maximum=8)
    permit = await permit_from(gate)
    left = RateLimitInfo(remaining_requests=40)
    assert gate.rate_limited(2.0, permit, left) == 0.0
    assert (gate.limit, gate.cooldown_until, kinds(events)) == (8, 0.0, [])
    assert gate.try_acquire() is not None


async def test_a_429_short_of_the_requests_tokens_is_the_loads_doing() -> None:
    gate, _, events = make_gate(maximum=8)
    permit = await permit_from(gate, 900)
    short = RateLimitInfo(remaining_requests=10, remaining_tokens=500)
    assert gate.rate_limited(2.0, permit, short) == 2.0
    assert gate.limit == 4 and kinds(events) == ["cooldown", "limit"]


async def test_lone_headerless_429s_hold_back_nobody_a_run_of_them_does() -> None:
    gate, clock, events = make_gate(maximum=8)
    for _ in range(6):  # 6 answers, 3 of them 429s: below 4 of the last 10
        permit = await permit_from(gate)
        gate.succeeded(None, permit)
        gate.release(permit)
    for _ in range(3):
        permit = await permit_from(gate)
        assert gate.rate_limited(0.5, permit) == 0.0
        gate.release(permit)
    assert (gate.limit, kinds(events)) == (8, [])
    permit = await permit_from(gate)
    assert gate.rate_limited(0.5, permit) == 0.5  # the fourth in ten: a limit is hit
    assert gate.limit == 4 and kinds(events) == ["cooldown", "limit"]


async def test_a_headerless_429_once_a_limit_was_learned_is_the_loads_doing() -> None:
    gate, _, events = make_gate(maximum=8)
    permit = await permit_from(gate)
    gate.succeeded(RateLimitInfo(limit_requests=600, remaining_requests=599,
                                 reset_requests=0.1), permit)
    gate.release(permit)
    permit = await permit_from(gate)
    assert gate.rate_limited(0.5, permit) == 0.5
    assert gate.limit == 4
