"""The MariaDB/MySQL backend against the MariaDB server at 127.0.0.1:3306 (root, database
``test``): the connector on its own, then a pool actor on a real node, with the guarantees
the PostgreSQL backend gives (broken connections replaced, reads retried, writes that say
whether they may have run, statement timeouts by deadline)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.pool import Execute, ExecuteResult, Statement, Transaction
from actors.pool._connector import StatementFailed
from messages import HandlerError
from tests.conftest import require_server
from tests.nodes import RunningNode, eventually, free_port

pytestmark = pytest.mark.mysql
SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}



@pytest.fixture
def maria() -> Iterator[tuple[Any, Any]]:
    """A connector (statement_timeout 5 s) and one of its connections."""
    require_server("MariaDB", 3306)
    from actors.pool._mysql import MysqlConnector

    c = MysqlConnector(**SERVER, statement_timeout=5.0, client_name="cellphone-conntest")
    conn = c.connect(2.0)
    yield c, conn
    c.close(conn)


def _kill(c: Any, conn_id: int, what: str = "CONNECTION") -> None:
    side = c.connect(2.0)
    try:
        c.execute(side, f"KILL {what} {int(conn_id)}", None, 5.0)
    finally:
        c.close(side)


def test_execute_rows_and_permanent_errors(maria: tuple[Any, Any]) -> None:
    """Rows come back as lists (decimals and dates as text); wrong parameter counts, syntax
    errors and unknown tables are permanent and leave the connection usable."""
    c, conn = maria
    rs = c.execute(conn, "SELECT %s AS a, 'x' AS b, CAST(1.50 AS DECIMAL(4,2)) AS d, "
                         "DATE('2024-01-02') AS t", [3], 5.0)
    assert rs.columns == ["a", "b", "d", "t"] and rs.rows == [[3, "x", "1.50", "2024-01-02"]]
    assert c.execute(conn, "SELECT %(n)s", {"n": 7}, 5.0).rows == [[7]]
    for sql, params in (("SELECT %s", [1, 2]), ("SELEC 1", None), ("SELECT * FROM nowhere_x", None)):
        with pytest.raises(Exception) as info:
            c.execute(conn, sql, params, 5.0)
        cls = c.classify(info.value)
        assert (cls.kind, cls.broken, cls.may_have_run) == ("permanent", False, False), sql
    assert c.execute(conn, "SELECT 1", None, 5.0).rows == [[1]]


def test_statement_timeout_is_kept_by_the_server(maria: tuple[Any, Any]) -> None:
    """A statement with a 0.3 s timeout is ended by MariaDB (SET STATEMENT
    max_statement_time, error 1969): a timeout that did not run, on a connection that keeps
    working with the session's 5 s default."""
    c, conn = maria
    assert c.flavor == "mariadb"
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        c.execute(conn, "SELECT SLEEP(3)", None, 0.3)
    assert time.monotonic() - started < 2.0
    assert info.value.args[0] == 1969
    cls = c.classify(info.value)
    assert (cls.kind, cls.broken, cls.may_have_run) == ("timeout", False, False)
    assert c.execute(conn, "SELECT @@max_statement_time", None, 5.0).rows == [[5.0]]


def test_kill_query_ends_a_statement_where_the_server_has_no_statement_timeout(
        maria: tuple[Any, Any]) -> None:
    """Without MariaDB's max_statement_time (a MySQL server), a statement whose time is up is
    ended with KILL QUERY from a second connection (error 1317): a timeout that did not run,
    and the connection survives."""
    c, conn = maria
    c.flavor = "mysql"
    with pytest.raises(Exception) as info:
        c.execute(conn, "SELECT SLEEP(3)", None, 0.3)
    assert info.value.args[0] == 1317
    cls = c.classify(info.value)
    assert (cls.kind, cls.broken, cls.may_have_run) == ("timeout", False, False)
    assert c.execute(conn, "SELECT 1", None, 5.0).rows == [[1]]


def test_a_killed_connection_is_seen_idle_and_is_broken(maria: tuple[Any, Any]) -> None:
    """After KILL CONNECTION the idle connection is seen as gone without a round trip; used
    anyway it fails transient and broken."""
    c, conn = maria
    assert not c.ended_while_idle(conn)
    _kill(c, conn.thread_id())
    assert eventually(lambda: c.ended_while_idle(conn))
    with pytest.raises(Exception) as info:
        c.execute(conn, "SELECT 1", None, 5.0)
    cls = c.classify(info.value)
    assert cls.kind == "transient" and cls.broken


def test_transaction_rolls_back_on_error(maria: tuple[Any, Any], uid: str) -> None:
    """A failing statement rolls the whole transaction back; a good one commits them all."""
    c, conn = maria
    table = f"tx_{uid}"
    c.execute(conn, f"CREATE TABLE {table} (a INT PRIMARY KEY) ENGINE=InnoDB", None, 5.0)
    try:
        with pytest.raises(StatementFailed):
            c.transaction(conn, [(f"INSERT INTO {table} VALUES (1)", None),
                                 (f"INSERT INTO {table} VALUES (1)", None)], 5.0)
        assert c.execute(conn, f"SELECT COUNT(*) FROM {table}", None, 5.0).rows == [[0]]
        c.transaction(conn, [(f"INSERT INTO {table} VALUES (1)", None),
                             (f"INSERT INTO {table} VALUES (2)", None)], 5.0)
        assert c.execute(conn, f"SELECT COUNT(*) FROM {table}", None, 5.0).rows == [[2]]
    finally:
        c.execute(conn, f"DROP TABLE {table}", None, 5.0)


