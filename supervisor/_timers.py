"""The node loop's timers: callbacks due at monotonic times (backoff, start and stop
deadlines), kept in a heap and run by the loop in time order, so they need no lock."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable


class Timers:
    """Callbacks to run on the node loop once their time has come."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()  # ties run in the order they were set

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop ``delay`` seconds from now."""
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), fn))

    def wait(self, longest: float) -> float:
        """Seconds the loop may wait for I/O: ``longest``, or less if a timer is due sooner."""
        if not self._heap:
            return longest
        return max(0.0, min(longest, self._heap[0][0] - time.monotonic()))

    def run_due(self, now: float) -> None:
        """Run every callback due at ``now`` (monotonic), earliest first."""
        while self._heap and self._heap[0][0] <= now:
            _, _, fn = heapq.heappop(self._heap)
            fn()
