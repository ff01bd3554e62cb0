"""Each connector against its real server: SQLite files, PostgreSQL, Redis, a TCP line server."""

from __future__ import annotations

import socket
import socketserver
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.pool._connector import CommitFailed, StatementFailed
from actors.pool._sqlite import SqliteConnector, resolve_sqlite_path
from actors.pool._tcp import TcpConnector
from tests.conftest import require_server
from tests.nodes import free_port

PG_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"



# -- SQLite ------------------------------------------------------------------------------
@pytest.fixture
def lite(tmp_path: Path) -> Iterator[tuple[SqliteConnector, Any]]:
    c = SqliteConnector(str(tmp_path / "db.sqlite3"), busy_timeout=0.2)
    conn = c.connect(1.0)
    yield c, conn
    c.close(conn)


def test_sqlite_relative_path_lives_in_the_data_dir(tmp_path: Path):
    """Relative paths resolve under the node's data dir; absolute ones stay as given."""
    assert resolve_sqlite_path("pool.sqlite3", str(tmp_path)) == (str(tmp_path / "pool.sqlite3"), False)
    assert resolve_sqlite_path("/x/y.db", str(tmp_path)) == ("/x/y.db", False)
    name, uri = resolve_sqlite_path(":memory:", None, "p")
    assert uri and "mode=memory" in name


def test_sqlite_memory_database_is_shared_by_the_pool_connections():
    """':memory:' gives every connection of the pool the same database."""
    name, uri = resolve_sqlite_path(":memory:", None, "shared-test")
    c = SqliteConnector(name, uri=uri)
    a, b = c.connect(1.0), c.connect(1.0)
    c.execute(a, "create table t (x int)", None, 1.0)
    c.execute(a, "insert into t values (7)", None, 1.0)
    assert c.execute(b, "select x from t", None, 1.0).rows == [[7]]
    c.close(a)
    c.close(b)


def test_sqlite_execute_returns_columns_rows_rowcount(lite):
    """Statements return column names, rows as lists and the rows affected."""
    c, conn = lite
    c.execute(conn, "create table t (a int, b text)", None, 1.0)
    assert c.execute(conn, "insert into t values (?, ?), (?, ?)", [1, "x", 2, "y"], 1.0).rowcount == 2
    rs = c.execute(conn, "select a, b from t order by a", None, 1.0)
    assert rs.columns == ["a", "b"] and rs.rows == [[1, "x"], [2, "y"]]
    assert c.execute(conn, "select :n as n", {"n": 5}, 1.0).rows == [[5]]


@pytest.mark.parametrize(("sql", "params"), [("select ?", [1, 2]), ("selec 1", None),
                                             ("select * from missing", None)])
def test_sqlite_bad_statements_are_permanent(lite, sql, params):
    """Wrong parameter counts, syntax errors and missing tables are permanent, did not run."""
    c, conn = lite
    with pytest.raises(sqlite3.Error) as info:
        c.execute(conn, sql, params, 1.0)
    cls = c.classify(info.value)
    assert (cls.kind, cls.broken, cls.may_have_run) == ("permanent", False, False)


def test_sqlite_statement_past_its_deadline_is_interrupted(lite):
    """A statement running past its timeout is interrupted and classified as a timeout."""
    c, conn = lite
    endless = "with recursive n(x) as (select 1 union all select x + 1 from n) select count(*) from n"
    with pytest.raises(sqlite3.OperationalError) as info:
        c.execute(conn, endless, None, 0.1)
    assert c.classify(info.value).kind == "timeout"
    assert c.execute(conn, "select 1", None, 1.0).rows == [[1]]


def test_sqlite_lock_contention_is_transient(lite):
    """'database is locked' is transient: a retry may succeed."""
    c, conn = lite
    other = c.connect(1.0)
    c.execute(conn, "create table t (a int)", None, 1.0)
    c._begin(conn)
    with pytest.raises(sqlite3.OperationalError) as info:
        c.execute(other, "insert into t values (1)", None, 1.0)
    assert c.classify(info.value).kind == "transient"
    c._rollback(conn)
    c.close(other)


def test_sqlite_transaction_commits_or_rolls_back_as_a_unit(lite):
    """All statements commit together; a failing one rolls back the earlier ones."""
    c, conn = lite
    c.execute(conn, "create table t (a int primary key)", None, 1.0)
    results = c.transaction(conn, [("insert into t values (1)", None),
                                   ("select count(*) from t", None)], 1.0)
    assert results[1].rows == [[1]]
    with pytest.raises(StatementFailed) as info:
        c.transaction(conn, [("insert into t values (2)", None), ("insert into t values (1)", None)], 1.0)
    assert info.value.index == 1
    assert c.classify(info.value).may_have_run is False
    assert c.execute(conn, "select a from t", None, 1.0).rows == [[1]]


