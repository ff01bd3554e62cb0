"""Opening connections: which slot to (re)open, connecting it outside the lock, and
making room in the budget for leases.

Split from the leasing in ``_pool`` because it is its own concern: the sizing policy and
the reconnect backoff decide when to open; a failed connect wakes waiters so they can
give up with the connect error instead of waiting out their timeout.
"""

from __future__ import annotations

import logging

from ._leases import Holding, LeaseBook
from ._policy import ConnState, decide_size
from ._slot import Slot
from ._state import PoolState

log = logging.getLogger("actors.pool")


class PoolOpening(PoolState):
    """The pool's opening of connections (leasing and returning are in :class:`Pool`)."""

    def grant_lease(self, book: LeaseBook, held: Holding) -> int:
        """Decide ``held``'s share of the budget under the pool's lock; return its grant.

        The actor keeps ``min_size`` connections, at least one (for agents without a
        lease, and to end the server connections of a holder that died); leases share the
        rest with the actor's own extra demand (requests in use or queued beyond that). To grant more,
        idle connections of the actor's above ``min_size`` are closed now; leases then hold
        ``book.reserved()`` of the budget, which the actor's sizing leaves alone.
        """
        to_close = []
        with self._lock:
            cfg = self.config
            in_use = sum(1 for s in self._slots.values() if s.leased)
            idle = sorted((s for s in self._slots.values() if s.idle), key=lambda s: s.last_used)
            keep = max(1, cfg.min_size)
            spare = max(0, min(len(idle), len(self._slots) - keep))
            free = cfg.max_size - len(self._slots) - book.reserved()
            before = held.reserved
            granted = book.decide(held, leasable=cfg.max_size - keep,
                                  actor_wants=in_use + len(self._waiters) - keep,
                                  free=free + spare)
            for slot in idle[:max(0, granted - before - free)]:
                to_close.append(self._drop(slot, "its place in the budget is leased"))
            self.reserved = book.reserved()
        for raw in to_close:
            if raw is not None:
                self.connector.close(raw)
        return granted

    def set_reserved(self, reserved: int) -> None:
        """Leases now hold ``reserved`` connections of the budget (after some were given back)."""
        with self._lock:
            self.reserved = reserved
            self._wake_head()  # a waiter may now open a connection

    def _claim_connect(self) -> Slot | None:
        """A slot to (re)open now, per sizing policy and reconnect backoff (lock held)."""
        now = self.clock()
        if self.closing or now < self._next_connect_at:
            return None
        for slot in self._slots.values():
            if slot.state is ConnState.RECOVERING and not slot.connecting:
                slot.connecting = True
                return slot
        decision = decide_size(self.load(now))
        if decision.change <= 0:
            return None
        slot = Slot(next(self._ids), connecting=True)
        self._slots[slot.id] = slot
        self.note_sizing(f"opening connection {slot.id}: {decision.reason}")
        return slot

    def _open(self, slot: Slot) -> bool:
        """Connect a claimed slot (outside the lock); hand it over or record the failure."""
        try:
            raw = self.connector.connect(self.config.connect_timeout)
        except Exception as exc:
            with self._lock:
                slot.connecting = False
                self._connect_failures += 1
                self.errors["connect"] += 1
                delay = self.config.backoff.delay(self._connect_failures, self.rand)
                self._next_connect_at = self.clock() + delay
                self.last_connect_error = " ".join(f"{type(exc).__name__}: {exc}".split())
                for waiter in self._waiters:
                    waiter.event.set()
            log.warning("pool %r: connecting to %s failed (%s); attempt %d, next in %.2f s",
                        self.name, self.connector.describe(), self.last_connect_error,
                        self._connect_failures, delay)
            return False
        with self._lock:
            slot.connecting = False
            if self.closing or slot.id not in self._slots:
                self._slots.pop(slot.id, None)
                closing = True
            else:
                closing = False
                now = self.clock()
                slot.raw, slot.created, slot.last_used, slot.last_checked = raw, now, now, now
                slot.state, slot.errors_in_row, slot.load = ConnState.HEALTHY, 0, 0.0
                self._connect_failures, self.last_connect_error = 0, ""
                self._opens += 1
                slot.generation = self._opens
                self._hand_over(slot)
        if closing:
            self.connector.close(raw)
        return not closing
