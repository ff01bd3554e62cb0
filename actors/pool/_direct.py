"""Single statements run from the pool actor's own thread, without a thread per operation.

A ``pool.execute`` that finds an idle connection at once is sent without blocking; the
connection's socket is then watched beside the actor's mailbox and the reply goes out
from the same thread when the result is in. Nothing crosses a thread on this path, which
is where a query's time went before (hand-offs to workers and back, each a wake-up on a
busy machine). Anything that would wait — no idle connection, a connection due a check,
a timeout longer than the server's, a retry — takes the worker-thread path instead.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from actors import ActorContext

from ._connector import OpenedTransaction
from ._messages import Execute, ExecuteResult
from ._pg_statement import PendingStatement
from ._pool import Pool
from ._postgres import PostgresConnector
from ._runner import Runner, budget, failure, retrying
from ._slot import Slot

log = logging.getLogger("actors.pool")

_LABEL = "pool.execute"


class _Operation:
    """One pool.execute under way: what to reply to and what to give back."""

    __slots__ = ("deadline", "future", "idempotent", "msg", "seconds", "slot")

    def __init__(self, slot: Slot, msg: Execute, idempotent: bool, deadline: float | None,
                 seconds: float) -> None:
        self.slot = slot
        self.msg = msg
        self.idempotent = idempotent
        self.deadline = deadline
        self.seconds = seconds
        self.future: concurrent.futures.Future[ExecuteResult] = concurrent.futures.Future()


class DirectStatements:
    """Runs ``pool.execute`` on a PostgreSQL pool from the actor thread when it can."""

    def __init__(self, pool: Pool, connector: PostgresConnector, runner: Runner,
                 context: ActorContext) -> None:
        self.pool = pool
        self.connector = connector
        self.runner = runner
        self.context = context
        self._in_flight: dict[int, tuple[PendingStatement, _Operation]] = {}
        self._callbacks: dict[int, Callable[[], None]] = {}
        """The readiness callback of each descriptor, made on its first statement."""

    def try_start(self, msg: Execute, idempotent: bool,
                  deadline: float | None) -> concurrent.futures.Future[ExecuteResult] | None:
        """The reply's future if the statement could be sent now; None to take the thread path."""
        seconds = msg.timeout or self.pool.config.statement_timeout
        if self.connector.outlasts_server(seconds):
            return None
        if deadline is not None:
            left = deadline - time.time()
            if left <= 0:
                return None  # the thread path says the deadline passed, as it always has
            seconds = min(seconds, budget(left, self.pool.config.reply_margin))
        slot = self.pool.lease_now()
        if slot is None:
            return None
        op = _Operation(slot, msg, idempotent, deadline, seconds)
        try:
            statement = self.connector.start(slot.raw, msg.sql, msg.params, seconds)
        except Exception as exc:  # bad parameters, or the connection broke
            self._failed(op, exc)
            return op.future
        fd = statement.fd
        self._in_flight[fd] = statement, op
        callback = self._callbacks.get(fd)
        if callback is None:  # a descriptor number is reused by the next connection: keep it
            callback = self._callbacks[fd] = functools.partial(self._on_readable, fd)
        self.context.watch_readable(fd, callback)
        return op.future

    def drain(self, timeout: float) -> None:
        """Finish every statement in flight (waiting up to ``timeout``, then cancelling)."""
        for fd in list(self._in_flight):
            statement, op = self._in_flight[fd]
            self.connector.canceller.arm(statement, timeout)
            self.context.unwatch(fd)
            try:
                result = statement.wait()
            except Exception as exc:
                self._end(fd)
                self._failed(op, exc, retry=False)
            else:
                self._succeeded(fd, op, result)

    def _on_readable(self, fd: int) -> None:
        entry = self._in_flight.get(fd)
        if entry is None:  # finished by an earlier callback of the same poll
            return
        statement, op = entry
        try:
            result = statement.poll()
        except Exception as exc:
            self._end(fd)
            self._failed(op, exc)
            return
        if result is not None:
            self._succeeded(fd, op, result)

    def _succeeded(self, fd: int, op: _Operation, result: Any) -> None:
        self._end(fd)
        if self.connector.in_transaction(op.slot.raw):  # BEGIN sent as pool.execute
            self._failed(op, OpenedTransaction(), retry=False)
            return
        self.pool.release(op.slot)
        op.future.set_result(ExecuteResult.of(result))

    def _end(self, fd: int) -> None:
        self._in_flight.pop(fd, None)
        self.context.unwatch(fd)

    def _failed(self, op: _Operation, exc: Exception, *, retry: bool = True) -> None:
        """Give the connection back marked, then retry on a worker thread or report."""
        error = self.connector.classify(exc)
        self.pool.release(op.slot, error)
        if retry and retrying(self.pool, _LABEL, exc, error, op.idempotent, 1, error.may_have_run):
            again = self.context.run_in_thread(
                functools.partial(self.runner.execute, op.msg.sql, op.msg.params,
                                  idempotent=op.idempotent, timeout=op.msg.timeout,
                                  deadline=op.deadline, attempts=1,
                                  may_have_run=error.may_have_run))
            again.add_done_callback(functools.partial(_settle, op.future))
            return
        op.future.set_exception(failure(_LABEL, exc, error, op.idempotent, 1,
                                        may_have_run=error.may_have_run, seconds=op.seconds))


def _settle(future: concurrent.futures.Future[ExecuteResult],
            done: concurrent.futures.Future[Any]) -> None:
    """Complete ``future`` as ``done`` completed (a retry's outcome is the reply)."""
    exc = done.exception()
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(ExecuteResult.of(done.result()))
