"""Transaction control sent as plain statements: no write is acknowledged but left uncommitted.

Found from outside: ``pool.execute {"sql": "begin"}`` left the pooled connection inside a
transaction, so every later ``pool.execute`` on it — any agent's — was answered with a
result (README: "it ran, once: committed") while it sat uncommitted, invisible to other
connections and lost when the connection closed; and a ``COMMIT`` inside
``pool.transaction`` committed half of it while the verdict said "it was rolled back".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from actors.pool import Execute, Statement, Transaction
from messages import HandlerError
from tests.conftest import require_server
from tests.nodes import RunningNode
from tests.test_pool_actor import PG, POOL

SQLITE: dict[str, Any] = {}
MYSQL: dict[str, Any] = {"backend": "mysql", "dbname": "test", "user": "root"}


def _node(start_node: Callable[..., RunningNode], settings: dict[str, Any]) -> RunningNode:
    """One pool with one connection, so every operation meets the same connection."""
    return start_node({"children": [{"name": "pool", "actor": POOL,
                                     "settings": {**settings, "min_size": 1, "max_size": 1}}]})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mysql)])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of a SQLite pool, then of a PostgreSQL one, then of a MariaDB one."""
    if request.param == "postgres":
        require_server("PostgreSQL", 5432)
        return PG
    if request.param == "mysql":
        require_server("MariaDB", 3306)
        return MYSQL
    return SQLITE


def _count(settings: dict[str, Any], node: RunningNode, table: str) -> int:
    """Rows of ``table`` as a connection of its own sees them (committed rows only)."""
    if settings.get("backend") == "postgres":
        import psycopg
        with psycopg.connect(PG["dsn"], autocommit=True) as conn:
            row = conn.execute(f"select count(*) from {table}").fetchone()
    elif settings.get("backend") == "mysql":
        import pymysql
        with pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                             database="test", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"select count(*) from {table}")
            row = cur.fetchone()
    else:
        import sqlite3
        with sqlite3.connect(node.data_dir / "pool.sqlite3") as conn:
            row = conn.execute(f"select count(*) from {table}").fetchone()
    assert row is not None
    return int(row[0])


def _refused_then_committed(node: RunningNode, settings: dict[str, Any], statement: str) -> None:
    """``statement`` through pool.execute fails (it did not run), and the next acknowledged
    write on the same connection is committed: other connections see it."""
    table = f"tx_{uuid.uuid4().hex[:10]}"
    with node.connect() as conn:
        conn.ask("pool", Execute(f"create table {table} (v integer)"), timeout=10)
        with pytest.raises(HandlerError) as refused:
            conn.ask("pool", Execute(statement), timeout=10)
        assert refused.value.details.get("may_have_run") is False
        assert "transaction" in str(refused.value)
        done = conn.ask("pool", Execute(f"insert into {table} values (1)"), timeout=10)
        assert done.rowcount == 1
    assert _count(settings, node, table) == 1


def test_execute_that_opens_a_transaction_is_refused_and_rolled_back(start_node, backend):
    """``begin`` through pool.execute is refused and rolled back; later writes commit."""
    _refused_then_committed(_node(start_node, backend), backend, "begin")


def test_transaction_that_commits_itself_does_not_say_rolled_back(start_node, backend):
    """A ``commit`` among pool.transaction's statements ends the unit the pool promised:
    the answer is an error that says what came before may have been committed, never
    "it was rolled back" while rows of it are committed."""
    node = _node(start_node, backend)
    table = f"tx_{uuid.uuid4().hex[:10]}"
    with node.connect() as conn:
        conn.ask("pool", Execute(f"create table {table} (v integer)"), timeout=10)
        with pytest.raises(HandlerError) as failed:
            conn.ask("pool", Transaction([Statement(f"insert into {table} values (1)"),
                                          Statement("commit"),
                                          Statement(f"insert into {table} values (2)")]),
                     timeout=10)
        assert failed.value.details.get("may_have_run") is True
        assert "may have been committed" in str(failed.value)
        conn.ask("pool", Execute(f"insert into {table} values (3)"), timeout=10)
    assert _count(backend, node, table) >= 2  # the first row, committed by its commit, and 3


@pytest.mark.mysql
def test_mysql_execute_that_turns_autocommit_off_is_refused(start_node):
    """``SET autocommit = 0`` through pool.execute would make the connection's next
    statement open a transaction that nothing commits: refused like ``begin``."""
    require_server("MariaDB", 3306)
    _refused_then_committed(_node(start_node, MYSQL), MYSQL, "set autocommit = 0")
