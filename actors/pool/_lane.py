"""Statements run in an agent's own process, on connections leased from the pool actor.

The fast path of :class:`~actors.pool.PoolClient`: a leased PostgreSQL connection is taken
from a list, the statement sent and read by the code the pool actor itself uses
(:class:`PostgresConnector`, :class:`PendingStatement`), and the connection put back — no
message, no other thread. The pool's promises hold by the same rules: an idle connection
whose server ended it is replaced before use, one idle past ``check_after_idle`` is
checked first, an operation that failed transiently is retried on another connection
when it is idempotent or certainly did not run, a failed one says whether it may have
run, and a statement ends ``reply_margin`` before the asker's deadline. What the lane
cannot do at once — no leased connection free, a retry needing one — it hands back
(``None``), and the caller asks the pool actor instead.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from actors.profiler import Recorder
from messages import HandlerError

from ._connector import ErrorClass
from ._errors import OperationFailed
from ._lease_messages import LeaseGrant, LeaseReport
from ._messages import Execute, ExecuteResult, Transaction
from ._policy import Backoff
from ._postgres import PostgresConnector
from ._runner import budget, failure, may_retry

T = TypeVar("T")


class Lane:
    """The connections one agent process holds under a lease (thread-safe)."""

    def __init__(self, grant: LeaseGrant, pool: str) -> None:
        self.pool = pool
        self.connector = PostgresConnector(grant.conninfo, statement_timeout=grant.statement_timeout,
                                           client_name=grant.application_name,
                                           client_check_interval=grant.client_check_interval)
        self.statement_timeout = grant.statement_timeout
        self.margin, self.retries = grant.reply_margin, grant.retries
        self.check_after_idle = grant.check_after_idle
        self.limit = grant.connections
        self.backoff = Backoff()
        self._idle: list[tuple[Any, float]] = []
        self._open = 0
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self.recorder = Recorder(None, background=False)
        self.outcome: Callable[[ErrorClass | None, float], None] | None = None
        """Told each attempt's outcome (the holder's breaker guard records it)."""
        self.lost: Callable[[], None] | None = None
        """Told when a connection was closed below the grant (to open a replacement soon)."""

    # -- running -------------------------------------------------------------------------
    def execute(self, msg: Execute, idempotent: bool, deadline: float | None) -> ExecuteResult | None:
        """Run ``msg`` here; None when the pool actor should run it instead."""
        return self._run("pool.execute", idempotent, msg.timeout, deadline,
                         lambda conn, seconds: ExecuteResult.of(
                             self.connector.execute_alone(conn, msg.sql, msg.params, seconds)))

    def transaction(self, msg: Transaction, deadline: float | None) -> list[ExecuteResult] | None:
        """Run ``msg``'s statements here as one transaction; None as for :meth:`execute`."""
        statements = [(s.sql, s.params) for s in msg.statements]
        return self._run("pool.transaction", msg.idempotent, msg.timeout, deadline,
                         lambda conn, seconds: [ExecuteResult.of(r) for r in
                                                self.connector.transaction(conn, statements, seconds)])

    def _run(self, label: str, idempotent: bool, timeout: float | None, deadline: float | None,
             op: Callable[[Any, float], T]) -> T | None:
        seconds = timeout or self.statement_timeout
        attempts, may_have_run = 0, False
        while True:
            allowed = seconds
            if deadline is not None:
                left = deadline - time.time()
                if left <= 0:
                    if attempts == 0:
                        return None  # the actor answers a passed deadline, as it always has
                    raise self._remote(label, OperationFailed(
                        f"{label} was not started again: the asker's deadline passed after "
                        f"{attempts} attempt(s) ({'it may have run' if may_have_run else 'it did not run'})",
                        kind="timeout", may_have_run=may_have_run, attempts=attempts))
                allowed = min(seconds, budget(left, self.margin))
            conn = self._take()
            if conn is None:
                return None
            attempts += 1
            started = time.perf_counter()
            try:
                result = op(conn, allowed)
            except Exception as exc:
                error = self.connector.classify(exc)
                self._failed(conn, label, error, time.perf_counter() - started)
                if self.outcome is not None:
                    self.outcome(error, time.perf_counter() - started)
                may_have_run = may_have_run or error.may_have_run
                if may_retry(error, idempotent, may_have_run, attempts, self.retries):
                    with self._lock:
                        self._counts["retries"] += 1
                    time.sleep(self.backoff.delay(attempts - 1, random.random))
                    continue
                raise self._remote(label, failure(label, exc, error, idempotent, attempts,
                                                  may_have_run=may_have_run, seconds=allowed)) from exc
            self._give_back(conn)
            seconds = time.perf_counter() - started
            self.recorder.record(label + ".leased", seconds)
            if self.outcome is not None:
                self.outcome(None, seconds)
            with self._lock:
                self._counts["operations"] += 1
            return result

    def _failed(self, conn: Any, label: str, error: ErrorClass, seconds: float) -> None:
        self._give_back(conn, broken=error.broken)
        self.recorder.record(label + ".leased", seconds, ok=False)
        with self._lock:
            self._errors[error.kind] += 1

    def _remote(self, label: str, exc: OperationFailed) -> HandlerError:
        """The error the pool actor would have replied with, as the asker would get it."""
        return HandlerError(f"actor {self.pool!r} failed handling {label!r}: OperationFailed: {exc}",
                            details={**exc.details, "actor": self.pool, "type": label,
                                     "exception": "OperationFailed",
                                     "exception_mro": [c.__name__ for c in OperationFailed.__mro__
                                                       if c is not object]})

    # -- connections ---------------------------------------------------------------------
    def _take(self) -> Any | None:
        """An idle leased connection whose backend is still there, or None."""
        while True:
            try:
                conn, last_used = self._idle.pop()
            except IndexError:
                return None
            if self.connector.ended_while_idle(conn) or (
                    time.monotonic() - last_used > self.check_after_idle and not self._checks(conn)):
                self._close(conn)
                with self._lock:
                    self._counts["ended_idle"] += 1
                continue
            return conn

    def _checks(self, conn: Any) -> bool:
        try:
            self.connector.check(conn, 5.0)
        except Exception:
            return False
        return True

    def _give_back(self, conn: Any, broken: bool = False) -> None:
        with self._lock:
            keep = not broken and self._open <= self.limit
            if keep:
                self._idle.append((conn, time.monotonic()))
        if not keep:
            self._close(conn)

    def _close(self, conn: Any) -> None:
        self.connector.close(conn)
        with self._lock:
            self._open -= 1
            below = self._open < self.limit
        if below and self.lost is not None:
            self.lost()

    def fill(self) -> None:
        """Open connections up to the grant (from the renewing thread, not a caller's)."""
        while True:
            with self._lock:
                if self._open >= self.limit:
                    return
                self._open += 1
            try:
                conn = self.connector.connect(5.0)
            except Exception:
                with self._lock:
                    self._open -= 1
                    self._errors["connect"] += 1
                return
            self._give_back(conn)

    def resize(self, limit: int) -> None:
        """Keep at most ``limit`` connections open: close idle extras now, busy ones on return."""
        with self._lock:
            self.limit = limit
            extra = max(0, self._open - limit)
            closing = [self._idle.pop(0)[0] for _ in range(min(extra, len(self._idle)))]
        for conn in closing:
            self._close(conn)

    @property
    def open(self) -> int:
        """Leased connections open now (idle or in use)."""
        return self._open

    def report(self) -> LeaseReport:
        """What ran here since the last report (for the pool actor's statistics)."""
        with self._lock:
            counts, errors = self._counts, self._errors
            self._counts, self._errors = Counter(), Counter()
        batch = self.recorder.take()
        return LeaseReport(operations=counts["operations"], errors=dict(errors),
                           retries=counts["retries"], ended_idle=counts["ended_idle"],
                           latency=batch["ops"] if batch else {})

    def close(self) -> None:
        """Close every idle connection and stop handing any out; busy ones close on return."""
        self.resize(0)
        self.connector.shutdown()
