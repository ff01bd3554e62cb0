"""SQLite connector: the embedded default, a file in the node's data directory."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from typing import Any

from ._connector import Connector, ErrorClass, Params, ResultSet, to_plain

_PROGRESS_STEPS = 1000
"""SQLite VM instructions between deadline checks of a running statement."""


def resolve_sqlite_path(path: str, base_dir: str | None, pool_name: str = "pool") -> tuple[str, bool]:
    """(database, is_uri): absolute paths as given, relative ones under ``base_dir``
    (the node's data directory); ``:memory:`` becomes one
    in-memory database shared by the pool's connections."""
    if path == ":memory:":
        return f"file:cellphone-{pool_name}-{os.getpid()}?mode=memory&cache=shared", True
    if path.startswith("file:"):
        return path, True
    if not os.path.isabs(path):
        path = os.path.join(base_dir or os.getcwd(), path)
    return path, False


class SqliteConnector(Connector):
    """Connections to one SQLite database, in autocommit mode, WAL journal for files."""

    backend = "sqlite"
    placeholders = "? or :name"

    def __init__(self, database: str, *, uri: bool = False, busy_timeout: float = 5.0) -> None:
        self.database = database
        self.uri = uri
        self.busy_timeout = busy_timeout

    def describe(self) -> str:
        return f"sqlite {self.database}"

    def connect(self, timeout: float) -> sqlite3.Connection:
        if not self.uri:
            os.makedirs(os.path.dirname(self.database) or ".", exist_ok=True)
        conn = sqlite3.connect(self.database, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False, uri=self.uri)
        if not self.uri:
            conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def check(self, conn: Any, timeout: float) -> None:
        conn.execute("SELECT 1").fetchone()

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()

    def in_transaction(self, conn: Any) -> bool | None:
        return bool(conn.in_transaction)

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        deadline = time.monotonic() + timeout
        conn.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        try:
            cur = conn.execute(sql, () if params is None else params)
            rows = cur.fetchall()
        except sqlite3.Error as exc:
            raise _with_hint(exc, sql, params) from exc
        finally:
            conn.set_progress_handler(None, _PROGRESS_STEPS)
        columns = [d[0] for d in cur.description] if cur.description else []
        return ResultSet(columns, [[to_plain(v) for v in row] for row in rows], cur.rowcount)

    def _begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock later

    def classify_driver_error(self, exc: BaseException) -> ErrorClass:
        text = str(exc).lower()
        if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
            return ErrorClass("transient", broken=True, may_have_run=False)
        if isinstance(exc, sqlite3.OperationalError):
            if "interrupted" in text:
                return ErrorClass("timeout", broken=False, may_have_run=False)
            if "locked" in text or "busy" in text:
                return ErrorClass("transient", broken=False, may_have_run=False)
            if "disk i/o" in text or "unable to open" in text:
                return ErrorClass("transient", broken=True, may_have_run=False)
        if isinstance(exc, sqlite3.Error):  # syntax, constraint, bindings: the same next time
            return ErrorClass("permanent", broken=False, may_have_run=False)
        return super().classify_driver_error(exc)


def _with_hint(exc: sqlite3.Error, sql: str, params: Params) -> sqlite3.Error:
    """``exc``, or one naming SQLite's placeholder style when the statement used
    PostgreSQL's ``%s`` / ``%(name)s`` instead."""
    if params and ("%s" in sql or "%(" in sql) and not any(c in sql for c in "?:@$"):
        return type(exc)(f"{exc}: placeholders on SQLite are {SqliteConnector.placeholders}, "
                          "not %s or %(name)s")
    return exc