def test_sqlite_closed_connection_is_broken(lite):
    """Using a closed handle is transient and breaks the connection."""
    c, conn = lite
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError) as info:
        c.check(conn, 1.0)
    cls = c.classify(info.value)
    assert cls.kind == "transient" and cls.broken


# -- PostgreSQL --------------------------------------------------------------------------
@pytest.fixture
def pg() -> Iterator[tuple[Any, Any]]:
    require_server("PostgreSQL", 5432)
    from actors.pool._postgres import PostgresConnector

    c = PostgresConnector(PG_DSN, statement_timeout=5.0, client_name="cellphone-conntest")
    conn = c.connect(2.0)
    yield c, conn
    c.close(conn)


@pytest.mark.postgres
def test_postgres_execute_and_errors(pg):
    """Rows come back as lists; wrong parameter counts and syntax errors are permanent."""
    c, conn = pg
    rs = c.execute(conn, "select %s::int as a, 'x' as b", [3], 5.0)
    assert rs.columns == ["a", "b"] and rs.rows == [[3, "x"]]
    for sql, params in (("select %s", [1, 2]), ("selec 1", None), ("select 1/0", None)):
        with pytest.raises(Exception) as info:
            c.execute(conn, sql, params, 5.0)
        cls = c.classify(info.value)
        assert (cls.kind, cls.broken, cls.may_have_run) == ("permanent", False, False), sql
    assert c.execute(conn, "select 1", None, 5.0).rows == [[1]]


@pytest.mark.postgres
def test_postgres_dsn_options_are_kept_beside_the_statement_timeout():
    """``options`` in the user's DSN (a search_path) survive the pool's own statement timeout."""
    require_server("PostgreSQL", 5432)
    from actors.pool._postgres import PostgresConnector

    dsn = f"{PG_DSN} options='-c search_path=cellphone_opt,public'"
    c = PostgresConnector(dsn, statement_timeout=3.0, client_name="cellphone-conntest")
    conn = c.connect(2.0)
    try:
        assert c.execute(conn, "show search_path", None, 1.0).rows == [["cellphone_opt,public"]]
        assert c.execute(conn, "show statement_timeout", None, 1.0).rows == [["3s"]]
    finally:
        c.close(conn)


@pytest.mark.postgres
def test_postgres_statement_timeout_cancels_and_connection_survives(pg):
    """A statement past its timeout is cancelled by the server; the connection keeps working
    with the default timeout restored."""
    c, conn = pg
    with pytest.raises(Exception) as info:
        c.execute(conn, "select pg_sleep(3)", None, 0.2)
    assert c.classify(info.value).kind == "timeout"
    assert c.execute(conn, "show statement_timeout", None, 1.0).rows == [["5s"]]


@pytest.mark.postgres
def test_postgres_terminated_backend_is_transient_and_broken(pg):
    """pg_terminate_backend breaks the connection: transient, discard, may have run."""
    c, conn = pg
    killer = c.connect(2.0)
    pid = c.execute(conn, "select pg_backend_pid()", None, 5.0).rows[0][0]
    c.execute(killer, "select pg_terminate_backend(%s)", [pid], 5.0)
    with pytest.raises(Exception) as info:
        c.execute(conn, "select 1", None, 5.0)
    cls = c.classify(info.value)
    assert cls.kind == "transient" and cls.broken
    c.close(killer)


@pytest.mark.postgres
def test_postgres_transaction_rolls_back_on_error(pg):
    """A failing statement rolls the whole transaction back."""
    c, conn = pg
    c.execute(conn, "create temporary table tx (a int primary key)", None, 5.0)
    with pytest.raises(StatementFailed):
        c.transaction(conn, [("insert into tx values (1)", None), ("insert into tx values (1)", None)], 5.0)
    assert c.execute(conn, "select count(*) from tx", None, 5.0).rows == [[0]]
    c.transaction(conn, [("insert into tx values (1)", None), ("insert into tx values (2)", None)], 5.0)
    assert c.execute(conn, "select count(*) from tx", None, 5.0).rows == [[2]]


