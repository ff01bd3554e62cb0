"""The pool mechanism: lease and return connections, fairly, from many threads.

All bookkeeping happens under one lock; connecting, checking and closing happen outside
it. Decisions (state changes, backoff, which connection, how many) come from _policy.
"""

from __future__ import annotations

import logging
from typing import Any

from ._connector import ErrorClass
from ._errors import AcquireTimeout, BackendUnavailable, PoolClosed
from ._opening import PoolOpening
from ._policy import ConnState, choose_least_busy, decayed_load, next_state
from ._slot import Slot, Waiter

log = logging.getLogger("actors.pool")


class Pool(PoolOpening):
    """Connections to one backend, leased one operation at a time (see :meth:`acquire`)."""

    # -- leasing ---------------------------------------------------------------------
    def acquire(self, timeout: float | None = None, *, validate: bool = False) -> Slot:
        """Lease the least-busy healthy connection, waiting in FIFO order up to ``timeout``.

        Opens a connection when requests queue and the pool is below max_size (respecting
        the reconnect backoff). ``validate`` checks the connection before handing it out;
        so does having been idle longer than check_after_idle. Raises AcquireTimeout,
        BackendUnavailable (connects failing), or PoolClosed.
        """
        start, opens_before = self.timer(), self._opens
        deadline = start + (self.config.acquire_timeout if timeout is None else timeout)
        waiter: Waiter | None = None
        while True:
            got, grow, waiter = self._try_lease(waiter)
            if got is not None:
                waiter = None  # out of the queue: a failed check starts a fresh turn
                if got.generation > opens_before or self._checked_out(got, validate):
                    self._note_wait(self.timer() - start)
                    return got
                continue
            if grow is not None:
                self._open(grow)
                continue
            assert waiter is not None
            if not self._wait(waiter, deadline):
                return self._give_up(waiter, deadline - start)

    def lease_now(self) -> Slot | None:
        """The least-busy idle connection at once, or None if that would mean waiting.

        For a caller that must not block (the actor thread): None when others wait in
        line, when no connection is idle, or when the chosen one is due a check — then
        the caller takes the :meth:`acquire` path, which queues, checks and connects.
        A connection whose backend has visibly gone is replaced, never handed out.
        """
        start = self.timer()
        while True:
            with self._lock:
                if self.closing or self._waiters:
                    return None
                slot = choose_least_busy([s for s in self._slots.values() if s.idle])
                if slot is None or self.clock() - slot.last_used > self.config.check_after_idle:
                    return None
                self._lease(slot)
            if self._still_there(slot):
                break
        self._note_wait(self.timer() - start)
        return slot

    def _still_there(self, slot: Slot) -> bool:
        """Whether a connection just leased from idle still has its backend (no round trip).

        One that has gone (terminated by the server, say) is released as broken, to be
        replaced, and the caller leases another: a dead connection is never handed out.
        """
        if not self.connector.ended_while_idle(slot.raw):
            return True
        log.info("pool %r: connection %d ended while idle (its server closed it); replacing it",
                 self.name, slot.id)
        with self._lock:
            self.counters["ended_idle"] += 1
        self.release(slot, ErrorClass("transient", broken=True, may_have_run=False), count=False)
        return False

    def _try_lease(self, waiter: Waiter | None) -> tuple[Slot | None, Slot | None, Waiter | None]:
        with self._lock:
            if self.closing:
                self._leave(waiter)
                raise PoolClosed(f"pool {self.name!r} is closing")
            if waiter is not None and waiter.slot is not None:
                return waiter.slot, None, waiter
            if (waiter is None and not self._waiters) or (self._waiters and self._waiters[0] is waiter):
                slot = choose_least_busy(s for s in self._slots.values() if s.idle)
                if slot is not None:
                    self._leave(waiter)
                    self._lease(slot)
                    return slot, None, None
            if waiter is None:
                waiter = Waiter()
                self._waiters.append(waiter)
            return None, self._claim_connect(), waiter

    def _wait(self, waiter: Waiter, deadline: float) -> bool:
        """Sleep until handed a connection, woken to retry, or the deadline; False at the deadline."""
        wait = deadline - self.timer()
        if wait <= 0:
            return False
        with self._lock:
            until_connect = self._next_connect_at - self.clock()
            if self._no_live_connections() and until_connect > wait:
                return False  # the next reconnect comes after the deadline: fail now
            if until_connect > 0:
                wait = min(wait, until_connect)
        waiter.event.wait(wait)
        waiter.event.clear()
        if waiter.error is not None:
            raise waiter.error
        return True

    def _give_up(self, waiter: Waiter, waited: float) -> Slot:
        with self._lock:
            if waiter.slot is not None:  # handed over at the last moment
                return waiter.slot
            self._leave(waiter)
            if self._no_live_connections() and self.last_connect_error:
                raise BackendUnavailable(
                    f"pool {self.name!r}: cannot connect to {self.connector.describe()} "
                    f"({self._connect_failures} failed attempt(s) in a row; last: "
                    f"{self.last_connect_error})")
            raise AcquireTimeout(
                f"pool {self.name!r}: no connection free within {waited:.3g} s "
                f"({len(self._slots)} of max {self.config.max_size} busy, "
                f"{len(self._waiters)} other request(s) waiting)")

    def _leave(self, waiter: Waiter | None) -> None:
        if waiter is not None and waiter in self._waiters:
            self._waiters.remove(waiter)

    def _checked_out(self, slot: Slot, validate: bool) -> bool:
        """Check a leased connection if asked or idle too long; discard it if it fails.

        Every connection is first polled for a backend that has gone (no round trip)."""
        if not self._still_there(slot):
            return False
        if not validate and self.clock() - slot.last_used <= self.config.check_after_idle:
            return True  # used a moment ago
        return self.run_check(slot)

    def run_check(self, slot: Slot) -> bool:
        """Check a connection this thread holds; return it marked, or discard it."""
        start = self.clock()
        try:
            self.connector.check(slot.raw, self.config.connect_timeout)
        except Exception as exc:
            log.warning("pool %r: connection %d failed its check (%s: %s); replacing it",
                        self.name, slot.id, type(exc).__name__, exc)
            self.release(slot, ErrorClass("transient", broken=True, may_have_run=False),
                         count=False)
            return False
        with self._lock:
            slot.last_checked = self.clock()
            slow = slot.last_checked - start > self.config.slow_check
            slot.state = next_state(slot.state, "slow" if slow else "ok")
        return True

    # -- returning -------------------------------------------------------------------
    def release(self, slot: Slot, error: ErrorClass | None = None, *, count: bool = True) -> None:
        """Give a leased connection back, with the error its operation raised, if any."""
        to_close: Any = None
        with self._lock:
            now = self.clock()
            slot.load = decayed_load(slot.load, now - slot.leased_at, now - slot.last_used)
            slot.last_used = now
            slot.uses += count
            if error is None:
                self.counters["operations"] += count
                slot.errors_in_row = 0
                slot.state = next_state(slot.state, "ok")
            else:
                if count:
                    self.errors[error.kind] += 1
                slot.errors += 1
                if error.broken:
                    slot.state = next_state(slot.state, "broken")
                elif error.kind == "transient":
                    slot.errors_in_row += 1
                    slot.state = next_state(slot.state, "transient_error", slot.errors_in_row)
            slot.leased = False
            if self.closing or now - slot.created > self.config.max_lifetime:
                to_close = self._drop(slot, "closing" if self.closing else "reached max_lifetime")
            elif slot.state is ConnState.FAILED:
                to_close, slot.raw = slot.raw, None
                slot.state = next_state(slot.state, "reconnecting")
                self._wake_head()
            else:
                self._hand_over(slot)
            self._returned.notify_all()
        if to_close is not None:
            self.connector.close(to_close)
