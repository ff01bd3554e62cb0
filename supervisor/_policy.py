"""Pure supervision policy: which exits restart, which children a failure takes down,
restart intensity, and backoff. Functions of time; tested with an injected clock."""

from __future__ import annotations

import collections
import random
from typing import Final

from ._specs import Backoff

NORMAL_CAUSES: Final = frozenset({"normal", "shutdown"})
"""Exit causes OTP counts as normal: a ``transient`` child is not restarted after them."""


def should_restart(restart: str, cause: str) -> bool:
    """OTP's rule: permanent always, transient only after an abnormal exit, temporary never.

    A child stopped by its own ``on_error: stop`` directive is never restarted.
    """
    if restart == "temporary" or cause == "stop_directive":
        return False
    if restart == "transient":
        return cause not in NORMAL_CAUSES
    return True


def restart_plan(strategy: str, order: list[str], failed: str) -> list[str]:
    """Names to stop (in reverse) and start again (in this order) after ``failed`` exits."""
    if strategy == "one_for_one":
        return [failed]
    if strategy == "one_for_all":
        return list(order)
    if strategy == "rest_for_one":
        return order[order.index(failed):]
    raise ValueError(f"unknown strategy {strategy!r}")


class RestartIntensity:
    """At most ``max_restarts`` within any ``max_seconds``: OTP's intensity and period."""

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: collections.deque[float] = collections.deque()

    def record(self, now: float) -> bool:
        """Record a restart at ``now``; True if the intensity is now exceeded."""
        self._times.append(now)
        while self._times and self._times[0] <= now - self.max_seconds:
            self._times.popleft()
        return len(self._times) > self.max_restarts

    def count(self, now: float) -> int:
        """Restarts inside the current period."""
        return sum(1 for t in self._times if t > now - self.max_seconds)


class BackoffState:
    """Per-child backoff: the step grows with each restart and resets after good health."""

    def __init__(self, spec: Backoff, rng: random.Random | None = None) -> None:
        self.spec = spec
        self.step = 0
        self._rng = rng or random.Random()

    def next_delay(self, now: float, healthy_since: float | None) -> float:
        """Seconds to wait before the next start; resets if it ran well for reset_after."""
        spec = self.spec
        if healthy_since is not None and now - healthy_since >= spec.reset_after:
            self.step = 0
        self.step += 1
        if spec.initial <= 0:
            return 0.0
        base = min(spec.max, spec.initial * spec.factor ** (self.step - 1))
        spread = base * spec.jitter
        return max(0.0, min(spec.max, base + self._rng.uniform(-spread, spread)))
