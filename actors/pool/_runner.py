"""Running one operation on a leased connection, with retries for idempotent work."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._connector import Connector, DidNotRun, ErrorClass, Params, ResultSet
from ._errors import OperationFailed
from ._pool import Pool
from ._slot import Slot

log = logging.getLogger("actors.pool")
T = TypeVar("T")


class Runner:
    """Runs execute / command / transaction on a pool's connections.

    A transient error discards or marks the connection; the operation is then retried
    (up to ``retries`` times) on a connection validated before use if it is idempotent or
    certainly did not run (nothing of it reached a live backend, or it was rolled back),
    the first retry at once and later ones after a jittered backoff. Everything else
    raises :class:`OperationFailed` saying whether the operation may have run.
    """

    def __init__(self, pool: Pool, *, sleep: Callable[[float], None] = time.sleep,
                 wall: Callable[[], float] = time.time) -> None:
        self.pool = pool
        self.sleep = sleep
        self.wall = wall

    def execute(self, sql: str, params: Params, *, idempotent: bool,
                timeout: float | None = None, deadline: float | None = None,
                attempts: int = 0, may_have_run: bool = False) -> ResultSet:
        """One SQL statement in autocommit mode (``attempts`` already made elsewhere)."""
        return self.run("pool.execute", idempotent, timeout,
                        lambda c, raw, seconds: c.execute_alone(raw, sql, params, seconds),
                        deadline=deadline, attempts=attempts, may_have_run=may_have_run)

    def command(self, args: Sequence[Any], *, idempotent: bool, timeout: float | None = None,
                deadline: float | None = None) -> Any:
        """One Redis or line-protocol command."""
        return self.run("pool.command", idempotent, timeout,
                        lambda c, raw, seconds: c.command(raw, args, seconds), deadline=deadline)

    def transaction(self, statements: Sequence[tuple[str, Params]], *, idempotent: bool,
                    timeout: float | None = None, deadline: float | None = None) -> list[ResultSet]:
        """Statements on one connection, committed or rolled back as a unit."""
        return self.run("pool.transaction", idempotent, timeout,
                        lambda c, raw, seconds: c.transaction(raw, statements, seconds),
                        deadline=deadline)

    def run(self, label: str, idempotent: bool, timeout: float | None,
            op: Callable[[Connector, Any, float], T], *, deadline: float | None = None,
            attempts: int = 0, may_have_run: bool = False) -> T:
        """Lease, run ``op(connector, raw, seconds)``, return the lease; retry per the class doc.

        ``timeout`` (None: the pool's statement_timeout) bounds each attempt's statement.
        ``deadline`` (wall-clock Unix seconds, the asker's) caps both the acquire wait and
        the statement timeout by the time left less the reply margin (:func:`budget`), so
        nothing runs on for an asker who left and the verdict reaches the asker in time.
        ``attempts`` and ``may_have_run`` carry on from tries made before this call.
        """
        pool, connector = self.pool, self.pool.connector
        seconds = timeout or pool.config.statement_timeout
        margin = pool.config.reply_margin
        while True:
            left = self._left(label, deadline, attempts, may_have_run)
            slot = pool.acquire(None if left is None else
                                min(pool.config.acquire_timeout, budget(left, margin)),
                                validate=attempts > 0)
            attempts += 1
            left = self._left(label, deadline, attempts, may_have_run, slot)
            allowed = seconds if left is None else min(seconds, budget(left, margin))
            try:
                result = op(connector, slot.raw, allowed)
            except Exception as exc:
                error = connector.classify(exc)
                pool.release(slot, error)
                may_have_run = may_have_run or error.may_have_run
                if retrying(pool, label, exc, error, idempotent, attempts, may_have_run):
                    self.sleep(pool.config.backoff.delay(attempts - 1, pool.rand))
                    continue
                if error.kind == "timeout":
                    seconds = allowed  # the asker's deadline may have ended it, not the timeout
                raise failure(label, exc, error, idempotent, attempts,
                              may_have_run=may_have_run, seconds=seconds) from exc
            pool.release(slot)
            return result

    def _left(self, label: str, deadline: float | None, attempts: int, may_have_run: bool,
              slot: Slot | None = None) -> float | None:
        """Seconds until ``deadline`` (None without one); OperationFailed if none are left."""
        if deadline is None:
            return None
        left = deadline - self.wall()
        if left > 0:
            return left
        if slot is not None:
            self.pool.release(slot, count=False)
        ran = "it may have run" if may_have_run else "it did not run"
        tried = f", after {attempts} attempt(s)" if attempts else ""
        raise OperationFailed(f"{label} was not started{' again' if attempts else ''}: the "
                              f"asker's deadline passed {-left:.3f} s ago{tried} ({ran})",
                              kind="timeout", may_have_run=may_have_run, attempts=attempts)


def budget(left: float, margin: float) -> float:
    """Seconds an operation may take when its asker's deadline is ``left`` seconds away.

    It ends ``margin`` seconds early (at most a quarter of what is left), so the reply
    saying it was cancelled — and did not run — still finds the asker waiting.
    """
    return left - min(margin, left / 4)


def may_retry(error: ErrorClass, idempotent: bool, may_have_run: bool, attempts: int,
              retries: int) -> bool:
    """Whether an operation that failed with ``error`` after ``attempts`` tries is tried again:
    only after a transient error, within ``retries``, and only if trying again cannot
    apply it twice (it is idempotent, or no attempt so far may have run)."""
    return (error.kind == "transient" and attempts <= retries
            and (idempotent or not may_have_run))


def retrying(pool: Pool, label: str, exc: Exception, error: ErrorClass, idempotent: bool,
             attempts: int, may_have_run: bool = True) -> bool:
    """Whether an operation that failed with ``error`` is tried again (see :func:`may_retry`);
    a retry is counted and logged."""
    if not may_retry(error, idempotent, may_have_run, attempts, pool.config.retries):
        return False
    with pool._lock:
        pool.counters["retries"] += 1
    log.info("pool %r: %s hit %s: %s; retrying on another connection%s",
             pool.name, label, type(exc).__name__, exc,
             "" if idempotent else " (it did not run)")
    return True


def failure(label: str, exc: Exception, error: ErrorClass, idempotent: bool, attempts: int, *,
            may_have_run: bool, seconds: float) -> OperationFailed:
    """The error an asker gets for a failed operation: what happened and whether it ran."""
    return OperationFailed(_explain(label, exc, error, idempotent, attempts,
                                    may_have_run=may_have_run, seconds=seconds),
                           kind=error.kind, may_have_run=may_have_run, attempts=attempts)


def _explain(label: str, exc: Exception, error: ErrorClass, idempotent: bool, attempts: int, *,
             may_have_run: bool, seconds: float) -> str:
    ran = "it may have run" if may_have_run else "it did not run"
    if label == "pool.transaction":
        ran = "it may have been committed" if may_have_run else "it was rolled back"
    cause = str(exc) if isinstance(exc, DidNotRun) else f"{type(exc).__name__}: {exc}".strip()
    if error.kind == "timeout":
        return f"{label} outlived its timeout of {seconds:g} s and was cancelled ({ran}): {cause}"
    if error.kind == "permanent":
        return f"{label} failed with a permanent error, not retried ({ran}): {cause}"
    if not idempotent and may_have_run:
        return (f"{label} failed with a transient error and was not retried because it is "
                f"not idempotent ({ran}): {cause}")
    return f"{label} failed with a transient error after {attempts} attempt(s) ({ran}): {cause}"
