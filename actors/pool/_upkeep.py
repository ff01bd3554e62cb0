"""The pool's maintenance: eager fill, idle health checks, expiry, shrinking, reconnects,
and graceful close. One background thread runs :meth:`Upkeep.tick` every ``tick`` seconds;
tests call ``tick()`` directly with an injected clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import PoolClosed
from ._policy import ConnState, decide_size
from ._pool import Pool
from ._slot import Slot

log = logging.getLogger("actors.pool")


class Upkeep:
    """Keeps a :class:`Pool` healthy and sized between requests."""

    def __init__(self, pool: Pool, *, report: Callable[[], None] | None = None,
                 report_every: float = 10.0, chores: Sequence[Callable[[], None]] = ()) -> None:
        self.pool = pool
        self.report, self.report_every = report, report_every
        self.chores = chores
        """Run after every pass (the fast lane's reclaiming, rate sampling)."""
        self._reported_at = pool.clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Open min_size connections now if the pool is eager, then start the thread."""
        if self.pool.config.eager:
            self.refill()
        self._thread = threading.Thread(target=self._run, name=f"{self.pool.name}-upkeep",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.pool.config.tick):
            for chore in (self.tick, *self.chores):
                try:
                    chore()
                except Exception:  # upkeep must outlive any one bad pass
                    log.exception("pool %r: maintenance pass failed", self.pool.name)
            try:
                if self.report is not None and self.pool.clock() - self._reported_at >= self.report_every:
                    self._reported_at = self.pool.clock()
                    self.report()
            except Exception:  # upkeep must outlive any one bad pass
                log.exception("pool %r: maintenance pass failed", self.pool.name)

    def refill(self) -> int:
        """Open connections the sizing policy or broken slots call for; return how many."""
        pool = self.pool
        if not pool.config.eager and not pool.counters["acquires"] and not pool._slots:
            return 0  # lazy: the first request opens the first connection
        opened = 0
        while True:
            with self.pool._lock:
                slot = self.pool._claim_connect()
            if slot is None or not self.pool._open(slot):
                return opened
            opened += 1

    def tick(self) -> None:
        """One maintenance pass: expire, check, shrink, then reopen what is missing."""
        pool, cfg = self.pool, self.pool.config
        to_close: list[Any] = []
        to_check: list[Slot] = []
        with pool._lock:
            now = pool.clock()
            for slot in list(pool._slots.values()):
                if not slot.idle:
                    continue
                if now - slot.created > cfg.max_lifetime:
                    to_close.append(pool._drop(slot, "reached max_lifetime"))
                elif now - slot.last_used > cfg.max_idle and len(pool._slots) > cfg.min_size:
                    to_close.append(pool._drop(slot, f"idle {now - slot.last_used:.0f} s "
                                                     f"(max_idle {cfg.max_idle:g} s)"))
                elif now - max(slot.last_checked, slot.last_used) >= cfg.health_check_interval:
                    slot.leased, slot.leased_at = True, now
                    to_check.append(slot)
            decision = decide_size(pool.load(now))
            if decision.change < 0:
                idle = sorted((s for s in pool._slots.values() if s.idle), key=lambda s: s.last_used)
                victims = idle[:-decision.change]
                pool.note_sizing(f"closing {len(victims)} connection(s): {decision.reason}")
                to_close.extend(pool._drop(s, "shrinking") for s in victims)
            if now - pool._window_start >= cfg.shrink_after:
                pool._window_start = now
                pool._peak = sum(1 for s in pool._slots.values() if s.leased)
        for raw in to_close:
            if raw is not None:
                pool.connector.close(raw)
        for slot in to_check:
            if pool.run_check(slot):
                with pool._lock:
                    slot.leased = False
                    pool._hand_over(slot)
        self.refill()

    def close(self, grace: float) -> int:
        """Refuse new work, wait up to ``grace`` seconds for leases to return, close all.

        Returns how many connections were still leased at the end and closed under their
        operation."""
        pool = self.pool
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(grace, 1.0))
        to_close: list[Any] = []
        with pool._lock:
            pool.closing = True
            for waiter in pool._waiters:
                waiter.error = PoolClosed(f"pool {pool.name!r} closed while this request waited")
                waiter.event.set()
            pool._waiters.clear()
            to_close.extend(pool._drop(s, "closing") for s in list(pool._slots.values())
                            if not s.leased)
            deadline = pool.timer() + grace
            while any(s.leased for s in pool._slots.values()):
                remaining = deadline - pool.timer()
                if remaining <= 0:
                    break
                pool._returned.wait(remaining)
            forced = [s for s in pool._slots.values() if s.leased]
            to_close.extend(pool._drop(s, "closing") for s in forced)
            for slot in forced:
                slot.state = ConnState.FAILED
        for raw in to_close:
            if raw is not None:
                pool.connector.close(raw)
        if forced:
            log.warning("pool %r: closed %d connection(s) still in use after %.1f s",
                        pool.name, len(forced), grace)
        return len(forced)
