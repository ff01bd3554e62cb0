"""The pool actor's side of the fast lane: grants, renewals, reports, and reclaiming.

An agent process leases part of the connection budget and opens those connections
itself (:class:`~actors.pool.PoolClient`); the actor stays the owner of the budget. It
grants shares on ``pool.lease`` (the actor thread), takes back what a holder should give
up at its next renewal, and — from the upkeep thread — ends the server connections of a
holder that stopped renewing or whose process died before that budget is used again.
Leased connections are named ``cellphone-<pool>@<node>~<lease>``, so the server itself
says which connections a holder still has; a restarted pool adopts them from there.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import TYPE_CHECKING

from actors.profiler import Histogram, default_recorder

from ._errors import PoolError
from ._lease_messages import Lease, LeaseGrant, LeaseReport
from ._leases import LeaseBook

if TYPE_CHECKING:
    from ._guard import PoolGuard
    from ._leases import Holding
    from ._pool import Pool
    from ._postgres import PostgresConnector
    from ._runner import Runner
    from ._settings import PoolSettings

log = logging.getLogger("actors.pool")
HOST = socket.gethostname()
CHECK_SECONDS = 2.0
"""How long one look at the server's connections may take (from the upkeep thread)."""


def lease_application_name(pool_name: str, lease: str) -> str:
    """The application_name of a leased connection: the pool's, with ``~<lease>`` for the
    incarnation (``cellphone-<pool>@<node>#3`` → ``cellphone-<pool>@<node>~1a2b3c4d``)."""
    return pool_name.rsplit("#", 1)[0] + "~" + lease


class Leasing:
    """Leases of one PostgreSQL pool (``max_lease`` connections per holder at most)."""

    def __init__(self, pool: Pool, connector: PostgresConnector, runner: Runner,
                 settings: PoolSettings, actor: str, guard: PoolGuard | None = None) -> None:
        self.pool = pool
        self.connector = connector
        self.runner = runner
        self.settings = settings
        self.actor = actor
        self.guard = guard
        self.family = lease_application_name(connector.client_name, "")
        self.book = LeaseBook(ttl=settings.lease_ttl, clock=pool.clock,
                              name_of=lambda lease: self.family + lease)
        self.adopted = False

    # -- the actor thread --------------------------------------------------------------
    def request(self, msg: Lease) -> LeaseGrant:
        """Grant, renew, shrink or end a lease; fold in what its holder reports."""
        if not self.adopted:
            return self._grant(msg.lease, 0, "the pool is starting; ask again shortly")
        held = self.book.holding(msg.lease, min(msg.want, self.settings.max_lease))
        held.want, held.open = min(msg.want, self.settings.max_lease), msg.open
        held.pid, held.host = msg.pid, msg.host
        if msg.report is not None:
            self._fold(held, msg.report)
        if held.ending:
            return self._grant(held.id, 0, f"this lease is being reclaimed ({held.ending}); "
                                           "close its connections and ask again")
        if self.guard is not None and not self.guard.closed_circuit:
            held.want = 0  # its share goes back to the budget until the circuit closes
            self.pool.grant_lease(self.book, held)
            return self._grant(held.id, 0, f"circuit {self.guard.resource!r} is not closed: "
                                           "statements go through the pool actor")
        if msg.want == 0 and msg.open == 0:
            self.book.end(held.id)
            self.pool.set_reserved(self.book.reserved())
            return self._grant(held.id, 0, "given back")
        granted = self.pool.grant_lease(self.book, held)
        reason = "" if granted >= held.want else self._why_fewer(held, granted)
        return self._grant(held.id, granted, reason)

    def _grant(self, lease: str, connections: int, reason: str) -> LeaseGrant:
        s, cfg = self.settings, self.pool.config
        return LeaseGrant(lease=lease, connections=connections, ttl=s.lease_ttl, reason=reason,
                          conninfo=self.connector.conninfo,
                          application_name=self.family + lease if lease else "",
                          statement_timeout=cfg.statement_timeout,
                          client_check_interval=s.client_check_interval,
                          reply_margin=cfg.reply_margin, retries=cfg.retries,
                          check_after_idle=cfg.check_after_idle, breaker=s.breaker,
                          breaker_actor=s.breaker_actor)

    def _why_fewer(self, held: Holding, granted: int) -> str:
        cfg = self.pool.config
        return (f"{granted} of {held.want}: leases share max_size {cfg.max_size} less the "
                f"{max(1, cfg.min_size)} connection(s) the pool keeps, with {len(self.book.holdings)} "
                "holder(s) and the pool's own demand; ask again at the next renewal")

    def _fold(self, held: Holding, report: LeaseReport) -> None:
        """Count a holder's statements in the pool's statistics and the node's profiler."""
        held.operations += report.operations
        self.pool.count_leased(report.operations, report.retries, report.ended_idle,
                               report.errors)
        recorder = default_recorder()
        for op, data in report.latency.items():
            try:
                recorder.add(f"{self.actor}:{op}", Histogram.from_dict(data))
            except (TypeError, ValueError, KeyError) as exc:
                log.warning("pool %r: a lease report's latencies of %r were ignored: %s",
                            self.actor, op, exc)

    # -- the upkeep thread -------------------------------------------------------------
    def tick(self) -> None:
        """Adopt leases a predecessor granted (once), then reclaim lapsed or dead ones.

        Needs one of the pool's connections; while the server is away it tries again on
        the next pass (reclaimed budget stays reserved until the server confirms)."""
        try:
            self._tick()
        except PoolError as exc:
            log.debug("pool %r: leases not checked this pass: %s", self.actor, exc)

    def _tick(self) -> None:
        if not self.adopted:
            self._adopt()
            return
        ending = self.book.lapsed(_alive)
        for held in ending:
            left = self._end_backends(held.application_name)
            if left == 0:
                log.info("pool %r: lease %s reclaimed (%s)", self.actor, held.id, held.ending)
                self.book.end(held.id)
        if ending:
            self.pool.set_reserved(self.book.reserved())

    def _adopt(self) -> None:
        """Count the leased connections the server has for this pool (held before a restart);
        they keep their budget until their holder renews or lapses."""
        rows = self.runner.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE left(application_name, %s) = %s GROUP BY 1",
            [len(self.family), self.family], idempotent=True, timeout=5.0,
            deadline=time.time() + CHECK_SECONDS).rows
        for name, count in rows:
            held = self.book.holding(str(name)[len(self.family):], int(count))
            held.open = held.granted = int(count)
            held.expires = self.pool.clock() + self.book.ttl
        self.pool.set_reserved(self.book.reserved())
        self.adopted = True
        if rows:
            log.info("pool %r: adopted %d lease(s) holding %d connection(s)", self.actor,
                     len(rows), self.book.reserved())

    def _end_backends(self, name: str) -> int:
        """Terminate the server connections named ``name``; how many there were."""
        rows = self.runner.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s", [name], idempotent=True, timeout=5.0,
            deadline=time.time() + CHECK_SECONDS).rows
        return int(rows[0][0])

    def counts(self) -> tuple[int, int]:
        """(holders, connections they may have open) for ``pool.stats``."""
        with self.book.lock:
            return len(self.book.holdings), self.book.reserved()


def _alive(held: Holding) -> bool:
    """False only for a holder on this host whose process is gone (others lapse by ttl)."""
    if held.host != HOST or held.pid <= 0:
        return True
    try:
        os.kill(held.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

