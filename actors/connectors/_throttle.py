"""Log lines about repeated trouble, at most one per interval (the rest are only counted)."""

from __future__ import annotations

import time
from collections.abc import Callable

WARN_EVERY = 10.0
"""Seconds between log lines about one kind of trouble (bad payloads, a broker that stays down)."""


class Throttle:
    """:meth:`due` is true at most once per ``every`` seconds."""

    def __init__(self, every: float = WARN_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        """Whether a line may be logged now (and if so, the interval starts again)."""
        now = self._clock()
        if self._last is not None and now - self._last < self.every:
            return False
        self._last = now
        return True
