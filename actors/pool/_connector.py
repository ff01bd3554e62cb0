"""The connector interface: how the pool opens, checks, uses and closes one connection.

A connector knows one backend; the pool knows none. Connectors raise the driver's own
exceptions and :meth:`Connector.classify` tells the pool what each one means.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import select
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import attrs

from ._errors import UnsupportedOperation

ErrorKind = Literal["transient", "permanent", "timeout"]
Params = Sequence[Any] | dict[str, Any] | None


@attrs.frozen
class ErrorClass:
    """What an exception means to the pool.

    ``kind``: transient (retry may succeed), permanent (it will not), timeout (the
    statement outlived its deadline). ``broken``: the connection must be discarded.
    ``may_have_run``: the backend may have applied the operation.
    """

    kind: ErrorKind
    broken: bool
    may_have_run: bool


@attrs.frozen
class ResultSet:
    """One statement's result: column names, rows as lists, rows affected (-1 unknown)."""

    columns: list[str]
    rows: list[list[Any]]
    rowcount: int


class StatementFailed(Exception):
    """Statement ``index`` of a transaction failed; the transaction was rolled back."""

    def __init__(self, index: int, cause: BaseException) -> None:
        super().__init__(f"statement {index} failed: {type(cause).__name__}: {cause}")
        self.index = index
        self.cause = cause


class DidNotRun(Exception):
    """The operation failed before any of it could take effect: it was never sent to a live
    backend (the send itself failed, or its parameters did not fit), or a transaction failed
    at BEGIN. Nothing of it ran, so trying it again cannot apply it twice."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class CommitFailed(Exception):
    """COMMIT itself failed: the transaction may or may not have been applied."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"commit failed: {type(cause).__name__}: {cause}")
        self.cause = cause


class OpenedTransaction(Exception):
    """A statement sent as ``pool.execute`` (autocommit) opened a transaction (BEGIN,
    SAVEPOINT) and left it open: the pool closes that connection, which rolls it back,
    so that no later operation on it runs uncommitted. Nothing of it was committed."""

    def __init__(self) -> None:
        super().__init__("the statement left a transaction open on its connection (BEGIN or "
                         "SAVEPOINT sent as pool.execute, or autocommit turned off); it was "
                         "rolled back and the connection closed: send the statements together "
                         "as pool.transaction instead")


class EndedTransaction(Exception):
    """Statement ``index`` of a ``pool.transaction`` ended the transaction itself (COMMIT,
    ROLLBACK, END): the pool can no longer apply the statements as one unit, and what ran
    before it may have been committed."""

    def __init__(self, index: int) -> None:
        super().__init__(f"statement {index} ended the transaction itself (COMMIT, ROLLBACK or "
                         "END inside pool.transaction, or DDL, which MariaDB/MySQL commit "
                         "implicitly), so the statements before it may have been committed; "
                         "leave transaction control to pool.transaction")
        self.index = index


