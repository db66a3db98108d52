"""The endpoint pool and the gate's out-of-service state, on virtual time (no network).

The pool's clients are never called here: routing, waiting, taking an endpoint down and
bringing it back are decisions of the gates and the pool alone. The same behaviour over
real HTTP is in ``test_endpoints.py``.
"""

from __future__ import annotations

import asyncio

import pytest
from fakeclock import FakeClock

from extractor_tui.core.dispatch import CircuitOpen, Gate, GateConfig, GateEvent, GateState
from extractor_tui.core.endpoints import EndpointPool, EndpointSpec
from extractor_tui.core.events import CircuitClosed, CircuitOpened, Event
from extractor_tui.core.llm.offline import OfflineClient


def down_gate() -> tuple[Gate, FakeClock, list[GateEvent]]:
    clock = FakeClock()
    events: list[GateEvent] = []
    gate = Gate(GateConfig(maximum=4, down_for=5.0, down_cap=12.0), clock, events.append)
    gate.proven = True
    return gate, clock, events


async def test_an_endpoint_taken_down_admits_nothing_until_its_probe_time() -> None:
    gate, clock, events = down_gate()
    gate.take_down("401 the API key was refused")
    assert gate.try_acquire() is None and gate.down_reason == "401 the API key was refused"
    assert events[-1] == GateEvent("down", 0.0, until=5.0, reason="401 the API key was refused")
    await clock.advance(4.9)
    assert gate.try_acquire() is None
    await clock.advance(0.1)
    probe = gate.try_acquire()
    assert probe is not None and probe.probe
    assert gate.try_acquire() is None  # one probe at a time


async def test_a_failed_probe_doubles_the_wait_up_to_the_cap_and_an_answer_ends_it() -> None:
    gate, clock, events = down_gate()
    gate.take_down("cannot connect")
    waits = []
    for _ in range(3):
        await clock.advance(20.0)
        probe = gate.try_acquire()
        assert probe is not None and probe.probe
        gate.release(probe)
        gate.failed(probe)  # a refused connection again
        waits.append(events[-1].until - events[-1].at)
        assert events[-1].kind == "down" and gate.down_reason == "cannot connect"
    assert waits == [10.0, 12.0, 12.0]
    await clock.advance(20.0)
    probe = gate.try_acquire()
    assert probe is not None
    gate.release(probe)
    gate.succeeded(None, probe)
    assert gate.down_reason is None and gate.state is GateState.CLOSED
    assert events[-1].kind == "circuit-closed"
    gate.take_down("401")  # a new outage starts from the first wait again
    assert events[-1].until - events[-1].at == 5.0


async def test_failures_of_calls_already_in_flight_do_not_lengthen_the_wait() -> None:
    gate, _, events = down_gate()
    permits = [gate.try_acquire() for _ in range(3)]
    for permit in permits:
        assert permit is not None
        gate.release(permit)
        gate.take_down("429 insufficient quota")
    assert [e.kind for e in events] == ["down"]


async def test_a_gate_stopped_for_good_is_not_brought_back_by_taking_it_down() -> None:
    gate, _, events = down_gate()
    gate.fatal("no endpoint left")
    gate.take_down("401")
    assert gate.down_reason is None and gate.state is GateState.FATAL
    with pytest.raises(CircuitOpen):
        gate.try_acquire()


def pool(*specs: tuple[str, float, int], sink: list[Event] | None = None
         ) -> tuple[EndpointPool, FakeClock]:
    clock = FakeClock()
    client = OfflineClient()
    built = [EndpointSpec(name, client, weight=weight, gate=GateConfig(maximum=maximum))
             for name, weight, maximum in specs]
    endpoints = EndpointPool(built, clock, (sink.append if sink is not None
                                            else lambda event: None))
    for endpoint in endpoints.endpoints:
        endpoint.gate.proven = True
    return endpoints, clock


def test_admissions_follow_the_weights_while_every_endpoint_has_room() -> None:
    endpoints, _ = pool(("a", 3.0, 100), ("b", 1.0, 100))
    chosen = []
    for _ in range(40):
        admitted = endpoints.try_admit("m")
        assert admitted is not None
        chosen.append(admitted[0].name)
    assert chosen.count("a") == 30 and chosen.count("b") == 10


def test_a_full_endpoint_spills_its_share_to_the_others() -> None:
    endpoints, _ = pool(("a", 3.0, 2), ("b", 1.0, 5))
    chosen = [admitted[0].name for _ in range(10)
              if (admitted := endpoints.try_admit("m")) is not None]
    assert chosen.count("a") == 2 and chosen.count("b") == 5  # the sum of their limits


