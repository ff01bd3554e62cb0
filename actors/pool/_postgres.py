"""PostgreSQL connector through psycopg 3 (the ``postgres`` extra)."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import psycopg

from ._connector import Connector, ErrorClass, Params, ResultSet, to_plain


class PostgresConnector(Connector):
    """Autocommit psycopg connections with a server-side statement_timeout.

    A per-message timeout other than the default is set around that one statement.
    Placeholders are psycopg's: ``%s`` or ``%(name)s``.
    """

    backend = "postgres"

    def __init__(self, conninfo: str, *, statement_timeout: float,
                 client_name: str = "cellphone-pool") -> None:
        self.client_name = client_name
        self.conninfo = conninfo
        self.default_ms = max(1, round(statement_timeout * 1000))

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

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        ms = max(1, round(timeout * 1000))
        if ms != self.default_ms:
            conn.execute(f"SET statement_timeout = {ms}")
            try:
                return self._run(conn, sql, params)
            finally:
                if not conn.closed:
                    conn.execute(f"SET statement_timeout = {self.default_ms}")
        return self._run(conn, sql, params)

    def _run(self, conn: Any, sql: str, params: Params) -> ResultSet:
        cur = conn.execute(sql, params)
        if cur.description is None:
            return ResultSet([], [], cur.rowcount)
        columns = [c.name for c in cur.description]
        rows = [[to_plain(v) for v in row] for row in cur.fetchall()]
        return ResultSet(columns, rows, cur.rowcount)

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
