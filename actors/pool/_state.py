"""The pool's bookkeeping: slots, the FIFO of waiters, counters, and helpers on them.

Every method here expects the caller to hold ``_lock`` unless it says otherwise.
"""

from __future__ import annotations

import collections
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.profiler import Histogram

from ._connector import Connector
from ._policy import PoolLoad
from ._slot import PoolConfig, Slot, Waiter

log = logging.getLogger("actors.pool")


WAIT_SUB_BITS = 3
"""Precision of the since-start acquire-wait histogram: 8 buckets per power of two."""


class PoolState:
    """The pool's shared bookkeeping and the small operations on it (callers hold ``_lock``)."""

    def __init__(self, connector: Connector, config: PoolConfig, *, name: str = "pool",
                 clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[], float] = random.random,
                 timer: Callable[[], float] = time.monotonic) -> None:
        self.connector, self.config, self.name = connector, config, name
        self.clock, self.rand, self.timer = clock, rand, timer
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        self._slots: dict[int, Slot] = {}
        self._waiters: collections.deque[Waiter] = collections.deque()
        self._ids = itertools.count(1)
        self._opens = 0
        self._connect_failures = 0
        self._next_connect_at = 0.0
        self.last_connect_error = ""
        self.closing = False
        self.reserved = 0
        """Connections of the budget held by leases (the fast lane): not the actor's to open."""
        self._window_start = clock()
        self._peak = 0
        self.acquire_waits: collections.deque[float] = collections.deque(maxlen=2048)
        self.wait_histogram = Histogram(WAIT_SUB_BITS)
        """Every acquire's wait since start (exact below powers of two: Prometheus buckets)."""
        self._waits_lock = threading.Lock()
        self.errors: collections.Counter[str] = collections.Counter()
        self.counters: collections.Counter[str] = collections.Counter()
        self.sizing_log: collections.deque[str] = collections.deque(maxlen=10)

    def _lease(self, slot: Slot) -> None:
        slot.leased = True
        slot.leased_at = self.clock()
        self.counters["acquires"] += 1
        if self._peak < len(self._slots):  # at the pool's size the peak can grow no more
            self._peak = max(self._peak, [s.leased for s in self._slots.values()].count(True))

    def _note_wait(self, seconds: float) -> None:
        """Record one acquire's wait (any thread; takes its own small lock, not ``_lock``)."""
        self.acquire_waits.append(seconds)
        with self._waits_lock:
            self.wait_histogram.record(max(0.0, seconds))

    def acquire_wait(self) -> Histogram:
        """A copy of the since-start acquire-wait histogram (any thread)."""
        with self._waits_lock:
            return self.wait_histogram.copy()

    def _hand_over(self, slot: Slot) -> None:
        """Give an idle connection to the first waiter, or leave it idle (lock held)."""
        if self._waiters and slot.idle:
            waiter = self._waiters.popleft()
            self._lease(slot)
            waiter.slot = slot
            waiter.event.set()

    def _wake_head(self) -> None:
        if self._waiters:
            self._waiters[0].event.set()

    def _drop(self, slot: Slot, reason: str) -> Any:
        """Remove a slot (lock held); return its raw connection for closing outside the lock."""
        self._slots.pop(slot.id, None)
        if reason not in ("closing",):
            log.info("pool %r: closing connection %d: %s", self.name, slot.id, reason)
        self._wake_head()
        return slot.raw

    def _no_live_connections(self) -> bool:
        return not any(s.raw is not None for s in self._slots.values())

    def load(self, now: float) -> PoolLoad:
        """What the sizing policy sees (lock held)."""
        slots = self._slots.values()
        return PoolLoad(size=len(self._slots), min_size=self.config.min_size,
                        max_size=max(self.config.min_size, 1, self.config.max_size - self.reserved),
                        idle=sum(1 for s in slots if s.idle),
                        waiting=len(self._waiters), connecting=sum(1 for s in slots if s.connecting),
                        peak_in_use=self._peak, window=now - self._window_start,
                        shrink_after=self.config.shrink_after)

    def count_leased(self, operations: int, retries: int, ended_idle: int,
                     errors: dict[str, int]) -> None:
        """Add what a lease holder ran on its own connections to the pool's counts."""
        with self._lock:
            self.counters["operations"] += operations
            self.counters["leased_operations"] += operations
            self.counters["retries"] += retries
            self.counters["ended_idle"] += ended_idle
            for kind, n in errors.items():
                self.errors[kind] += n

    def note_sizing(self, text: str) -> None:
        """Log a sizing decision with its reason and keep it for statistics."""
        log.info("pool %r: %s", self.name, text)
        self.sizing_log.append(text)
