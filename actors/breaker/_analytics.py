"""Error analytics of one resource: counts, rates over a window, last errors, recovery.

Recovery counts errors that were later followed by a success on the same resource: the
share of failures the system got past without anyone stepping in.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

import attrs

LAST_ERRORS = 20
"""How many of the most recent errors each resource keeps, with their messages."""


@attrs.frozen
class ErrorEntry:
    """One recent error: when (wall-clock seconds), its class, and its message."""

    at: float
    error_class: str
    message: str


@attrs.frozen
class ResourceCounts:
    """What the analytics of one resource know."""

    calls: int
    successes: int
    failures: int
    ignored: int
    slow: int
    recovered: int
    recovery_rate: float
    errors_by_class: dict[str, int]
    window_seconds: float
    window_calls: int
    window_error_rate: float
    window_errors_by_class: dict[str, int]
    mean_seconds: float
    last_errors: list[ErrorEntry]


class ErrorAnalytics:
    """Counters of one resource; the window is ``window_seconds`` in one-second buckets."""

    def __init__(self, clock: Callable[[], float], wall: Callable[[], float],
                 window_seconds: float = 60.0) -> None:
        self._clock = clock
        self._wall = wall
        self.window_seconds = window_seconds
        self.calls = self.successes = self.failures = self.ignored = self.slow = 0
        self.recovered = 0
        self._unrecovered = 0
        self._seconds_total = 0.0
        self.by_class: collections.Counter[str] = collections.Counter()
        self._buckets: collections.deque[tuple[int, collections.Counter[str]]] = collections.deque()
        self.last_errors: collections.deque[ErrorEntry] = collections.deque(maxlen=LAST_ERRORS)

    def add(self, verdict: str, seconds: float, slow: bool, error_class: str = "",
            message: str = "") -> None:
        """Account one outcome: ``verdict`` is success, failure or ignored (from the breaker)."""
        self.calls += 1
        self._seconds_total += seconds
        self.slow += slow
        bucket = self._bucket()
        bucket["#calls"] += 1
        if verdict == "success":
            self.successes += 1
            self.recovered += self._unrecovered
            self._unrecovered = 0
            return
        if verdict == "ignored":
            self.ignored += 1
        else:
            self.failures += 1
            self._unrecovered += 1
        name = error_class or "error"
        self.by_class[name] += 1
        bucket[name] += 1
        bucket["#errors"] += 1
        self.last_errors.append(ErrorEntry(self._wall(), name, message[:500]))

    def counts(self) -> ResourceCounts:
        """A frozen view of the counters, the window taken at the clock's now."""
        self._evict()
        window: collections.Counter[str] = collections.Counter()
        for _, bucket in self._buckets:
            window.update(bucket)
        calls, errors = window.pop("#calls", 0), window.pop("#errors", 0)
        return ResourceCounts(
            self.calls, self.successes, self.failures, self.ignored, self.slow, self.recovered,
            self.recovered / self.failures if self.failures else 1.0, dict(self.by_class),
            self.window_seconds, calls, errors / calls if calls else 0.0, dict(window),
            self._seconds_total / self.calls if self.calls else 0.0, list(self.last_errors))

    def _bucket(self) -> collections.Counter[str]:
        second = int(self._clock())
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:  # the common case: same second as the last
            return buckets[-1][1]
        self._evict()
        buckets.append((second, collections.Counter()))
        return buckets[-1][1]

    def _evict(self) -> None:
        oldest = int(self._clock()) - int(self.window_seconds) + 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
