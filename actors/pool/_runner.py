"""Running one operation on a leased connection, with retries for idempotent work."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._connector import Connector, ErrorClass, Params, ResultSet
from ._errors import OperationFailed
from ._pool import Pool

log = logging.getLogger("actors.pool")
T = TypeVar("T")


class Runner:
    """Runs execute / command / transaction on a pool's connections.

    A transient error discards or marks the connection; an idempotent operation is then
    retried (up to ``retries`` times) on a connection validated before use, the first
    retry at once and later ones after a jittered backoff. Everything else raises
    :class:`OperationFailed` saying whether the operation may have run.
    """

    def __init__(self, pool: Pool, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.pool = pool
        self.sleep = sleep

    def execute(self, sql: str, params: Params, *, idempotent: bool,
                timeout: float | None = None) -> ResultSet:
        """One SQL statement in autocommit mode."""
        seconds = timeout or self.pool.config.statement_timeout
        return self.run("pool.execute", idempotent, seconds,
                        lambda c, raw: c.execute(raw, sql, params, seconds))

    def command(self, args: Sequence[Any], *, idempotent: bool, timeout: float | None = None) -> Any:
        """One Redis or line-protocol command."""
        seconds = timeout or self.pool.config.statement_timeout
        return self.run("pool.command", idempotent, seconds,
                        lambda c, raw: c.command(raw, args, seconds))

    def transaction(self, statements: Sequence[tuple[str, Params]], *, idempotent: bool,
                    timeout: float | None = None) -> list[ResultSet]:
        """Statements on one connection, committed or rolled back as a unit."""
        seconds = timeout or self.pool.config.statement_timeout
        return self.run("pool.transaction", idempotent, seconds,
                        lambda c, raw: c.transaction(raw, statements, seconds))

    def run(self, label: str, idempotent: bool, seconds: float,
            op: Callable[[Connector, Any], T]) -> T:
        """Lease, run ``op(connector, raw)``, return the lease; retry per the class doc."""
        pool, connector = self.pool, self.pool.connector
        attempts = 0
        may_have_run = False
        while True:
            slot = pool.acquire(validate=attempts > 0)
            attempts += 1
            try:
                result = op(connector, slot.raw)
            except Exception as exc:
                error = connector.classify(exc)
                pool.release(slot, error)
                may_have_run = may_have_run or error.may_have_run
                if error.kind == "transient" and idempotent and attempts <= pool.config.retries:
                    with pool._lock:
                        pool.counters["retries"] += 1
                    log.info("pool %r: %s hit %s: %s; retrying on another connection",
                             pool.name, label, type(exc).__name__, exc)
                    self.sleep(pool.config.backoff.delay(attempts - 1, pool.rand))
                    continue
                raise OperationFailed(_explain(label, exc, error, idempotent, attempts,
                                               may_have_run=may_have_run, seconds=seconds),
                                      kind=error.kind, may_have_run=may_have_run,
                                      attempts=attempts) from exc
            pool.release(slot)
            return result


def _explain(label: str, exc: Exception, error: ErrorClass, idempotent: bool, attempts: int, *,
             may_have_run: bool, seconds: float) -> str:
    ran = "it may have run" if may_have_run else "it did not run"
    if label == "pool.transaction":
        ran = "it may have been committed" if may_have_run else "it was rolled back"
    cause = f"{type(exc).__name__}: {exc}".strip()
    if error.kind == "timeout":
        return f"{label} outlived its timeout of {seconds:g} s and was cancelled ({ran}): {cause}"
    if error.kind == "permanent":
        return f"{label} failed with a permanent error, not retried ({ran}): {cause}"
    if not idempotent:
        return (f"{label} failed with a transient error and was not retried because it is "
                f"not idempotent ({ran}): {cause}")
    return f"{label} failed with a transient error after {attempts} attempt(s) ({ran}): {cause}"
