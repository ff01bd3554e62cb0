"""The PostgreSQL pool's direct path: statements driven from the actor thread, no workers.

Each test runs a real node with a real pool on the PostgreSQL server of this machine.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from actors.pool import Execute, ExecuteResult, Stats
from messages import HandlerError
from tests.nodes import eventually
from tests.test_pool_actor import PG, pg_ready, pool_node  # noqa: F401  (pg_ready: a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("pg_ready")]


def running_statements(application: str, like: str) -> int:
    """How many statements matching ``like`` the pool's connections are running now."""
    import psycopg

    with psycopg.connect(PG["dsn"], autocommit=True) as admin:
        row = admin.execute("select count(*) from pg_stat_activity where application_name = %s "
                            "and state = 'active' and query like %s", [application, like]).fetchone()
    assert row is not None
    return int(row[0])


def test_many_statements_in_flight_each_get_their_own_result(start_node):
    """300 asks with 50 in flight over 4 connections: every reply carries its own value."""
    node = pool_node(start_node, {**PG, "min_size": 4, "max_size": 4}, name="pgd")
    with node.connect() as conn:
        results = conn.ask_many("pgd", [Execute("select %s::int, pg_backend_pid()", [i])
                                        for i in range(300)], timeout=30, window=50)
        stats = conn.ask("pgd", Stats(), timeout=5)
    assert [r.rows[0][0] for r in results] == list(range(300))
    assert len({r.rows[0][1] for r in results}) >= 2  # spread over several server processes
    assert stats.operations >= 300 and stats.errors == {}


def test_statement_past_its_own_timeout_is_cancelled_on_the_server(start_node):
    """A per-message timeout shorter than the server's cancels the statement in time."""
    node = pool_node(start_node, {**PG, "min_size": 2, "max_size": 2}, name="pgd")
    with node.connect() as conn:
        start = time.monotonic()
        with pytest.raises(HandlerError, match=r"outlived its timeout of 0.3 s.*QueryCanceled"):
            conn.ask("pgd", Execute("select pg_sleep(5)", timeout=0.3), timeout=10)
        assert time.monotonic() - start < 2.0
        assert conn.ask("pgd", Execute("select 4"), timeout=5).rows == [[4]]


def test_asker_deadline_cancels_the_statement_on_the_server(start_node):
    """A statement capped by its asker's deadline is cancelled on the server before the
    deadline, and the asker hears that it did not run (not a bare AskTimeout)."""
    node = pool_node(start_node, {**PG, "min_size": 2, "max_size": 2}, name="pgd")
    with node.connect() as conn:
        with pytest.raises(HandlerError, match=r"outlived its timeout.*it did not run.*QueryCanceled"):
            conn.ask("pgd", Execute("select pg_sleep(20)"), timeout=0.5)
        name = conn.ask("pgd", Stats(), timeout=5).application_name
        assert running_statements(name, "%pg_sleep(20)%") == 0
        assert conn.ask("pgd", Execute("select 5"), timeout=5).rows == [[5]]


def test_timeout_longer_than_the_servers_is_honoured(start_node):
    """A statement may run past the pool's statement_timeout when its message asks for more."""
    node = pool_node(start_node, {**PG, "min_size": 1, "max_size": 1, "statement_timeout": 0.3},
                     name="pgd")
    with node.connect() as conn:
        with pytest.raises(HandlerError, match=r"QueryCanceled"):
            conn.ask("pgd", Execute("select pg_sleep(0.6)"), timeout=10)
        done = conn.ask("pgd", Execute("select pg_sleep(0.6), 6", timeout=3), timeout=10)
        assert done.rows == [["", 6]]
        # the server's limit is back for the next statement on the same connection
        with pytest.raises(HandlerError, match=r"QueryCanceled"):
            conn.ask("pgd", Execute("select pg_sleep(0.6)"), timeout=10)


def test_sql_errors_and_bad_parameters_leave_the_connection_usable(start_node):
    """Errors on the direct path are answers; the same single connection serves on."""
    node = pool_node(start_node, {**PG, "min_size": 1, "max_size": 1}, name="pgd")
    with node.connect() as conn:
        with pytest.raises(HandlerError, match=r"permanent error.*UndefinedTable"):
            conn.ask("pgd", Execute("select * from no_such_table"), timeout=5)
        with pytest.raises(HandlerError, match=r"OperationFailed"):
            conn.ask("pgd", Execute("select %s, %s", [1]), timeout=5)
        with pytest.raises(HandlerError, match=r"it did not run.*placeholders on PostgreSQL are "
                                               r"%s or %\(name\)s, not \?"):
            conn.ask("pgd", Execute("select ?", [1]), timeout=5)
        with pytest.raises(HandlerError, match=r"permanent error.*DivisionByZero"):
            conn.ask("pgd", Execute("select 1/0; select 2"), timeout=5)
        assert conn.ask("pgd", Execute("select %s::text", ["ok"]), timeout=5).rows == [["ok"]]
        stats = conn.ask("pgd", Stats(), timeout=5)
    assert stats.size == 1 and stats.errors.get("permanent", 0) == 4


def test_stopping_the_pool_answers_statements_in_flight(start_node):
    """A graceful stop finishes the statements it has sent and replies before it exits."""
    node = pool_node(start_node, {**PG, "min_size": 1, "max_size": 1}, name="pgd")
    got: list[Any] = []

    def ask() -> None:
        with node.connect() as conn:
            try:
                got.append(conn.ask("pgd", Execute("select pg_sleep(0.8), 7"), timeout=10))
            except Exception as exc:
                got.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    with node.connect() as conn:
        name = conn.ask("pgd", Stats(), timeout=5).application_name
    assert eventually(lambda: running_statements(name, "%pg_sleep(0.8)%") == 1, timeout=5)
    with node.connect() as conn:
        conn.ask("node", "node.stop_child", {"name": "pgd"}, timeout=10)
    asker.join(15)
    assert len(got) == 1 and isinstance(got[0], ExecuteResult), got
    assert got[0].rows == [["", 7]]
