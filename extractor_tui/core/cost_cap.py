"""A hard cap on what a session spends (``--max-cost``), checked before each request leaves.

Why it counts what it counts:

* **Spent** is the session's, not this run's: every call recorded in it so far, at the live
  price, and the Batch API's lines at the batch price. So the same command with a higher cap
  continues where the last one stopped, and nothing answered before is paid for again
  (answers come from the session's cache).
* **In flight** is each request's worst case until its answer says what it cost: its prompt
  (the chunk's tokens and the messages around it, ``Job`` counts them; a re-ask's own
  messages, the engine counts them) and the most it may answer, the request's
  ``max_tokens``. A request is sent only if spent + in flight + its own worst case stays
  within the cap, so no answer can carry the spend past it. The expected answer (the plan's
  estimate) would be cheaper to reserve, but an answer longer than expected would then pass
  a cap that is meant to be hard.
* Servers count a prompt's tokens their own way: each answer's reported prompt tokens over
  our count raises a factor (never lowers it) that every later prompt estimate is scaled
  by. The first request goes alone (the engine's first-request rule), so the factor is
  learned before the run fans out.
* A request that does not fit while others are in flight waits for them: they usually cost
  far less than their worst case, and what they free may let it through. Only when nothing
  is in flight and it still does not fit, the engine stops sending (in-flight calls finish
  and are kept) or, in the app, pauses and asks whether to raise the cap (``raise_to``).
* Each stage is priced at its own model (``stage_prices``: the verify stage may use another
  model than extraction); a chunk's ``ChunkId.stage`` says which.
* A model whose price is unknown cannot be capped: ``CostCap.for_model`` refuses it with the
  way to configure the price, rather than letting an uncapped run through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from extractor_tui.core.model import ChunkId, Usage, WorkItem
from extractor_tui.core.pricing import BATCH_DISCOUNT, price_for
from extractor_tui.errors import ConfigError

__all__ = ["CostCap", "budget_line"]

Estimate = Callable[[WorkItem], Usage]


def budget_line(spent: float, limit: float) -> str:
    """The one line a run stopped by its cap ends with (cents, or tenths of a cent below a
    dime, so a small cap does not read "$0.00 of $0.00")."""
    digits = 2 if limit >= 0.1 else 4
    return (f"budget reached: ${spent:.{digits}f} of ${limit:.{digits}f}; run again with a "
            "higher --max-cost to continue")


class CostCap:
    """What may still be sent under a limit in USD, at a price per 1M tokens."""

    def __init__(self, limit: float, price: tuple[float, float], estimate: Estimate, *,
                 spent: float = 0.0, pause: bool = False,
                 stage_prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.limit = limit
        self.price = price  # the extract stage's, and any stage without its own
        self.stage_prices = dict(stage_prices or {})
        self.spent = spent
        self.pause = pause  # the app: pause and ask, instead of stopping the run
        self._estimate = estimate
        self._in_flight: dict[ChunkId, tuple[float, int]] = {}  # reserved USD, our prompt
        self.scale = 1.0  # the servers' prompt tokens over ours: the highest ratio seen
        self.reached = False

    @classmethod
    def for_model(cls, limit: float, model: str, provider: str,
                  prices: Mapping[str, tuple[float, float]], estimate: Estimate, *,
                  spent: float = 0.0, pause: bool = False,
                  stage_models: Mapping[str, str] | None = None) -> CostCap:
        """The cap for ``model`` (and each later stage's ``stage_models``); ``ConfigError``
        when a price is unknown."""
        price = _price(model, provider, prices)
        stage_prices = {stage: _price(other, provider, prices)
                        for stage, other in (stage_models or {}).items()}
        return cls(limit, price, estimate, spent=spent, pause=pause, stage_prices=stage_prices)

    def cost(self, usage: Usage, *, batch: bool = False, stage: str = "extract") -> float:
        share = BATCH_DISCOUNT if batch else 1.0
        price = self.stage_prices.get(stage, self.price)
        return (usage.prompt * price[0] + usage.completion * price[1]) * share / 1e6

    @property
    def in_flight(self) -> float:
        """USD reserved for the requests sent and not answered yet (their worst case)."""
        return sum(cost for cost, _ in self._in_flight.values())

    @property
    def waiting(self) -> bool:
        """Whether a request is in flight: its answer may free room under the cap."""
        return bool(self._in_flight)

    def worst(self, item: WorkItem, prompt: int = 0) -> Usage:
        """The most ``item``'s request may cost in tokens; ``prompt``: its own count when it
        is not the chunk's first ask (a re-ask carries the bad answer and the error)."""
        estimate = self._estimate(item)
        return Usage(math.ceil(max(estimate.prompt, prompt) * self.scale), estimate.completion)

    def admit(self, item: WorkItem, *, prompt: int = 0, batch: bool = False) -> bool:
        """Whether ``item`` may be sent now; if so its worst case counts as in flight."""
        cost = self.cost(self.worst(item, prompt), batch=batch, stage=item.id.stage)
        if self.spent + self.in_flight + cost > self.limit + 1e-12:
            self.reached = True
            return False
        self._in_flight[item.id] = (cost, max(self._estimate(item).prompt, prompt))
        return True

    def hold(self, item: WorkItem, *, batch: bool = False) -> None:
        """Count ``item`` in flight without asking (a batch a resumed run waits on)."""
        self._in_flight[item.id] = (self.cost(self.worst(item), batch=batch,
                                              stage=item.id.stage),
                                    self._estimate(item).prompt)

    def settle(self, chunk: ChunkId, usage: Usage, *, batch: bool = False) -> None:
        """An answer came back: its reservation leaves, what it really cost is spent, and
        a server that counts the prompt higher than we do raises ``scale``."""
        reserved = self._in_flight.pop(chunk, None)
        if reserved is not None and reserved[1] > 0 and usage.prompt and not usage.estimated:
            self.scale = max(self.scale, usage.prompt / reserved[1])
        self.spend(usage, batch=batch, stage=chunk.stage)

    def spend(self, usage: Usage, *, batch: bool = False, stage: str = "extract") -> None:
        self.spent += self.cost(usage, batch=batch, stage=stage)

    def release(self, chunk: ChunkId) -> None:
        """A request ended without an answer to pay for."""
        self._in_flight.pop(chunk, None)

    def raise_to(self, limit: float) -> None:
        self.limit = limit
        self.reached = False

    @property
    def message(self) -> str:
        return budget_line(self.spent, self.limit)


def _price(model: str, provider: str,
           prices: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    price = (0.0, 0.0) if provider == "offline" else price_for(model, prices)
    if price is None:
        raise ConfigError(
            f"--max-cost needs the price of {model}, and it is not in the price table: "
            f"set it with the prices setting, in the config file ([prices] \"{model}\" = "
            "[USD per 1M input tokens, USD per 1M output tokens]) or "
            f"EXTRACTOR_PRICES='{{\"{model}\": [0.5, 1.5]}}'")
    return price
