"""PostgreSQL connector through psycopg 3 (the ``postgres`` extra)."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from typing import Any

import psycopg
from psycopg import pq

from ._canceller import Canceller
from ._connector import Connector, ErrorClass, Params, ResultSet, spoke_while_idle
from ._pg_statement import PLACEHOLDERS, PendingStatement

log = logging.getLogger("actors.pool")

NAME_LIMIT = 63
"""PostgreSQL keeps this many bytes of an application_name (NAMEDATALEN - 1)."""
CHECK_CLIENT_SINCE = 140000
"""Server version from which ``client_connection_check_interval`` exists (PostgreSQL 14)."""


def application_name(pool: str, node: str, incarnation: int) -> str:
    """``cellphone-<pool>@<node>#<incarnation>``: which pool, of which node, in which life.

    The part up to ``#`` is what a later incarnation of the same pool looks for to end the
    backends its predecessor left behind; a long pool name is cut so the rest fits.
    """
    tail = f"@{node}#{incarnation}" if node else f"#{incarnation}"
    return f"cellphone-{pool}"[:NAME_LIMIT - len(tail)] + tail


class PostgresConnector(Connector):
    """Autocommit psycopg connections with a server-side statement_timeout.

    A shorter timeout for one statement is kept by the thread waiting for it, or by the
    :class:`Canceller` for statements driven without waiting; a longer one is set around
    that statement. Placeholders are psycopg's: ``%s`` or ``%(name)s``.
    Statements can also be sent without blocking (:meth:`start`).

    Two things end statements whose pool is gone, so none runs on for an asker who was
    told its pool crashed: each connection asks the server to check every
    ``client_check_interval`` seconds that its client is still there while a statement
    runs (PostgreSQL 14 and later), and the first connection of an incarnation ends the
    backends an earlier incarnation of the same pool left (matched by application_name).
    """

    backend = "postgres"
    placeholders = PLACEHOLDERS

    def __init__(self, conninfo: str, *, statement_timeout: float,
                 client_name: str = "cellphone-pool", client_check_interval: float = 0.5) -> None:
        self.client_name = client_name
        self.conninfo = conninfo
        self.default_ms = max(1, round(statement_timeout * 1000))
        self.check_ms = max(1, round(client_check_interval * 1000))
        self.canceller = Canceller(client_name)
        self._swept = False
        self._sweep_lock = threading.Lock()

    def describe(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        shown = [f"{k}={info[k]}" for k in ("host", "port", "dbname", "user") if info.get(k)]
        return " ".join(["postgres", *shown])

    def connect(self, timeout: float) -> Any:
        conn = psycopg.connect(self.conninfo, autocommit=True,
                               connect_timeout=max(1, math.ceil(timeout)),
                               application_name=self.client_name, options=self._options())
        try:
            if conn.info.server_version >= CHECK_CLIENT_SINCE:
                conn.execute(f"SET client_connection_check_interval = {self.check_ms}")
            self._sweep_once(conn)
        except Exception:
            conn.close()
            raise
        return conn

    def _options(self) -> str:
        """The DSN's own ``options`` (e.g. ``-c search_path=app``), then the pool's
        statement timeout: a keyword argument would replace the DSN's, not add to it."""
        own = psycopg.conninfo.conninfo_to_dict(self.conninfo).get("options") or ""
        return f"{own} -c statement_timeout={self.default_ms}".strip()

    def _sweep_once(self, conn: Any) -> None:
        """End the backends an earlier incarnation of this pool left running (first connect)."""
        if self._swept or "#" not in self.client_name:
            return
        with self._sweep_lock:
            if self._swept:
                return
            prefix = self.client_name[:self.client_name.rindex("#") + 1]
            rows = conn.execute(
                "SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE left(application_name, %s) = %s AND application_name <> %s "
                "AND pid <> pg_backend_pid()", [len(prefix), prefix, self.client_name]).fetchall()
            self._swept = True
        if rows:
            log.warning("pool %r: ended %d connection(s) an earlier incarnation left (%s)",
                        self.client_name, len(rows), ", ".join(sorted({r[0] for r in rows})))

    def check(self, conn: Any, timeout: float) -> None:
        conn.execute("SELECT 1").fetchone()

    def ended_while_idle(self, conn: Any) -> bool:
        return bool(conn.closed) or spoke_while_idle(conn.pgconn.socket)

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()

    def shutdown(self) -> None:
        self.canceller.close()

    def in_transaction(self, conn: Any) -> bool | None:
        return bool(conn.pgconn.transaction_status != pq.TransactionStatus.IDLE)

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        """Run one statement, waiting in this thread, which also cancels it at ``timeout``."""
        if self.outlasts_server(timeout):
            conn.execute(f"SET statement_timeout = {max(1, round(timeout * 1000))}")
            try:
                return PendingStatement(conn, sql, params).wait()
            finally:
                if not conn.closed:
                    conn.execute(f"SET statement_timeout = {self.default_ms}")
        return PendingStatement(conn, sql, params).wait(
            timeout if round(timeout * 1000) < self.default_ms else None)

    def outlasts_server(self, timeout: float) -> bool:
        """Whether ``timeout`` is longer than the server's statement_timeout (needs a SET)."""
        return round(timeout * 1000) > self.default_ms

    def start(self, conn: Any, sql: str, params: Params, timeout: float) -> PendingStatement:
        """Send one statement without waiting for it; the canceller thread cancels it after
        ``timeout`` seconds (for a caller that cannot wait: the actor thread).

        ``timeout`` must not outlast the server's (:meth:`outlasts_server`).
        """
        statement = PendingStatement(conn, sql, params)
        if round(timeout * 1000) < self.default_ms:
            self.canceller.arm(statement, timeout)
        return statement

    def _finish(self, conn: Any, statement: str) -> None:
        PendingStatement(conn, statement, None).wait()  # a failed send says it did not run

    def classify_driver_error(self, exc: BaseException) -> ErrorClass:
        errors = psycopg.errors
        if isinstance(exc, errors.QueryCanceled):
            return ErrorClass("timeout", broken=False, may_have_run=False)
        if isinstance(exc, (errors.SerializationFailure, errors.DeadlockDetected)):
            return ErrorClass("transient", broken=False, may_have_run=False)
        if isinstance(exc, psycopg.InterfaceError):  # used after close: never sent
            return ErrorClass("transient", broken=True, may_have_run=False)
        if isinstance(exc, psycopg.OperationalError):  # connection lost or refused
            return ErrorClass("transient", broken=True, may_have_run=True)
        if isinstance(exc, psycopg.Error):
            return ErrorClass("permanent", broken=False, may_have_run=False)
        return super().classify_driver_error(exc)