class Connector:
    """Base class: a backend's connect, check, execute/command, close, and classify.

    One raw connection is used by one thread at a time (the pool leases it), but it
    moves between the actor's worker threads. ``timeout`` arguments are seconds.
    """

    backend: str = "?"
    sql: bool = True
    """True for SQL backends (pool.execute / pool.transaction), False for command ones."""
    placeholders: str = ""
    """How statements mark their parameters on this backend, for error messages."""
    client_name: str = ""
    """The name the pool's connections carry on the server, if the backend has one."""

    def describe(self) -> str:
        """Where this connector connects, for logs and errors (no password)."""
        return self.backend

    def connect(self, timeout: float) -> Any:
        """Open one connection, or raise."""
        raise NotImplementedError

    def check(self, conn: Any, timeout: float) -> None:
        """Raise unless ``conn`` answers a trivial request."""
        raise NotImplementedError

    def close(self, conn: Any) -> None:
        """Close ``conn``; never raises."""
        raise NotImplementedError

    def ended_while_idle(self, conn: Any) -> bool:
        """Whether the backend of idle ``conn`` has visibly gone (no round trip; see
        :func:`spoke_while_idle`). The pool asks before every lease; False when unknown."""
        return False

    def shutdown(self) -> None:
        """Release what the connector holds besides connections (after the pool closed)."""

    def in_transaction(self, conn: Any) -> bool | None:
        """Whether ``conn`` is inside a transaction block; None when the driver cannot tell
        (then neither :meth:`execute_alone` nor :meth:`transaction` can check it)."""
        return None

    def execute_alone(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        """Run one statement in autocommit mode, as ``pool.execute``: one that leaves a
        transaction open raises :class:`OpenedTransaction` (the connection must then go)."""
        result = self.execute(conn, sql, params, timeout)
        if self.in_transaction(conn):
            raise OpenedTransaction()
        return result

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        """Run one statement in autocommit mode."""
        raise UnsupportedOperation(f"pool.execute needs a SQL backend; this pool is {self.backend} "
                                   "(send pool.command)")

    def command(self, conn: Any, args: Sequence[Any], timeout: float) -> Any:
        """Send one command and return its answer."""
        raise UnsupportedOperation(f"pool.command needs a redis or tcp backend; this pool is "
                                   f"{self.backend} (send pool.execute)")

    def transaction(self, conn: Any, statements: Sequence[tuple[str, Params]],
                    timeout: float) -> list[ResultSet]:
        """Run ``statements`` as one unit: all committed, or all rolled back."""
        if not self.sql:
            raise UnsupportedOperation(f"pool.transaction needs a SQL backend; this pool is "
                                       f"{self.backend}")
        try:
            self._begin(conn)
        except Exception as exc:
            raise DidNotRun(exc) from exc
        results: list[ResultSet] = []
        try:
            for index, (sql, params) in enumerate(statements):
                try:
                    results.append(self.execute(conn, sql, params, timeout))
                except Exception as exc:
                    raise StatementFailed(index, exc) from exc
                if self.in_transaction(conn) is False:
                    raise EndedTransaction(index)
        except BaseException:
            self._rollback(conn)
            raise
        try:
            self._finish(conn, "COMMIT")
        except Exception as exc:
            raise CommitFailed(exc) from exc
        return results

    def _begin(self, conn: Any) -> None:
        self._finish(conn, "BEGIN")

    def _rollback(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # a broken connection rolls back by itself
            self._finish(conn, "ROLLBACK")

    def _finish(self, conn: Any, statement: str) -> None:
        conn.execute(statement)

    def classify(self, exc: BaseException) -> ErrorClass:
        """What ``exc`` means: see :class:`ErrorClass`. Unwraps transaction failures."""
        if isinstance(exc, (StatementFailed, DidNotRun)):
            inner = self.classify(exc.cause)
            return ErrorClass(inner.kind, inner.broken, may_have_run=False)
        if isinstance(exc, CommitFailed):
            inner = self.classify(exc.cause)
            sent = not isinstance(exc.cause, DidNotRun)
            return ErrorClass(inner.kind, inner.broken, may_have_run=inner.broken and sent)
        if isinstance(exc, UnsupportedOperation):
            return ErrorClass("permanent", broken=False, may_have_run=False)
        if isinstance(exc, OpenedTransaction):  # closing the connection rolls it back
            return ErrorClass("permanent", broken=True, may_have_run=False)
        if isinstance(exc, EndedTransaction):
            return ErrorClass("permanent", broken=False, may_have_run=True)
        return self.classify_driver_error(exc)

    def classify_driver_error(self, exc: BaseException) -> ErrorClass:
        """Classify an exception of this connector's driver (override per backend)."""
        if isinstance(exc, TimeoutError):  # the stream is out of step: discard the connection
            return ErrorClass("timeout", broken=True, may_have_run=True)
        if isinstance(exc, (ConnectionError, OSError)):
            return ErrorClass("transient", broken=True, may_have_run=True)
        return ErrorClass("permanent", broken=False, may_have_run=False)


_SPOKE = select.POLLIN | select.POLLPRI | getattr(select, "POLLRDHUP", 0)


def spoke_while_idle(fd: int) -> bool:
    """Whether the socket of an idle connection is readable or hung up, polled without waiting.

    A server has nothing to say to a client that sent nothing: a readable idle socket holds
    its last words (PostgreSQL's "terminating connection" error) or EOF, so the connection
    is gone. A closed descriptor (-1) counts as gone too. Costs one poll(2), no round trip.
    """
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, _SPOKE)
    return bool(poller.poll(0))


def to_plain(value: Any) -> Any:
    """A driver value as msgpack data: decimals and dates as text, rows as lists."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(to_plain(k)) if not isinstance(k, (str, int)) else k: to_plain(v)
                for k, v in value.items()}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    return str(value)