def test_an_item_that_failed_somewhere_is_offered_elsewhere_first() -> None:
    endpoints, _ = pool(("a", 1.0, 5), ("b", 1.0, 5))
    admitted = endpoints.try_admit("m", avoid="a")
    assert admitted is not None and admitted[0].name == "b"
    endpoints.endpoints[1].gate.set_maximum(1)  # b is now full
    admitted = endpoints.try_admit("m", avoid="a")
    assert admitted is not None and admitted[0].name == "a"  # better there than not at all


async def test_waiting_ends_at_the_first_change_of_any_endpoint() -> None:
    endpoints, clock = pool(("a", 1.0, 1), ("b", 1.0, 1))
    held = [endpoints.try_admit("m") for _ in range(2)]
    assert all(held) and endpoints.try_admit("m") is None
    waiter = asyncio.create_task(endpoints.changed("m"))
    await clock.settle()
    assert not waiter.done()
    endpoint, permit = held[1]  # type: ignore[misc]
    endpoint.gate.release(permit)
    await clock.settle()
    assert waiter.done() and endpoints.try_admit("m") is not None


async def test_the_pool_stops_only_when_every_endpoint_of_the_model_is_out() -> None:
    events: list[Event] = []
    endpoints, clock = pool(("a", 1.0, 5), ("b", 1.0, 5), sink=events)
    a, b = endpoints.endpoints
    a.gate.take_down("a: 401 the API key was refused")
    assert endpoints.stop_reason("m") is None
    assert isinstance(events[-1], CircuitOpened) and events[-1].out_of_service
    assert events[-1].endpoint == "a"
    b.gate.take_down("b: cannot connect")
    assert endpoints.stop_reason("m") == ("no endpoint left for the model m (a: a: 401 the API "
                                          "key was refused; b: b: cannot connect)")
    with pytest.raises(CircuitOpen):
        await endpoints.changed("m")


async def test_an_endpoint_that_answers_its_probe_is_in_service_again() -> None:
    events: list[Event] = []
    endpoints, clock = pool(("a", 1.0, 5), ("b", 1.0, 5), sink=events)
    a = endpoints.endpoints[0]
    a.gate.take_down("cannot connect")
    await clock.advance(a.gate.config.down_for)
    admitted = endpoints.try_admit("m")  # a has sent fewest: it gets the probe
    assert admitted is not None and admitted[0] is a and admitted[1].probe
    a.gate.release(admitted[1])
    a.gate.succeeded(None, admitted[1])
    assert a.out_of_service is None
    assert isinstance(events[-1], CircuitClosed) and events[-1].endpoint == "a"


def test_a_new_total_concurrency_keeps_the_endpoints_proportions() -> None:
    endpoints, _ = pool(("a", 1.0, 20), ("b", 1.0, 10), ("c", 1.0, 30))
    endpoints.set_maximum(61)
    assert [e.gate.maximum for e in endpoints.endpoints] == [20, 10, 31]
    assert endpoints.maximum == 61
    endpoints.set_maximum(3)
    assert [e.gate.maximum for e in endpoints.endpoints] == [1, 1, 1]
    endpoints.set_maximum(2)  # below one each: held there
    assert endpoints.maximum == 3
    endpoints.set_maximum(1000)
    assert [e.gate.maximum for e in endpoints.endpoints] == [100, 100, 100]


def test_names_must_differ_and_weights_be_positive() -> None:
    with pytest.raises(ValueError, match="names must differ"):
        pool(("a", 1.0, 1), ("a", 1.0, 1))
    with pytest.raises(ValueError, match="weight"):
        pool(("a", 0.0, 1))


def test_a_stage_that_names_an_endpoint_is_admitted_there_only() -> None:
    endpoints, _ = pool(("a", 1.0, 10), ("b", 1.0, 10))
    admitted = [endpoints.try_admit("m", endpoint="b") for _ in range(3)]
    assert [pair[0].name for pair in admitted if pair] == ["b", "b", "b"]
    assert endpoints.primary("m", endpoint="b").name == "b"
    endpoints.endpoints[1].gate.take_down("401 the API key was refused")
    assert endpoints.try_admit("m", endpoint="b") is None
    assert endpoints.stop_reason("m", endpoint="b") == "401 the API key was refused"
    assert endpoints.stop_reason("m") is None  # the stages that name none still have a
    assert endpoints.stop_reason("m", endpoint="c") == "no endpoint is named c (a, b)"
