"""Time windows of histograms per operation, driven by an injected clock.

Each window of ``W`` seconds is a ring of ``2 * slots`` histograms, ``W / slots`` seconds
each: the newest ``slots`` form the current window, the ``slots`` before them the
previous window (for trends). A window therefore covers between ``W - W/slots`` and ``W``
seconds; rates divide by the span actually covered. Samples are placed by arrival time
at the store (a batch lands in the slot of the moment it arrives). Memory is bounded:
operations * windows * ``2 * slots`` histograms of at most 6913 buckets each.
"""

from __future__ import annotations

from collections import deque

from ._histogram import Histogram


class Ring:
    """One window's slots: ``(slot number, histogram)``, oldest first."""

    def __init__(self, window: float, slots: int, sub_bits: int) -> None:
        self.window = window
        self.slots = slots
        self.width = window / slots
        self.sub_bits = sub_bits
        self._ring: deque[tuple[int, Histogram]] = deque(maxlen=2 * slots)

    def add(self, hist: Histogram, now: float) -> None:
        """Merge ``hist`` into the slot of ``now``."""
        slot = int(now // self.width)
        if not self._ring or self._ring[-1][0] != slot:
            self._ring.append((slot, Histogram(self.sub_bits)))
        self._ring[-1][1].merge(hist)

    def between(self, first: int, last: int) -> Histogram:
        """The merged slots numbered ``first`` to ``last`` inclusive."""
        return Histogram.merged((h for s, h in self._ring if first <= s <= last), self.sub_bits)

    def current(self, now: float) -> Histogram:
        """The current window: the newest ``slots`` slots up to ``now``."""
        slot = int(now // self.width)
        return self.between(slot - self.slots + 1, slot)

    def previous(self, now: float) -> Histogram:
        """The window just before the current one."""
        slot = int(now // self.width)
        return self.between(slot - 2 * self.slots + 1, slot - self.slots)

    def ended_before(self, t: float, now: float) -> Histogram:
        """The current window's slots that ended at or before ``t`` (a baseline that excludes
        the last ``now - t`` seconds)."""
        slot = int(now // self.width)
        return self.between(slot - self.slots + 1, int(t // self.width) - 1)

    def span(self, now: float, started: float) -> float:
        """Seconds the current window covers, not counting time before ``started``."""
        begin = (int(now // self.width) - self.slots + 1) * self.width
        return max(now - max(begin, started), 1e-9)

    def previous_span(self, now: float, started: float) -> float:
        """Seconds the previous window covers, not counting time before ``started``."""
        end = (int(now // self.width) - self.slots + 1) * self.width
        begin = end - self.window
        return max(end - max(begin, started), 0.0)


class OpWindows:
    """Everything recorded for one operation: a ring per window plus the since-start total."""

    def __init__(self, windows: list[float], slots: int, sub_bits: int, now: float) -> None:
        self.sub_bits = sub_bits
        self.total = Histogram(sub_bits)
        self.rings = [Ring(w, slots, sub_bits) for w in windows]
        self.first_seen = now
        self.last_seen = now

    def add(self, hist: Histogram, now: float) -> None:
        """Record a histogram that arrived at ``now``."""
        self.total.merge(hist)
        for ring in self.rings:
            ring.add(hist, now)
        self.last_seen = now

    def reshape(self, windows: list[float], slots: int) -> None:
        """Use new windows; their contents start empty, the since-start total is kept."""
        self.rings = [Ring(w, slots, self.sub_bits) for w in windows]