@pytest.mark.postgres
def test_postgres_nothing_listening_is_transient():
    """Connecting to a port where nothing listens fails fast, classified transient."""
    from actors.pool._postgres import PostgresConnector

    c = PostgresConnector(f"host=127.0.0.1 port={free_port()} dbname=test user=postgres",
                          statement_timeout=1.0)
    with pytest.raises(Exception) as info:
        c.connect(1.0)
    assert c.classify(info.value).kind == "transient"


def test_commit_failure_may_have_run():
    """A failed COMMIT on a broken connection may have been applied."""
    c = SqliteConnector(":memory:")
    cls = c.classify(CommitFailed(sqlite3.OperationalError("disk I/O error")))
    assert cls.may_have_run and cls.broken


# -- Redis -------------------------------------------------------------------------------
@pytest.fixture
def rd() -> Iterator[tuple[Any, Any]]:
    require_server("Redis", 6379)
    from actors.pool._redis import RedisConnector

    c = RedisConnector(url="redis://127.0.0.1:6379/0", command_timeout=2.0,
                       client_name="cellphone-conntest")
    conn = c.connect(2.0)
    yield c, conn
    c.close(conn)


@pytest.mark.redis
def test_redis_commands_and_errors(rd):
    """Commands return plain data; a wrong command is permanent."""
    c, conn = rd
    assert c.command(conn, ["SET", "cellphone:test:k", "v"], 1.0) is True
    assert c.command(conn, ["GET", "cellphone:test:k"], 1.0) == "v"
    assert c.command(conn, ["DEL", "cellphone:test:k"], 1.0) == 1
    with pytest.raises(Exception) as info:
        c.command(conn, ["GET"], 1.0)
    assert c.classify(info.value).kind == "permanent"
    c.check(conn, 1.0)


@pytest.mark.redis
def test_redis_killed_client_is_transient_and_broken(rd):
    """A connection killed by the server is transient and discarded."""
    c, conn = rd
    killer = c.connect(2.0)
    my_id = c.command(conn, ["CLIENT", "ID"], 1.0)
    c.command(killer, ["CLIENT", "KILL", "ID", str(my_id)], 1.0)
    with pytest.raises(Exception) as info:
        c.command(conn, ["GET", "x"], 1.0)
    cls = c.classify(info.value)
    assert cls.kind == "transient" and cls.broken
    c.close(killer)


@pytest.mark.redis
def test_redis_nothing_listening_is_transient():
    """Connecting where nothing listens raises a transient error."""
    from actors.pool._redis import RedisConnector

    c = RedisConnector(url=f"redis://127.0.0.1:{free_port()}/0", command_timeout=1.0)
    with pytest.raises(Exception) as info:
        c.connect(1.0)
    assert c.classify(info.value).kind == "transient"


# -- TCP line protocol ---------------------------------------------------------------------
class _Upper(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            text = line.decode().strip()
            if text == "QUIT":
                return
            self.wfile.write(text.upper().encode() + b"\n")


@pytest.fixture
def line_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Upper)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_tcp_sends_a_line_and_reads_the_answer(line_server):
    """Arguments are joined into one line; the answer is the next line."""
    c = TcpConnector("127.0.0.1", line_server, check_line="ping")
    conn = c.connect(1.0)
    assert c.command(conn, ["hello", 42, b"x"], 1.0) == "HELLO 42 X"
    c.check(conn, 1.0)
    with pytest.raises(ValueError):
        c.command(conn, ["two\nlines"], 1.0)
    c.close(conn)


def test_tcp_peer_close_is_seen_by_check_and_command(line_server):
    """When the peer hangs up, a poll sees it while idle, the check fails and commands
    fail as broken."""
    c = TcpConnector("127.0.0.1", line_server)
    conn = c.connect(1.0)
    assert not c.ended_while_idle(conn)
    conn.sock.sendall(b"QUIT\n")
    conn.sock.settimeout(1.0)
    assert conn.sock.recv(1, socket.MSG_PEEK) == b""
    assert c.ended_while_idle(conn)  # seen by a poll, before any command is sent
    with pytest.raises(ConnectionError):
        c.check(conn, 1.0)
    with pytest.raises(OSError) as info:
        c.command(conn, ["x"], 1.0)
    assert c.classify(info.value).broken
    c.close(conn)


def test_tcp_nothing_listening_is_transient():
    """A refused connect is transient."""
    c = TcpConnector("127.0.0.1", free_port())
    with pytest.raises(ConnectionRefusedError) as info:
        c.connect(1.0)
    assert c.classify(info.value).kind == "transient"
