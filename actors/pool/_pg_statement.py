"""One PostgreSQL statement in flight without blocking: sent now, collected when readable.

The pool actor drives these from its own thread (the connection's socket is watched like
a mailbox), and a worker thread waits on one the same way, so both paths share one
implementation of sending, reading and converting. Placeholders and type loading are
psycopg's own, so a statement behaves as it would with ``Connection.execute``.
"""

from __future__ import annotations

import select
import threading
import time
from typing import Any

import psycopg
from psycopg import pq

# psycopg's %s / %(name)s → $n conversion; psycopg has no public API for it, so the
# dependency is bounded to the psycopg minor versions tested (setup.cfg).
from psycopg._queries import PostgresQuery
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result

from ._connector import DidNotRun, Params, ResultSet, to_plain

CANCEL_TIMEOUT = 5.0
"""Seconds one cancel request may take (it opens a connection to the server)."""
_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY)
_COPY = (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT, pq.ExecStatus.COPY_BOTH)


class PendingStatement:
    """A statement sent on ``conn``; :meth:`poll` collects its result when ``fd`` is readable.

    Raises the driver's exceptions (psycopg.Error subclasses) as ``Connection.execute``
    would, except that a statement which could not be sent — bad parameters, or a
    connection that failed while sending — raises :class:`DidNotRun` from the constructor:
    no complete message reached the server, so nothing of it ran. :meth:`cancel` may be
    called from another thread until the result is in.
    """

    __slots__ = ("_encoding", "_lock", "_results", "conn", "done", "fd")

    def __init__(self, conn: psycopg.Connection[Any], sql: str, params: Params) -> None:
        self.conn = conn
        self.done = False
        self._lock = threading.Lock()
        self._results: list[pq.abc.PGresult] = []
        self._encoding = _encoding(conn)
        try:
            self.fd = self._send(sql, params)
        except psycopg.Error as exc:
            raise DidNotRun(_with_hint(exc, sql, params)) from exc

    def _send(self, sql: str, params: Params) -> int:
        pgconn = self.conn.pgconn
        if params is None:  # simple protocol, as psycopg does: no placeholder processing
            pgconn.send_query(sql.encode(self._encoding))
        else:
            query = PostgresQuery(Transformer(self.conn))
            query.convert(sql, params)
            pgconn.send_query_params(query.query, query.params, param_types=query.types,
                                     param_formats=query.formats)
        fd = pgconn.socket
        if pgconn.flush():  # only a statement larger than the socket buffer waits here
            writable = select.poll()
            writable.register(fd, select.POLLOUT)
            while pgconn.flush():
                writable.poll(1000)
        return fd

    def poll(self) -> ResultSet | None:
        """The result if it is complete, None if more input is due; raises on failure."""
        pgconn = self.conn.pgconn
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                return self._finish()
            self._results.append(result)
        return None

    def wait(self, timeout: float | None = None) -> ResultSet:
        """Block this thread until the result is complete (not the actor thread).

        With ``timeout``, a statement still running that many seconds from now is
        cancelled from this same thread (the server then answers QueryCanceled), so a
        caller that waits anyway needs no canceller thread.
        """
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        due = None if timeout is None else time.monotonic() + timeout
        while True:  # wait first: nothing can have come in since the statement left
            if due is None:
                poller.poll()
            else:
                left = due - time.monotonic()
                if left <= 0:
                    due = None
                    self.cancel(CANCEL_TIMEOUT)
                    continue
                if not poller.poll(left * 1000.0 + 1.0):
                    continue
            result = self.poll()
            if result is not None:
                return result

    def cancel(self, timeout: float) -> None:
        """Ask the server to cancel the statement if it is still running (any thread)."""
        with self._lock:
            if not self.done:
                self.conn.cancel_safe(timeout=timeout)

    def _finish(self) -> ResultSet:
        with self._lock:
            self.done = True
        results, encoding = self._results, self._encoding
        if not results:
            raise psycopg.InternalError("got no result from the query")
        for result in results:
            if result.status not in _OK:
                raise _error(result, encoding)
        first = results[0]  # psycopg's cursor is positioned on the first result too
        rowcount = first.command_tuples if first.command_tuples is not None else -1
        if first.status != pq.ExecStatus.TUPLES_OK or not first.nfields:
            return ResultSet([], [], rowcount)
        tx = Transformer(self.conn)
        tx.set_pgresult(first)
        columns = [(first.fname(i) or b"").decode(encoding) for i in range(first.nfields)]
        rows = tx.load_rows(0, first.ntuples, _plain_row)
        return ResultSet(columns, rows, rowcount)


_ENCODINGS: dict[bytes, str] = {}
"""PostgreSQL client_encoding → Python codec name, as ``ConnectionInfo.encoding`` maps it."""


def _encoding(conn: psycopg.Connection[Any]) -> str:
    """What ``conn.info.encoding`` says, without building a ConnectionInfo per statement:
    looked up once per server setting (a ``SET client_encoding`` is seen at once)."""
    try:
        key = conn.pgconn.parameter_status(b"client_encoding") or b""
    except psycopg.OperationalError:  # closed: ConnectionInfo has its answer, sending fails
        return conn.info.encoding
    name = _ENCODINGS.get(key)
    if name is None:
        name = _ENCODINGS[key] = conn.info.encoding
    return name


PLACEHOLDERS = "%s or %(name)s"
"""How a statement marks its parameters on PostgreSQL (psycopg's style)."""


def _with_hint(exc: psycopg.Error, sql: str, params: Params) -> psycopg.Error:
    """``exc``, or a ProgrammingError naming PostgreSQL's placeholder style when the statement
    used SQLite's ``?`` instead."""
    if isinstance(exc, psycopg.ProgrammingError) and params and "%" not in sql and "?" in sql:
        return psycopg.ProgrammingError(f"{exc}: placeholders on PostgreSQL are {PLACEHOLDERS}, "
                                        "not ?")
    return exc


def _plain_row(values: Any) -> list[Any]:
    return [to_plain(v) for v in values]


def _error(result: pq.abc.PGresult, encoding: str) -> psycopg.Error:
    if result.status == pq.ExecStatus.FATAL_ERROR:
        return error_from_result(result, encoding=encoding)
    if result.status in _COPY:
        return psycopg.ProgrammingError("COPY cannot be used through the pool")
    return psycopg.InternalError(f"unexpected result status: {pq.ExecStatus(result.status).name}")
