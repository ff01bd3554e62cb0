"""The pool actor: agents send operations, the pool runs them on leased connections."""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from actors import Actor, handler
from actors.breaker import CircuitOpenError
from messages import InvalidBody, to_wire

from ._errors import PoolError, UnsupportedOperation
from ._guard import PoolGuard
from ._lease_messages import Lease, LeaseGrant
from ._leasing import Leasing
from ._messages import (
    Command,
    CommandResult,
    Configure,
    Execute,
    ExecuteResult,
    PoolStatistics,
    Stats,
    Transaction,
)
from ._policy import guess_idempotent_command, guess_idempotent_sql
from ._pool import Pool
from ._runner import Runner
from ._settings import PoolSettings
from ._stats import Rates, pool_statistics
from ._upkeep import Upkeep

if TYPE_CHECKING:
    from ._direct import DirectStatements

log = logging.getLogger("actors.pool")


class PoolActor(Actor):
    """A connection pool shared by every agent of the node (``"actor": "pool"``).

    Handlers only validate and start the work, so as many operations run at once as there
    are connections; the reply goes out when each ends. On PostgreSQL a single statement
    that finds an idle connection runs from the actor's own thread without blocking
    (:mod:`._direct`); everything else runs on the actor's worker threads. The asker's
    deadline (read in the handler) caps each operation's acquire wait and statement
    timeout, so a statement is cancelled when its asker has given up.
    """

    expected_errors = (PoolError, CircuitOpenError)

    settings_class = PoolSettings

    def on_start(self) -> None:
        settings: PoolSettings = self.context.settings
        if settings.worker_threads < settings.max_size:
            log.warning("pool %r: worker_threads %d < max_size %d: at most %d operations run at "
                        "once", self.name, settings.worker_threads, settings.max_size,
                        settings.worker_threads)
        self.connector = settings.connector(data_dir=self.context.data_dir,
                                            pool_name=self.context.name,
                                            node=node_token(self.context.node_endpoint),
                                            incarnation=self.context.incarnation)
        self.pool = Pool(self.connector, settings.pool_config(), name=self.context.name)
        restore_counts(self.pool, self.context.snapshot)
        self.runner = Runner(self.pool)
        self.direct: DirectStatements | None = None
        if self.connector.backend == "postgres":  # psycopg is there: the postgres extra
            from ._direct import DirectStatements
            from ._postgres import PostgresConnector

            assert isinstance(self.connector, PostgresConnector)
            self.direct = DirectStatements(self.pool, self.connector, self.runner, self.context)
        self.rates = Rates(self.pool)
        self.guard = PoolGuard(self.context.connection(), settings.breaker_actor,
                               settings.breaker) if settings.breaker else None
        self.leasing: Leasing | None = None
        if self.direct is not None and settings.max_lease:
            self.leasing = Leasing(self.pool, self.direct.connector, self.runner, settings,
                                   self.name, self.guard)
        chores = [self.rates.sample] + ([self.leasing.tick] if self.leasing is not None else [])
        self.upkeep = Upkeep(self.pool, report=self._publish_stats,
                             report_every=settings.stats_interval, chores=chores)
        self.upkeep.start()
        if self.leasing is not None:
            self.leasing.tick()  # adopt what a predecessor granted before serving leases

    def on_stop(self) -> None:
        if self.direct is not None:
            self.direct.drain(self.context.settings.close_timeout)
        self.upkeep.close(self.context.settings.close_timeout)
        self.connector.shutdown()
        if self.guard is not None:
            self.guard.close()

    @handler
    def on_execute(self, msg: Execute) -> concurrent.futures.Future[Any]:
        self._needs(sql=True, what="pool.execute")
        idempotent = guess_idempotent_sql(msg.sql) if msg.idempotent is None else msg.idempotent
        deadline = self.context.deadline
        return self._guarded(lambda: self._start_execute(msg, idempotent, deadline))

    def _start_execute(self, msg: Execute, idempotent: bool,
                       deadline: float | None) -> concurrent.futures.Future[Any]:
        if self.direct is not None:
            started = self.direct.try_start(msg, idempotent, deadline)
            if started is not None:
                return started
        return self.context.run_in_thread(self._execute, msg, idempotent, deadline)

    def _guarded(self, start: Callable[[], concurrent.futures.Future[Any]]
                 ) -> concurrent.futures.Future[Any]:
        """Start an operation, through the backend's breaker if the pool has one."""
        return start() if self.guard is None else self.guard.around(start)

    def _execute(self, msg: Execute, idempotent: bool, deadline: float | None) -> ExecuteResult:
        rs = self.runner.execute(msg.sql, msg.params, idempotent=idempotent, timeout=msg.timeout,
                                 deadline=deadline)
        return ExecuteResult.of(rs)

    @handler
    def on_command(self, msg: Command) -> concurrent.futures.Future[Any]:
        self._needs(sql=False, what="pool.command")
        idempotent = guess_idempotent_command(msg.args) if msg.idempotent is None else msg.idempotent
        deadline = self.context.deadline
        return self._guarded(lambda: self.context.run_in_thread(self._command, msg, idempotent,
                                                                deadline))

    def _command(self, msg: Command, idempotent: bool, deadline: float | None) -> CommandResult:
        return CommandResult(self.runner.command(msg.args, idempotent=idempotent,
                                                 timeout=msg.timeout, deadline=deadline))

    @handler
    def on_transaction(self, msg: Transaction) -> concurrent.futures.Future[Any]:
        self._needs(sql=True, what="pool.transaction")
        deadline = self.context.deadline
        return self._guarded(lambda: self.context.run_in_thread(self._transaction, msg, deadline))

    def _transaction(self, msg: Transaction, deadline: float | None) -> list[ExecuteResult]:
        results = self.runner.transaction([(s.sql, s.params) for s in msg.statements],
                                          idempotent=msg.idempotent, timeout=msg.timeout,
                                          deadline=deadline)
        return [ExecuteResult.of(r) for r in results]

    @handler
    def on_configure(self, msg: Configure) -> dict[str, Any]:
        changes = {k: v for k, v in attrs.asdict(msg).items() if v is not None}
        config = attrs.evolve(self.pool.config, **changes)
        if config.min_size > config.max_size:
            raise InvalidBody(f"min_size: expected <= max_size ({config.max_size}), "
                              f"got {config.min_size}")
        with self.pool._lock:
            self.pool.config = config
            if changes:
                self.pool.note_sizing(f"settings changed by message: {changes}")
        return {k: v for k, v in to_wire(config).items() if k != "backoff"}

    @handler
    def on_lease(self, msg: Lease) -> LeaseGrant:
        if self.leasing is None:
            why = ("the fast lane is PostgreSQL only" if self.direct is None else
                   "max_lease is 0 (the pool's settings allow no leases)")
            return LeaseGrant(lease=msg.lease, connections=0, ttl=self.context.settings.lease_ttl,
                              reason=f"pool {self.name!r} grants no leases: {why}")
        return self.leasing.request(msg)

    @handler
    def on_stats(self, msg: Stats) -> PoolStatistics:
        return self.statistics()

    def statistics(self) -> PoolStatistics:
        leases = self.leasing.counts() if self.leasing is not None else (0, 0)
        return pool_statistics(self.pool, self.rates, leases)

    def _publish_stats(self) -> None:
        """Put the statistics on the event stream for the health monitor and profiler, and
        hand the counts to the node for the next incarnation."""
        self.context.publish("pool.stats", to_wire(self.statistics()))
        self._save_counts()

    def _save_counts(self) -> None:
        """Snapshot the counts (every stats_interval, from the upkeep thread: a snapshot
        saved in on_stop would never leave, the host's control loop waits for the stop)."""
        with self.pool._lock:
            state = {"v": 1, "counters": dict(self.pool.counters), "errors": dict(self.pool.errors)}
        with contextlib.suppress(RuntimeError, TimeoutError):  # no node to keep it: counts restart
            self.context.save_snapshot(state)

    def _needs(self, *, sql: bool, what: str) -> None:
        if self.connector.sql != sql:
            kind = "a SQL backend" if sql else "a redis or tcp backend"
            other = "pool.command" if sql else "pool.execute"
            raise UnsupportedOperation(f"{what} needs {kind}; pool {self.name!r} is "
                                       f"{self.connector.backend} (send {other})")



def node_token(node_endpoint: str) -> str:
    """Eight hex digits naming this node among those sharing a database server (host and
    front-door endpoint: no two running nodes share both)."""
    seed = f"{socket.gethostname()} {node_endpoint}".encode()
    return hashlib.blake2s(seed, digest_size=4).hexdigest()


def restore_counts(pool: Pool, snapshot: Any) -> None:
    """Carry the previous incarnation's operation and error counts on (see ``_save_counts``)."""
    if not isinstance(snapshot, dict) or snapshot.get("v") != 1:
        return
    for target, saved in ((pool.counters, snapshot.get("counters")),
                          (pool.errors, snapshot.get("errors"))):
        if isinstance(saved, dict):
            target.update({k: v for k, v in saved.items()
                           if isinstance(k, str) and isinstance(v, int) and v >= 0})
