"""MariaDB / MySQL connector through PyMySQL (the ``mysql`` extra).

Autocommit connections, as on PostgreSQL. Statement timeouts are kept by the server: each
connection starts with ``max_statement_time`` at the pool's ``statement_timeout``, and a
statement with another timeout (a message's ``timeout``, the asker's deadline) is sent as
``SET STATEMENT max_statement_time=<s> FOR <statement>`` (MariaDB 10.1+), which the server
ends with error 1969. A MySQL server has neither, so there a statement whose time is up
is ended with ``KILL QUERY <connection id>`` from a second connection (error 1317). Either
way the statement is aborted and rolled back (InnoDB), so the asker hears "did not run".

Whether a connection is inside a transaction is read from the status flags of the
server's last answer (``SERVER_STATUS_IN_TRANS``, ``SERVER_STATUS_AUTOCOMMIT``), which
PyMySQL keeps in ``server_status``: no round trip. So ``BEGIN`` (or ``SET autocommit=0``)
sent as ``pool.execute`` is refused and its connection closed, and a statement that ends
the transaction of a ``pool.transaction`` (``COMMIT``, or DDL, which MySQL commits
implicitly) makes it fail as "may have been committed", as on PostgreSQL and SQLite.

Placeholders are PyMySQL's: ``%s`` or ``%(name)s``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.constants import SERVER_STATUS

from ._connector import Connector, ErrorClass, Params, ResultSet, spoke_while_idle, to_plain

PLACEHOLDERS = "%s (or %(name)s)"

TIMED_OUT = frozenset({1969, 3024, 1317})
"""Server errors of a statement ended by its time: MariaDB's max_statement_time (1969),
MySQL's max_execution_time (3024), and KILL QUERY (1317, ER_QUERY_INTERRUPTED)."""
RETRY_LATER = frozenset({1213, 1205})
"""Deadlock (1213) and lock wait timeout (1205): the statement was rolled back; try again."""
SENT_NOTHING = frozenset({2003, 2006})
"""Client errors raised before the statement reached a live server: cannot connect (2003),
the send itself failed — "server has gone away" (2006)."""
SERVER_GONE = frozenset({1053, 1927, 2013})
"""The server went away with the statement in hand: shutdown (1053), this connection
killed (1927), connection lost while waiting for the answer (2013)."""


class MysqlConnector(Connector):
    """See module doc; ``flavor`` is learnt from the server at the first connection."""

    backend = "mysql"
    placeholders = PLACEHOLDERS

    def __init__(self, *, host: str, port: int, user: str, password: str, database: str,
                 statement_timeout: float, client_name: str = "cellphone-pool",
                 flavor: str | None = None) -> None:
        self.client_name = client_name
        self.params = {"host": host, "port": port, "user": user, "password": password,
                       "database": database or None}
        self.default_timeout = statement_timeout
        self.flavor = flavor
        """``mariadb`` or ``mysql``: how a statement's own timeout is kept (None: not known yet)."""

    def describe(self) -> str:
        p = self.params
        return f"mysql host={p['host']} port={p['port']} database={p['database']} user={p['user']}"

    def connect(self, timeout: float) -> Any:
        conn = pymysql.connect(**self.params, autocommit=True, charset="utf8mb4",
                               connect_timeout=max(1.0, timeout),
                               program_name=self.client_name[:32])
        try:
            if self.flavor is None:
                self.flavor = "mariadb" if "MariaDB" in conn.get_server_info() else "mysql"
            if self.flavor == "mariadb":
                with conn.cursor() as cur:
                    cur.execute(f"SET SESSION max_statement_time = {self.default_timeout:.3f}")
        except BaseException:
            conn.close()
            raise
        return conn

    def check(self, conn: Any, timeout: float) -> None:
        conn.ping(reconnect=False)

    def ended_while_idle(self, conn: Any) -> bool:
        sock = conn._sock  # PyMySQL keeps its socket there and offers no accessor
        return sock is None or spoke_while_idle(sock.fileno())

    def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()

    def in_transaction(self, conn: Any) -> bool | None:
        """Inside a transaction block, or with autocommit turned off (then the next
        statement would open one), as the server's last answer said."""
        status = conn.server_status
        if status is None:  # no answer read yet
            return None
        return bool(status & SERVER_STATUS.SERVER_STATUS_IN_TRANS
                    or not status & SERVER_STATUS.SERVER_STATUS_AUTOCOMMIT)

    def execute(self, conn: Any, sql: str, params: Params, timeout: float) -> ResultSet:
        own_time = abs(timeout - self.default_timeout) >= 0.001
        if own_time and self.flavor == "mariadb":
            sql = f"SET STATEMENT max_statement_time={max(timeout, 0.001):.3f} FOR {sql}"
        killer = self._killer(conn, timeout) if own_time and self.flavor != "mariadb" else None
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                columns = [d[0] for d in cur.description or ()]
                rows = [[to_plain(v) for v in row] for row in cur.fetchall()] if columns else []
                return ResultSet(columns, rows, cur.rowcount if cur.rowcount is not None else -1)
        finally:
            if killer is not None:
                killer.cancel()

    def _killer(self, conn: Any, timeout: float) -> threading.Timer:
        """A timer that ends ``conn``'s statement with KILL QUERY after ``timeout`` seconds."""
        thread_id = conn.thread_id()

        def kill() -> None:
            with contextlib.suppress(Exception):  # the statement may have ended meanwhile
                side = pymysql.connect(**self.params, connect_timeout=2.0)
                try:
                    with side.cursor() as cur:
                        cur.execute(f"KILL QUERY {int(thread_id)}")
                finally:
                    side.close()

        timer = threading.Timer(max(timeout, 0.001), kill)
        timer.daemon = True
        timer.start()
        return timer

    def _finish(self, conn: Any, statement: str) -> None:
        with conn.cursor() as cur:
            cur.execute(statement)

    def classify_driver_error(self, exc: BaseException) -> ErrorClass:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        if isinstance(exc, pymysql.err.InterfaceError):  # used after close: never sent
            return ErrorClass("transient", broken=True, may_have_run=False)
        if isinstance(exc, pymysql.err.MySQLError) and code is not None:
            if code in TIMED_OUT:
                return ErrorClass("timeout", broken=False, may_have_run=False)
            if code in RETRY_LATER:
                return ErrorClass("transient", broken=False, may_have_run=False)
            if code in SENT_NOTHING:
                return ErrorClass("transient", broken=True, may_have_run=False)
            if code in SERVER_GONE or 2000 <= code < 3000:
                return ErrorClass("transient", broken=True, may_have_run=True)
        if isinstance(exc, pymysql.err.MySQLError):
            return ErrorClass("permanent", broken=False, may_have_run=False)
        return super().classify_driver_error(exc)
