"""Tokens and cost per model: counted by the actor, shown in its statistics (and so in
health), carried to the next incarnation by the actor's snapshot, and the time per request
timed by the profiler."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

from ._settings import Price

log = logging.getLogger("actors.connectors")

SNAPSHOT_VERSION = 1
"""Shape of :meth:`Usage.to_snapshot`; a snapshot of another version is not restored."""

_COUNTS = ("requests", "prompt_tokens", "completion_tokens")


class Usage:
    """Per-model counters; counted on the actor's loop, read from any thread (a lock keeps
    each copy whole). ``changes`` grows with every count, so a saver knows what it saved."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self._prices = sorted(prices.items(), key=lambda item: len(item[0]), reverse=True)
        self.models: dict[str, dict[str, Any]] = {}
        self.changes = 0
        self._lock = threading.Lock()

    def price(self, model: str) -> Price | None:
        """The price of ``model``: its own, or that of the longest name it starts with."""
        for name, price in self._prices:
            if model == name or model.startswith(name):
                return price
        return None

    def _row(self, model: str) -> dict[str, Any]:
        return self.models.setdefault(model, {"requests": 0, "prompt_tokens": 0,
                                              "completion_tokens": 0, "cost": 0.0,
                                              "priced": self.price(model) is not None})

    def count(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Add one request's tokens to ``model``'s counters; what it cost (USD)."""
        price = self.price(model)
        cost = 0.0 if price is None else (
            prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000
        with self._lock:
            row = self._row(model)
            row["requests"] += 1
            row["prompt_tokens"] += prompt_tokens
            row["completion_tokens"] += completion_tokens
            row["cost"] = round(row["cost"] + cost, 9)
            self.changes += 1
        return round(cost, 9)

    def total_cost(self) -> float:
        """USD spent on every model so far."""
        with self._lock:
            return round(float(sum(row["cost"] for row in self.models.values())), 9)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of the counters."""
        with self._lock:
            return {model: dict(row) for model, row in self.models.items()}

    def to_snapshot(self) -> tuple[dict[str, Any], int]:
        """The counters as the actor saves them for its next incarnation, and ``changes``
        at that moment."""
        with self._lock:
            return ({"v": SNAPSHOT_VERSION, "models": {
                model: {key: row[key] for key in (*_COUNTS, "cost")}
                for model, row in self.models.items()}}, self.changes)

    def restore(self, snapshot: Any) -> int:
        """Start from the counters a previous incarnation saved (:meth:`to_snapshot`); how
        many models came back. Entries that do not have the saved shape are skipped with a
        warning; whether a model is priced follows today's ``prices``."""
        if not isinstance(snapshot, dict) or snapshot.get("v") != SNAPSHOT_VERSION:
            return 0
        saved = snapshot.get("models")
        restored = 0
        for model, row in (saved.items() if isinstance(saved, dict) else ()):
            counts = [row.get(key) if isinstance(row, dict) else None for key in _COUNTS]
            cost = row.get("cost") if isinstance(row, dict) else None
            if not (isinstance(model, str) and all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
                    and isinstance(cost, (int, float)) and not isinstance(cost, bool)
                    and math.isfinite(cost) and cost >= 0):
                log.warning("openai usage: saved entry %r ignored (not the saved shape)", model)
                continue
            with self._lock:
                self._row(model).update(dict(zip(_COUNTS, counts, strict=True)), cost=float(cost))
            restored += 1
        return restored


class UsageSaver:
    """Hands the usage to ``save`` (the actor's ``save_snapshot``) every ``interval``
    seconds when it changed, from a thread of its own (a save waits for the node's
    confirmation), and once more at a normal stop; a SIGKILL loses at most one interval.
    ``interval`` 0 saves only at the stop."""

    def __init__(self, usage: Usage, save: Callable[[Any], None], interval: float,
                 name: str) -> None:
        self.usage = usage
        self._save = save
        self._interval = interval
        self._saved = usage.changes  # what was restored is already saved
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-usage-saver", daemon=True)

    @property
    def unsaved(self) -> int:
        """Requests counted since the last snapshot the node confirmed."""
        return self.usage.changes - self._saved

    def start(self) -> None:
        """Save periodically from now on (nothing to do when ``interval`` is 0)."""
        if self._interval:
            self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.save()

    def save(self) -> None:
        """Save now if anything was counted since the last save."""
        state, changes = self.usage.to_snapshot()
        if changes == self._saved:
            return
        try:
            self._save(state)
        except (RuntimeError, TimeoutError) as exc:  # no node to keep it: counted again next time
            log.debug("openai usage not saved: %s", exc)
            return
        self._saved = max(self._saved, changes)

    def stop(self) -> None:
        """Stop the periodic saves and save what is left."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.save()