def test_nothing_listening_is_transient_and_did_not_run() -> None:
    """Connecting where nothing listens fails fast: transient, never sent."""
    from actors.pool._mysql import MysqlConnector

    c = MysqlConnector(**{**SERVER, "port": free_port()}, statement_timeout=1.0)
    with pytest.raises(Exception) as info:
        c.connect(1.0)
    cls = c.classify(info.value)
    assert cls.kind == "transient" and not cls.may_have_run


# -- a pool actor on MariaDB -----------------------------------------------------------------
@pytest.fixture
def maria_pool(start_node: Callable[..., RunningNode]) -> RunningNode:
    require_server("MariaDB", 3306)
    return start_node({"children": [{"name": "pool", "actor": "pool", "settings": {
        "backend": "mysql", "dbname": "test", "user": "root", "min_size": 2, "max_size": 4,
        "retries": 2, "backoff_initial": 0.05}}]})


def _pool_connection_ids(node: RunningNode) -> list[int]:
    with node.connect() as conn:
        rows = conn.ask("pool", Execute(
            "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND "
            "db = 'test' AND user = 'root' AND info IS NULL AND command = 'Sleep'"), timeout=5).rows
    return [r[0] for r in rows]


def test_pool_runs_statements_and_transactions(maria_pool: RunningNode, uid: str) -> None:
    """pool.execute and pool.transaction on MariaDB, with PyMySQL's %s placeholders."""
    table = f"notes_{uid}"
    with maria_pool.connect() as conn:
        conn.ask("pool", Execute(f"CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, "
                                 "body TEXT) ENGINE=InnoDB"), timeout=5)
        try:
            done = conn.ask("pool", Transaction([
                Statement(f"INSERT INTO {table} (body) VALUES (%s)", ["a"]),
                Statement(f"INSERT INTO {table} (body) VALUES (%s)", ["b"])]), timeout=5)
            assert [r.rowcount for r in done] == [1, 1]
            got = conn.ask("pool", Execute(f"SELECT body FROM {table} ORDER BY id"), timeout=5)
            assert isinstance(got, ExecuteResult) and got.rows == [["a"], ["b"]]
        finally:
            conn.ask("pool", Execute(f"DROP TABLE {table}"), timeout=5)


def test_broken_connections_are_replaced_and_reads_succeed(maria_pool: RunningNode) -> None:
    """The server kills every idle connection of the pool; the next reads are answered (the
    pool sees the dead connections before leasing them, or retries on a fresh one)."""
    assert eventually(lambda: len(_pool_connection_ids(maria_pool)) >= 1)
    from actors.pool._mysql import MysqlConnector

    killer = MysqlConnector(**SERVER, statement_timeout=5.0)
    for conn_id in _pool_connection_ids(maria_pool):
        _kill(killer, conn_id)
    with maria_pool.connect() as conn:
        for _ in range(4):
            assert conn.ask("pool", Execute("SELECT 1"), timeout=5).rows == [[1]]


def test_statement_is_ended_at_the_askers_deadline(maria_pool: RunningNode) -> None:
    """A 5 s statement asked with a 1 s deadline is ended by the server in time for the
    asker to hear that it did not run (not an AskTimeout)."""
    with maria_pool.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("pool", Execute("SELECT SLEEP(5)"), timeout=1.0)
    assert caught.value.details["exception"] == "OperationFailed"
    assert caught.value.details["may_have_run"] is False and caught.value.details["kind"] == "timeout"


def test_a_write_whose_connection_dies_may_have_run(maria_pool: RunningNode, uid: str) -> None:
    """A write whose connection is killed while the server has it is answered 'may have run'
    (it is not retried: the pool cannot know whether it was applied)."""
    table = f"w_{uid}"
    with maria_pool.connect() as conn:
        conn.ask("pool", Execute(f"CREATE TABLE {table} (a INT) ENGINE=InnoDB"), timeout=5)
        try:
            from actors.pool._mysql import MysqlConnector

            killer = MysqlConnector(**SERVER, statement_timeout=5.0)
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                writing = pool.submit(conn.ask, "pool", Execute(
                    f"INSERT INTO {table} SELECT SLEEP(3)"), timeout=10)
                side = killer.connect(2.0)
                try:
                    busy = eventually(lambda: killer.execute(side, (
                        "SELECT id FROM information_schema.processlist WHERE info LIKE %s "
                        "AND id <> CONNECTION_ID()"),
                        [f"%INSERT INTO {table}%"], 5.0).rows, timeout=5)
                    assert busy
                    killer.execute(side, f"KILL CONNECTION {int(busy[0][0])}", None, 5.0)
                finally:
                    killer.close(side)
                with pytest.raises(HandlerError) as caught:
                    writing.result(10)
            assert caught.value.details["may_have_run"] is True
            assert conn.ask("pool", Execute("SELECT 1"), timeout=5).rows == [[1]]
        finally:
            conn.ask("pool", Execute(f"DROP TABLE {table}"), timeout=5)
