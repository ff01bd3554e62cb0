"""Sliding windows of call outcomes: the last N calls, or the calls of the last T seconds.

Both keep running totals so that a record and a rate read are O(1) (amortised for the
time window, which evicts whole buckets).
"""

from __future__ import annotations

import collections
from typing import Protocol

import attrs

TIME_BUCKETS = 10
"""A time window of T seconds is kept as this many buckets of T / TIME_BUCKETS seconds."""


@attrs.frozen
class WindowTotals:
    """Outcomes currently in a window."""

    calls: int
    failures: int
    slow: int

    @property
    def failure_rate(self) -> float:
        """Failures / calls (0 when empty)."""
        return self.failures / self.calls if self.calls else 0.0

    @property
    def slow_rate(self) -> float:
        """Slow calls / calls (0 when empty)."""
        return self.slow / self.calls if self.calls else 0.0


class Window(Protocol):
    """What the state machine needs from a window."""

    def add(self, failed: bool, slow: bool, now: float) -> None: ...
    def counts(self, now: float) -> tuple[int, int, int]: ...
    def totals(self, now: float) -> WindowTotals: ...
    def clear(self) -> None: ...


class CountWindow:
    """The outcomes of the last ``size`` calls, in a ring."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window_size must be >= 1 call, got {size!r}")
        self.size = size
        self.clear()

    def clear(self) -> None:
        """Forget every outcome."""
        self._ring: collections.deque[tuple[bool, bool]] = collections.deque()
        self._failures = 0
        self._slow = 0

    def add(self, failed: bool, slow: bool, now: float) -> None:
        """Add one outcome, dropping the oldest if the ring is full."""
        if len(self._ring) == self.size:
            old_failed, old_slow = self._ring.popleft()
            self._failures -= old_failed
            self._slow -= old_slow
        self._ring.append((failed, slow))
        self._failures += failed
        self._slow += slow

    def counts(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow) the ring holds: the hot path's view, no object built."""
        return len(self._ring), self._failures, self._slow

    def totals(self, now: float) -> WindowTotals:
        """What the ring holds."""
        return WindowTotals(*self.counts(now))


class TimeWindow:
    """The outcomes of the last ``seconds`` seconds, in TIME_BUCKETS buckets."""

    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"window_size must be > 0 seconds, got {seconds!r}")
        self.seconds = seconds
        self._width = seconds / TIME_BUCKETS
        self.clear()

    def clear(self) -> None:
        """Forget every outcome."""
        # each bucket: [index, calls, failures, slow]
        self._buckets: collections.deque[list[int]] = collections.deque()
        self._calls = self._failures = self._slow = 0

    def _evict(self, now: float) -> int:
        index = int(now // self._width)
        oldest = index - TIME_BUCKETS + 1
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest:
            _, calls, failures, slow = buckets.popleft()
            self._calls -= calls
            self._failures -= failures
            self._slow -= slow
        return index

    def add(self, failed: bool, slow: bool, now: float) -> None:
        """Add one outcome at time ``now`` (monotonic seconds)."""
        index = self._evict(now)
        if not self._buckets or self._buckets[-1][0] < index:
            self._buckets.append([index, 0, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        self._calls += 1
        self._failures += failed
        self._slow += slow

    def counts(self, now: float) -> tuple[int, int, int]:
        """(calls, failures, slow) of the last ``seconds`` at ``now``."""
        self._evict(now)
        return self._calls, self._failures, self._slow

    def totals(self, now: float) -> WindowTotals:
        """What the last ``seconds`` hold at ``now``."""
        return WindowTotals(*self.counts(now))


def make_window(kind: str, size: float) -> CountWindow | TimeWindow:
    """A window of ``kind`` ``"count"`` or ``"time"``; ValueError otherwise."""
    if kind == "count":
        return CountWindow(int(size))
    if kind == "time":
        return TimeWindow(float(size))
    raise ValueError(f"window must be 'count' or 'time', got {kind!r}")
