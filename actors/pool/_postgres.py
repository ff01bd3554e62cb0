"""PostgreSQL connector through psycopg 3 (the ``postgres`` extra)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import psycopg

from ._canceller import Canceller
from ._connector import Connector, ErrorClass, Params, ResultSet
from ._pg_statement import PendingStatement


class PostgresConnector(Connector):
    """Autocommit psycopg connections with a server-side statement_timeout.

    A shorter timeout for one statement is kept by the :class:`Canceller`; a longer one
    is set around that statement. Placeholders are psycopg's: ``%s`` or ``%(name)s``.
    Statements can also be sent without blocking (:meth:`start`).
    """

    backend = "postgres"

    def __init__(self, conninfo: str, *, statement_timeout: float,
                 client_name: str = "cellphone-pool") -> None:
        self.client_name = client_name
        self.conninfo = conninfo
        self.default_ms = max(1, round(statement_timeout * 1000))
        self.canceller = Canceller(client_name)

    def describe(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        shown = [f"{k}={info[k]}" for k in ("host", "port", "dbname", "user") if info.get(k)]
        return " ".join(["postgres", *shown])

    def connect(self, timeout: float) -> Any:
        return psycopg.connect(self.conninfo, autocommit=True,
                                     connect_timeout=max(1, math.ceil(timeout)),
                                     application_name=self.client_name,
                                     options=f"-c statement_timeout={self.default_ms}")

    def check(self, conn: Any, timeout: float) -> None:
        conn.execute("SELECT 1").fetchone()

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()

    def shutdown(self) -> None:
        self.canceller.close()

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        if self.outlasts_server(timeout):
            conn.execute(f"SET statement_timeout = {max(1, round(timeout * 1000))}")
            try:
                return self.start(conn, sql, params, timeout).wait()
            finally:
                if not conn.closed:
                    conn.execute(f"SET statement_timeout = {self.default_ms}")
        return self.start(conn, sql, params, timeout).wait()

    def outlasts_server(self, timeout: float) -> bool:
        """Whether ``timeout`` is longer than the server's statement_timeout (needs a SET)."""
        return round(timeout * 1000) > self.default_ms

    def start(self, conn: Any, sql: str, params: Params, timeout: float) -> PendingStatement:
        """Send one statement without waiting for it; cancelled after ``timeout`` seconds.

        ``timeout`` must not outlast the server's (:meth:`outlasts_server`).
        """
        statement = PendingStatement(conn, sql, params)
        if round(timeout * 1000) < self.default_ms:
            self.canceller.arm(statement, timeout)
        return statement

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
