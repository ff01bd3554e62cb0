"""The agent's side of the pool: the same asks, run in this process when a lease allows.

``PoolClient(conn, "pool", connections=2)`` asks the pool actor for a lease of two
connections of its budget, opens them here, and from then on runs ``Execute`` and
``Transaction`` on them in the calling thread — no message, no hop through the actor.
Everything else, and every statement the lease cannot take at that moment (no lease, no
free leased connection, psycopg not installed), goes through the actor with the same
call. A background thread renews the lease four times per ``ttl``, reporting what ran
here so ``pool.stats``, the health monitor and the profiler count it; it shrinks or
drops the lane when the pool wants its budget back, and the lane stops at the lease's
expiry if the pool cannot be reached. Opening the connections here means the agent
holds the database credentials (the grant carries the DSN): see README.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from typing import Any

import attrs

from ._guard import PoolGuard
from ._lease_messages import Lease, LeaseGrant
from ._messages import Execute, Transaction
from ._policy import guess_idempotent_sql

HOST = socket.gethostname()


@attrs.frozen
class PoolClientStatistics:
    """How a :class:`PoolClient`'s asks were served, and its lease."""

    leased: int
    """Statements run in this process on leased connections."""
    through_actor: int
    """Asks sent to the pool actor (no lease, none free, or not a statement)."""
    connections: int
    """Connections the lease allows now."""
    open: int
    renewals: int
    failed_renewals: int
    lease: str
    reason: str
    """Why the lane has fewer connections than asked for, or the last renewal's error."""


class PoolClient:
    """Asks pool actor ``pool`` through ``connection``, on leased connections when it can.

    ``connections`` is the lease wanted (0: never lease). ``ask`` takes what
    ``connection.ask`` takes and returns what it returns; :meth:`statistics` says how
    asks were served. Close it (or use ``with``) to give the lease back.
    """

    def __init__(self, connection: Any, pool: str = "pool", *, connections: int = 1) -> None:
        if not isinstance(connections, int) or connections < 0:
            raise ValueError(f"connections must be an integer >= 0, got {connections!r}")
        self.connection = connection
        self.pool = pool
        self.want = connections
        self._lane: Any = None
        self._guard: PoolGuard | None = None
        self._lease = ""
        self._granted = 0
        self._expires = 0.0
        self._every = 0.5
        self._leased = self._through = self._renewals = self._failed = 0
        self._reason = ""
        self._stop = threading.Event()
        self._refill = threading.Event()
        self._thread: threading.Thread | None = None
        if connections and self._driver():
            self._renew()
            self._thread = threading.Thread(target=self._keep, daemon=True,
                                            name=f"pool-lease-{pool}")
            self._thread.start()

    def _driver(self) -> bool:
        try:
            import psycopg  # noqa: F401  (the postgres extra)
        except ImportError:
            self._reason = "psycopg is not installed here: every statement goes through the actor"
            return False
        return True

    # -- asking ------------------------------------------------------------------------
    def ask(self, message: Any, body: Any = None, *, timeout: float | None = None) -> Any:
        """Ask the pool ``message``: on a leased connection if one is free, else the actor."""
        lane, guard = self._lane, self._guard
        kind = type(message)
        if lane is not None and (kind is Execute or kind is Transaction) \
                and time.monotonic() < self._expires and (guard is None or guard.closed_circuit):
            seconds = self.connection.default_timeout if timeout is None else timeout
            if not (isinstance(seconds, (int, float)) and 0 < seconds < math.inf):
                raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
            deadline = time.time() + seconds
            if kind is Execute:
                idempotent = guess_idempotent_sql(message.sql) if message.idempotent is None \
                    else message.idempotent
                result: Any = lane.execute(message, idempotent, deadline)
            else:
                result = lane.transaction(message, deadline)
            if result is not None:
                self._leased += 1
                return result
        self._through += 1
        return self.connection.ask(self.pool, message, body, timeout=timeout)

    def execute(self, sql: str, params: Any = None, *, idempotent: bool | None = None,
                timeout: float | None = None) -> Any:
        """``ask(Execute(sql, params, idempotent))``: one statement's ExecuteResult."""
        return self.ask(Execute(sql, params, idempotent), timeout=timeout)

    def statistics(self) -> PoolClientStatistics:
        """How many asks ran here and how many went to the actor; the lease as it stands."""
        lane = self._lane
        return PoolClientStatistics(self._leased, self._through, self._granted,
                                    lane.open if lane is not None else 0, self._renewals,
                                    self._failed, self._lease, self._reason)

    # -- the lease ---------------------------------------------------------------------
    def _keep(self) -> None:
        """Renew four times per ttl; in between, replace leased connections that were lost."""
        renewed = time.monotonic()
        while not self._stop.is_set():
            lost = self._refill.wait(max(0.0, renewed + self._every - time.monotonic()))
            if self._stop.is_set():
                return
            if lost:
                self._refill.clear()
                lane = self._lane
                if lane is not None:
                    lane.fill()
                if time.monotonic() < renewed + self._every:
                    continue
            renewed = time.monotonic()
            self._renew()

    def _renew(self) -> None:
        """One ``pool.lease``: renew (or ask for) the lease, report, apply the grant."""
        from ._lane import Lane

        lane = self._lane
        sent = time.monotonic()
        request = Lease(want=self.want, lease=self._lease,
                        open=lane.open if lane is not None else 0, pid=os.getpid(), host=HOST,
                        report=lane.report() if lane is not None else None)
        try:
            grant = self.connection.ask(self.pool, request, timeout=max(self._every, 1.0))
            if not isinstance(grant, LeaseGrant):
                raise TypeError(f"pool {self.pool!r} answered pool.lease with {grant!r}")
        except Exception as exc:
            self._failed += 1
            self._reason = f"renewing the lease failed: {type(exc).__name__}: {exc}"
            if lane is not None and time.monotonic() >= self._expires:
                self._retire()  # lapsed: the pool may reclaim these connections any moment
            return
        self._renewals += 1
        self._lease, self._granted, self._reason = grant.lease, grant.connections, grant.reason
        self._expires, self._every = sent + grant.ttl, grant.ttl / 4
        if grant.breaker and self._guard is None:
            self._guard = PoolGuard(self.connection, grant.breaker_actor, grant.breaker,
                                    attach=False)
            self._guard.attach()
        if grant.connections == 0:
            self._retire()
            return
        if lane is None:
            lane = Lane(grant, self.pool)
            lane.lost = self._refill.set
            if self._guard is not None:
                lane.outcome = self._guard.record
        else:
            lane.resize(grant.connections)
        lane.fill()
        self._lane = lane

    def _retire(self) -> None:
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()

    def close(self) -> None:
        """Give the lease back: close the leased connections and tell the pool."""
        self._stop.set()
        self._refill.set()
        if self._thread is not None:
            self._thread.join(5.0)
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
        if self._guard is not None:
            self._guard.close()
        if self._lease:
            with contextlib.suppress(Exception):  # unreachable: the lease lapses by itself
                self.connection.ask(self.pool, Lease(
                    want=0, lease=self._lease, open=lane.open if lane is not None else 0,
                    pid=os.getpid(), host=HOST,
                    report=lane.report() if lane is not None else None), timeout=1.0)
            self._lease, self._granted = "", 0

    def __enter__(self) -> PoolClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
