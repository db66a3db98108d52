"""What a run costs: a price table for common models, overridable from the config file.

Prices are USD per million tokens (input, output), as the providers publish them. A model
that is not in the table has an *unknown* cost (None), never a made-up one; the user can add
it under ``[prices]`` in the config file. The offline provider costs nothing.
Prices change: the table says when it was checked, and the README says how to override it.

The Batch API bills every model at half its price (``BATCH_DISCOUNT``): "Each model will be
offered at 50% cost discount vs. the synchronous APIs" (OpenAI's Batch API FAQ, and its
batch guide: "50% lower costs"); ``cost_usd(..., batch=True)`` prices it so.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BATCH_DISCOUNT", "PRICES", "PRICES_CHECKED", "cost_usd", "price_for"]

BATCH_DISCOUNT = 0.5
"""What the Batch API bills, as a share of the live price."""

PRICES_CHECKED = "2026-11"

PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}


def price_for(model: str, overrides: Mapping[str, tuple[float, float]] | None = None
              ) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens; a dated snapshot falls back to its family."""
    table = {**PRICES, **(overrides or {})}
    if model in table:
        return table[model]
    # "gpt-4o-mini-2024-07-18" → "gpt-4o-mini"; longest family name first.
    for name in sorted(table, key=len, reverse=True):
        if model.startswith(name + "-"):
            return table[name]
    return None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, *, provider: str,
             overrides: Mapping[str, tuple[float, float]] | None = None,
             batch: bool = False) -> float | None:
    """The cost of these tokens (at the Batch API's price with ``batch``), 0.0 for the
    offline provider, None when unknown."""
    if provider == "offline":
        return 0.0
    price = price_for(model, overrides)
    if price is None:
        return None
    share = BATCH_DISCOUNT if batch else 1.0
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) * share / 1_000_000,
                 6)
