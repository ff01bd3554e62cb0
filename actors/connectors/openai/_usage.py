"""Tokens and cost per model: counted by the actor, shown in its statistics (and so in
health), and the time per request timed by the profiler."""

from __future__ import annotations

from typing import Any

from ._settings import Price


class Usage:
    """Per-model counters; written on the actor's loop, read as plain values anywhere."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self._prices = sorted(prices.items(), key=lambda item: len(item[0]), reverse=True)
        self.models: dict[str, dict[str, Any]] = {}

    def price(self, model: str) -> Price | None:
        """The price of ``model``: its own, or that of the longest name it starts with."""
        for name, price in self._prices:
            if model == name or model.startswith(name):
                return price
        return None

    def count(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Add one request's tokens to ``model``'s counters; what it cost (USD)."""
        price = self.price(model)
        cost = 0.0 if price is None else (
            prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000
        row = self.models.setdefault(model, {"requests": 0, "prompt_tokens": 0,
                                             "completion_tokens": 0, "cost": 0.0,
                                             "priced": price is not None})
        row["requests"] += 1
        row["prompt_tokens"] += prompt_tokens
        row["completion_tokens"] += completion_tokens
        row["cost"] = round(row["cost"] + cost, 9)
        return round(cost, 9)

    def total_cost(self) -> float:
        """USD spent on every model so far."""
        return round(float(sum(row["cost"] for row in self.models.values())), 9)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of the counters."""
        return {model: dict(row) for model, row in self.models.items()}
