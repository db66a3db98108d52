"""Several endpoints behind one engine: routing by model and weight, fallback, health.

An ``Endpoint`` is one OpenAI-compatible server as the engine uses it: its client, its own
``Gate`` (concurrency, learned limits, cool-down, breaker), its own structured-output
``Negotiation`` and its own fail-fast watch. The ``EndpointPool`` holds them all and answers
the engine's one question, "may this item go now, and where?":

* **Routing.** Among the endpoints that serve the item's model and are in service, the one
  with the fewest requests sent per unit of ``weight`` that admits a request *now*; when it
  is full or cooling down the next one is asked. So the weights share the work while every
  endpoint has room, and the endpoints together ride the sum of their limits when one is
  the bottleneck. An item that just failed on an endpoint is offered to the others first.
* **Fallback.** An endpoint whose own error ends its usefulness for now (a refused key, no
  quota, an unknown model, nothing listening) is taken out of service by its gate
  (``Gate.take_down``): queued work simply goes to the others, since items are never bound
  to an endpoint. Its gate lets one probe through after a while (doubling while probes
  fail), and an answered probe puts it back. An endpoint whose breaker opened is waited for
  like any busy endpoint. Only when every endpoint that serves a model is out of service
  (or the run was stopped for all of them) is there nothing left for it: ``stop_reason``.
* **Stages.** A stage may name the endpoint its requests go to (``[stages.verify]
  endpoint``): every method takes that name beside the model, and then only that endpoint
  is asked, waited for and, when it is out, the reason the stage's work stops.
* **One endpoint** (no ``[[endpoints]]`` in the config) is a pool of one, and behaves as the
  single gate did: its first refused key or dead address leaves nothing for the model, so
  the run stops with that endpoint's own line.

The pool never sleeps or polls: waiting is each gate's ``changed()``, raced when there are
several, so a wait ends at the first slot, deadline or setting change of any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from extractor_tui.core.clock import Clock
from extractor_tui.core.dispatch import (
    MAX_CONCURRENCY,
    CircuitOpen,
    Gate,
    GateConfig,
    GateEvent,
    GateEventKind,
    Permit,
)
from extractor_tui.core.events import (
    CircuitClosed,
    CircuitOpened,
    ConcurrencyChanged,
    CoolDownStarted,
    Event,
    Sink,
    StructuredOutputChanged,
)
from extractor_tui.core.failfast import FailFast
from extractor_tui.core.llm.base import Client
from extractor_tui.core.structured import ModeSwitch, Negotiation, StructuredOutput

__all__ = ["Endpoint", "EndpointPool", "EndpointSpec", "Route"]

Route = tuple[str, str | None]
"""What a request is routed by: its model, and the endpoint its stage names (None: any)."""


@dataclass(frozen=True)
class EndpointSpec:
    """One endpoint as the engine is given it. ``models`` empty means it serves any model."""

    name: str
    client: Client
    models: tuple[str, ...] = ()
    weight: float = 1.0
    gate: GateConfig = field(default_factory=GateConfig)
    structured_output: StructuredOutput = "auto"
    structured_start: str | None = None  # the mode a previous run negotiated (session)


class Endpoint:
    """One endpoint at run time: client, gate, negotiation, fail-fast, and what it sent."""

    def __init__(self, spec: EndpointSpec, gate: Gate, negotiation: Negotiation) -> None:
        self.name = spec.name
        self.client = spec.client
        self.models = frozenset(spec.models)
        self.weight = spec.weight
        self.configured = spec.gate.maximum  # the concurrency the user gave it
        self.gate = gate
        self.negotiation = negotiation
        self.fail_fast = FailFast(spec.client.endpoint)
        self.sent = 0

    def serves(self, model: str) -> bool:
        return not self.models or model in self.models

    @property
    def out_of_service(self) -> str | None:
        """Why nothing is sent here for now (taken down, or stopped for good), else None."""
        return self.gate.fatal_message or self.gate.down_reason


class EndpointPool:
    """The endpoints of one engine, in the order they were given (the first is primary).

    What their gates decide and their negotiations settle reaches ``sink`` as public
    events, each naming its endpoint.
    """

    def __init__(self, specs: Sequence[EndpointSpec], clock: Clock,
                 sink: Sink = lambda event: None) -> None:
        if not specs:
            raise ValueError("an engine needs at least one endpoint")
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must differ: {', '.join(names)}")
        if any(not spec.weight > 0 for spec in specs):
            raise ValueError("an endpoint's weight must be above 0")
        self._clock = clock
        self._sink = sink
        self.endpoints: tuple[Endpoint, ...] = tuple(self._build(spec) for spec in specs)

    def _build(self, spec: EndpointSpec) -> Endpoint:
        name = spec.name
        gate = Gate(spec.gate, self._clock, lambda event: self._sink(_public(name, event)))
        negotiation = Negotiation(
            spec.structured_output, spec.client.endpoint, start=spec.structured_start,
            on_switch=lambda switch: self._sink(self._switched(name, switch)))
        return Endpoint(spec, gate, negotiation)

    def _switched(self, name: str, switch: ModeSwitch) -> StructuredOutputChanged:
        return StructuredOutputChanged(switch.endpoint, switch.previous.value,
                                       switch.mode.value, switch.message,
                                       switch.reason[:300], self._clock.now(), name)

    def serving(self, model: str, endpoint: str | None = None) -> list[Endpoint]:
        """The endpoints that serve ``model``: only the one named ``endpoint`` when a stage
        names one."""
        return [e for e in self.endpoints
                if e.serves(model) and (endpoint is None or e.name == endpoint)]

    def primary(self, model: str, endpoint: str | None = None) -> Endpoint:
        """The first endpoint that serves ``model`` (else the first): what a plan assumes."""
        serving = self.serving(model, endpoint)
        return serving[0] if serving else self.endpoints[0]

    # -- admission ---------------------------------------------------------------------------

    def try_admit(self, model: str, tokens: int = 0, avoid: str | None = None,
                  endpoint: str | None = None) -> tuple[Endpoint, Permit] | None:
        """An endpoint for ``model`` (the one named ``endpoint``, if given) and its permit,
        if one admits a request now.

        Fewest sends per weight first; ``avoid`` (where the item last failed) goes last.
        """
        candidates = [e for e in self.serving(model, endpoint) if e.gate.fatal_message is None]
        if len(candidates) > 1:
            candidates.sort(key=lambda e: (e.name == avoid, e.sent / e.weight))
        for candidate in candidates:
            permit = candidate.gate.try_acquire(tokens)
            if permit is not None:
                candidate.sent += 1
                return candidate, permit
        return None

    async def changed(self, model: str, tokens: int = 0, endpoint: str | None = None) -> None:
        """Return when ``try_admit`` may succeed for ``model`` (and ``endpoint``); raise
        ``CircuitOpen`` when there is nothing left to wait for (``stop_reason``)."""
        stop = self.stop_reason(model, endpoint)
        if stop is not None:
            raise CircuitOpen(stop)
        waiting = [e for e in self.serving(model, endpoint) if e.gate.fatal_message is None]
        if len(waiting) == 1:
            await waiting[0].gate.changed(tokens)
            return
        tasks = [asyncio.ensure_future(e.gate.changed(tokens)) for e in waiting]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop_reason(self, model: str, endpoint: str | None = None) -> str | None:
        """Why nothing more can be sent for ``model`` (to ``endpoint``, when a stage names
        one), or None while an endpoint is left.

        With one endpoint (or one cause for all) it is that line as it is, so a single
        endpoint's run stops with the endpoint's own words.
        """
        serving = self.serving(model, endpoint)
        if not serving and endpoint is not None:
            named = next((e for e in self.endpoints if e.name == endpoint), None)
            if named is None:
                names = ", ".join(e.name for e in self.endpoints)
                return f"no endpoint is named {endpoint} ({names})"
            return (f"the endpoint {endpoint} does not serve the model {model} (it serves "
                    f"{', '.join(sorted(named.models))})")
        if not serving:
            served = "; ".join(f"{e.name} serves {', '.join(sorted(e.models))}"
                               for e in self.endpoints)
            return f"no endpoint serves the model {model} ({served})"
        reasons = [e.out_of_service for e in serving]
        if any(reason is None for reason in reasons):
            return None
        if len(set(reasons)) == 1:
            return reasons[0]
        listed = "; ".join(f"{e.name}: {reason}" for e, reason in zip(serving, reasons,
                                                                      strict=True))
        return f"no endpoint left for the model {model} ({listed})"

    # -- the user's controls -------------------------------------------------------------------

    @property
    def maximum(self) -> int:
        return sum(e.gate.maximum for e in self.endpoints)

    @property
    def maximum_cap(self) -> int:
        """The highest total ceiling: ``MAX_CONCURRENCY`` per endpoint."""
        return MAX_CONCURRENCY * len(self.endpoints)

    @property
    def limit(self) -> int:
        return sum(e.gate.limit for e in self.endpoints)

    @property
    def in_flight(self) -> int:
        return sum(e.gate.in_flight for e in self.endpoints)

    @property
    def paused(self) -> bool:
        return self.endpoints[0].gate.paused

    def set_maximum(self, total: int) -> None:
        """A new total ceiling, shared in proportion to each endpoint's configured
        concurrency (largest remainders), so the endpoints keep their proportions. It is
        held between one and ``MAX_CONCURRENCY`` per endpoint: a user's ``+`` past the top
        or ``-`` below one each changes nothing."""
        count = len(self.endpoints)
        total = max(count, min(MAX_CONCURRENCY * count, total))
        for endpoint, share in zip(self.endpoints, _shares(
                total, [e.configured for e in self.endpoints]), strict=True):
            endpoint.gate.set_maximum(share)

    def pause(self) -> None:
        for endpoint in self.endpoints:
            endpoint.gate.pause()

    def resume(self) -> None:
        for endpoint in self.endpoints:
            endpoint.gate.resume()

    def stop(self, reason: str, model: str, endpoint: str | None = None) -> None:
        """Nothing more is sent for ``model`` (to ``endpoint``): an error no endpoint can
        help with, or none left. The endpoints that serve it stop for good, with ``reason``."""
        for serving in self.serving(model, endpoint):
            serving.gate.fatal(reason)


def _shares(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), each share between
    1 and ``MAX_CONCURRENCY``; the caller checks that ``total`` fits."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [max(1, min(MAX_CONCURRENCY, int(x))) for x in exact]
    while sum(shares) < total:
        grow = [i for i, share in enumerate(shares) if share < MAX_CONCURRENCY]
        shares[max(grow, key=lambda i: exact[i] - shares[i])] += 1
    while sum(shares) > total:
        shrink = [i for i, share in enumerate(shares) if share > 1]
        shares[min(shrink, key=lambda i: exact[i] - shares[i])] -= 1
    return shares


def _public(name: str, event: GateEvent) -> Event:
    """A gate's decision as the public event that names its endpoint."""
    if event.kind is GateEventKind.LIMIT:
        return ConcurrencyChanged(event.limit, event.maximum, event.reason, event.at, name)
    if event.kind is GateEventKind.COOLDOWN:
        return CoolDownStarted(event.until, event.reason, event.at, name)
    if event.kind is GateEventKind.CIRCUIT_CLOSED:
        return CircuitClosed(event.at, name)
    fatal = event.kind is GateEventKind.FATAL
    return CircuitOpened(event.reason, fatal, None if fatal else event.until, event.at, name,
                         out_of_service=event.kind is GateEventKind.DOWN)
