"""A rate metric's sample: faults over messages, judged only once it holds enough messages.

The rule follows resilience4j's ``minimumNumberOfCalls``: "Configures the minimum number
of calls which are required (per sliding window period) before the CircuitBreaker can
calculate the error rate ... if minimumNumberOfCalls is 10, then at least 10 calls must
be recorded, before the failure rate can be calculated." So one fault in two messages is
no 50 % error rate: the sample grows over sampling rounds until it holds ``minimum``
messages, then yields its rate and starts again. Counts older than ``window`` seconds
drop out first, so that faults from long ago are not judged beside today's traffic.

Pure: time comes in as an argument.
"""

from __future__ import annotations

import collections


class RateSample:
    """The counts of a rate metric not judged yet: (time, faults, messages) per round."""

    def __init__(self) -> None:
        self._parts: collections.deque[tuple[float, int, int]] = collections.deque()

    @property
    def messages(self) -> int:
        """Messages collected and not judged yet."""
        return sum(m for _, _, m in self._parts)

    def add(self, now: float, faults: int, messages: int, *, minimum: int,
            window: float) -> float | None:
        """Add one round's counts; the rate once the sample holds ``minimum`` messages
        within ``window`` seconds (the sample then starts again), else None."""
        if messages:
            self._parts.append((now, faults, messages))
        while self._parts and now - self._parts[0][0] > window:
            self._parts.popleft()
        total = self.messages
        if total < minimum:
            return None
        rate = sum(f for _, f, _ in self._parts) / total
        self._parts.clear()
        return rate
