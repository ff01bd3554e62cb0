"""The PostgreSQL pool under chaos: terminated backends, slow statements past their
deadlines, a SIGKILLed pool. Real node, real server; every table name is unique."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from actors.pool import Execute, PoolStatistics, Statement, Stats, Transaction
from actors.pool._connector import DidNotRun
from actors.pool._pg_statement import PendingStatement
from actors.pool._postgres import PostgresConnector
from messages import ActorCrashed, HandlerError
from tests.nodes import EventLog, RunningNode, eventually
from tests.test_pool_actor import PG, pg_ready, pool_node  # noqa: F401  (pg_ready: a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("pg_ready")]

DSN = PG["dsn"]


@pytest.fixture
def table() -> Iterator[str]:
    """A fresh table ``(k text primary key)`` with a unique name, dropped afterwards."""
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"create table {name} (k text primary key)")
    yield name
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"drop table if exists {name}")


def rows(table: str) -> list[str]:
    with psycopg.connect(DSN, autocommit=True) as admin:
        return [r[0] for r in admin.execute(f"select k from {table} order by k").fetchall()]


def backends(application: str, *, like: str = "%") -> list[int]:
    """Pids of the server processes of connections named ``application`` running ``like``."""
    with psycopg.connect(DSN, autocommit=True) as admin:
        found = admin.execute("select pid from pg_stat_activity where application_name = %s "
                              "and query like %s", [application, like]).fetchall()
    return [r[0] for r in found]


def terminate(pids: list[int]) -> None:
    with psycopg.connect(DSN, autocommit=True) as admin:
        for pid in pids:
            admin.execute("select pg_terminate_backend(%s)", [pid])


def stats(conn: Any, name: str) -> PoolStatistics:
    reply = conn.ask(name, Stats(), timeout=5)
    assert isinstance(reply, PoolStatistics)
    return reply


def pool_pid(conn: Any, name: str) -> int:
    return int(conn.status(name).actors[0].pid)


# -- 1. a connection whose backend has ended is never handed out -------------------------
def test_terminated_idle_backends_are_replaced_before_use(start_node, table):
    """pg_terminate_backend on every idle backend of the pool, again and again: the very
    next inserts and transactions all succeed, each row is written once, and the pool
    counts the dead connections it caught before lease (the periodic check is far off)."""
    node = pool_node(start_node, {**PG, "min_size": 3, "max_size": 3,
                                  "health_check_interval": 600, "check_after_idle": 600},
                     name="pgc")
    written: list[str] = []
    with node.connect() as conn:
        name = stats(conn, "pgc").application_name
        conn.ask_many("pgc", [Execute("select 1")] * 6, timeout=10)
        for round_ in range(4):
            assert eventually(lambda: len(backends(name)) == 3, timeout=10)
            terminate(backends(name))
            assert eventually(lambda: not backends(name), timeout=10)
            for i in range(3):  # more than one: every connection of the pool was dead
                key = f"{round_}-{i}"
                done = conn.ask("pgc", Execute(f"insert into {table} values (%s)", [key]), timeout=10)
                assert done.rowcount == 1
                written.append(key)
            keys = [f"{round_}-t{i}" for i in range(3)]
            conn.ask("pgc", Transaction([Statement(f"insert into {table} values (%s)", [k])
                                         for k in keys]), timeout=10)
            written += keys
        after = stats(conn, "pgc")
    assert rows(table) == sorted(written)
    assert after.ended_idle >= 4 and after.errors.get("transient", 0) == 0, after


def test_a_terminated_backend_is_seen_without_a_round_trip():
    """An idle connection whose backend was terminated reads as ended (its socket holds the
    server's last words); a live idle one does not."""
    connector = PostgresConnector(DSN, statement_timeout=5.0)
    live, doomed = connector.connect(5.0), connector.connect(5.0)
    try:
        assert not connector.ended_while_idle(live) and not connector.ended_while_idle(doomed)
        terminate([doomed.info.backend_pid])
        assert eventually(lambda: connector.ended_while_idle(doomed), timeout=5)
        assert not connector.ended_while_idle(live)
    finally:
        connector.close(live)
        connector.close(doomed)
        connector.shutdown()


def test_a_write_that_could_not_be_sent_did_not_run(table):
    """A statement that cannot be sent (libpq has already closed the connection under the
    pool) raises DidNotRun, which the pool classifies as not run — nothing was written."""
    connector = PostgresConnector(DSN, statement_timeout=5.0)
    conn = connector.connect(5.0)
    try:
        conn.pgconn.finish()
        assert connector.ended_while_idle(conn)
        with pytest.raises(DidNotRun) as info:
            PendingStatement(conn, f"insert into {table} values ('x')", None)
        error = connector.classify(info.value)
        assert (error.kind, error.broken, error.may_have_run) == ("transient", True, False)
    finally:
        connector.close(conn)
        connector.shutdown()
    assert rows(table) == []


# -- 2. a write past its deadline hears that it did not run, before the deadline --------
def test_slow_writes_past_their_deadline_get_a_verdict_in_time(start_node, table):
    """Writes that would sleep 5 s, asked with a 1 s deadline by several agents at once, each
    get "did not run" (cancelled, or no connection in time) before their deadline — none
    ends in a bare AskTimeout — and none of their rows exists."""
    node = pool_node(start_node, {**PG, "min_size": 2, "max_size": 2}, name="pgc")
    verdicts: list[str] = []
    lock = threading.Lock()

    def agent(i: int) -> None:
        with node.connect() as conn:
            for j in range(3):
                sql = f"insert into {table} select %s from pg_sleep(5)"
                try:
                    conn.ask("pgc", Execute(sql, [f"{i}-{j}"]), timeout=1.0)
                    verdict = "ran"
                except HandlerError as exc:
                    verdict = str(exc)
                    if "OperationFailed" in verdict:  # the verdict is in the details too
                        assert exc.details["may_have_run"] is False, exc.details
                except Exception as exc:
                    verdict = f"{type(exc).__name__}: {exc}"
                with lock:
                    verdicts.append(verdict)

    threads = [threading.Thread(target=agent, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(verdicts) == 12
    assert all("(it did not run)" in v or "AcquireTimeout" in v for v in verdicts), verdicts
    assert any("outlived its timeout" in v for v in verdicts), verdicts
    assert rows(table) == []


# -- 3. a statement does not outlive its killed pool -------------------------------------
def kill_pool_mid_statement(start_node: Callable[..., RunningNode], table: str,
                            settings: dict[str, Any]) -> tuple[BaseException | None, float, float]:
    """Ask a 6 s write with a 2 s deadline, SIGKILL the pool 0.5 s in; return what the asker
    got, when the write's backend stopped running it, and the asker's deadline (monotonic)."""
    node = pool_node(start_node, {**PG, "min_size": 1, "max_size": 1, **settings}, name="pgk")
    got: list[BaseException | None] = []
    with node.connect() as conn:
        name = stats(conn, "pgk").application_name
        pid = pool_pid(conn, "pgk")
    sql = f"insert into {table} select 'killed' from pg_sleep(6)"
    started = time.monotonic()

    def ask() -> None:
        with node.connect() as conn:
            try:
                conn.ask("pgk", Execute(sql), timeout=2.0)
                got.append(None)
            except Exception as exc:
                got.append(exc)

    asker = threading.Thread(target=ask)
    asker.start()
    assert eventually(lambda: backends(name, like="%pg_sleep(6)%"), timeout=5)
    time.sleep(max(0.0, started + 0.5 - time.monotonic()))  # the scenario: 0.5 s into it
    os.kill(pid, signal.SIGKILL)
    assert eventually(lambda: not backends(name, like="%pg_sleep(6)%"), timeout=10, interval=0.01)
    ended = time.monotonic()
    asker.join(10)
    return got[0] if got else None, ended, started + 2.0


def test_killed_pool_leaves_no_statement_running(start_node, table):
    """SIGKILL the pool 0.5 s into pg_sleep(6) with a 2 s deadline: the asker hears the crash,
    the server ends the statement (it checks that its client is there) before the deadline,
    and the write never commits."""
    outcome, ended, deadline = kill_pool_mid_statement(start_node, table, {})
    assert isinstance(outcome, ActorCrashed), outcome
    assert ended < deadline, f"still running {ended - deadline:.2f} s after the deadline"
    assert rows(table) == []


def test_next_incarnation_ends_what_its_predecessor_left(start_node, table):
    """With the server's client check far off (60 s), the restarted pool's first connection
    ends the backend its killed predecessor left running, well before the deadline."""
    outcome, ended, deadline = kill_pool_mid_statement(start_node, table,
                                                       {"client_check_interval": 60})
    assert isinstance(outcome, ActorCrashed), outcome
    assert ended < deadline, f"still running {ended - deadline:.2f} s after the deadline"
    assert rows(table) == []


# -- counts survive a restart --------------------------------------------------------------
def test_stats_and_error_counts_survive_a_sigkill(start_node):
    """Operations and errors counted before a SIGKILL are still counted by the next
    incarnation (carried by the snapshot saved with every pool.stats event)."""
    node = pool_node(start_node, {**PG, "min_size": 1, "max_size": 1, "stats_interval": 0.2},
                     name="pgs")
    with node.connect() as conn:
        events = EventLog(conn.about().events)
    try:
        with node.connect() as conn:
            conn.ask_many("pgs", [Execute("select 1")] * 20, timeout=10)
            with pytest.raises(HandlerError):
                conn.ask("pgs", Execute("select * from no_such_table_here"), timeout=5)
            before = stats(conn, "pgs")
            # a snapshot is saved right after each event: the second one after the work
            # has certainly had its predecessor's snapshot confirmed
            seen = len(events.events)
            assert eventually(lambda: sum(1 for e in events.events[seen:]
                                          if e["topic"] == "pool.stats") >= 2, timeout=10)
            os.kill(pool_pid(conn, "pgs"), signal.SIGKILL)
            assert eventually(lambda: conn.status("pgs").actors[0].incarnation == 2, timeout=10)
            after = stats(conn, "pgs")
    finally:
        events.close()
    assert after.operations >= before.operations >= 20
    assert after.errors.get("permanent", 0) >= 1
