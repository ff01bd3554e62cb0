"""A manual clock for policy tests: time moves only when the test says so."""

from __future__ import annotations

import math


class ManualClock:
    """A clock that moves only when the test says so: pass it where a ``clock`` is injected.

    ``clock()`` returns ``clock.now``; :meth:`advance` moves it forward. Policy code in
    this project (supervision intensity and backoff, breakers, pool upkeep, health and
    profiler windows) takes such a clock, so its timing is tested without sleeping.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (finite, >= 0); returns the new time."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self.now += seconds
        return self.now
