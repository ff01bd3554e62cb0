"""The pool actor in a real node: agents' requests, concurrency, failures, bad input."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.pool import (
    Command,
    Configure,
    Execute,
    ExecuteResult,
    PoolStatistics,
    Statement,
    Stats,
    Transaction,
)
from messages import ActorNotFound, HandlerError, RemoteProtocolError
from tests.conftest import require_server
from tests.nodes import RunningNode, eventually, free_port

POOL = "actors.pool:PoolActor"
PG = {"backend": "postgres", "dsn": "host=127.0.0.1 port=5432 dbname=test user=postgres"}



def pool_node(start_node: Callable[..., RunningNode], settings: dict[str, Any],
              name: str = "pool") -> RunningNode:
    return start_node({"children": [{"name": name, "actor": POOL, "settings": settings}]})


def test_sqlite_pool_in_the_data_dir_runs_statements(start_node):
    """The default SQLite pool keeps its file in the node's data dir and answers SQL."""
    node = pool_node(start_node, {})
    with node.connect() as conn:
        conn.ask("pool", Execute("create table t (a integer, b text)"), timeout=5)
        done = conn.ask("pool", Execute("insert into t values (?, ?)", [1, "one"]), timeout=5)
        assert done.rowcount == 1
        got = conn.ask("pool", "pool.execute", {"sql": "select a, b from t"}, timeout=5)
    assert got == ExecuteResult(["a", "b"], [[1, "one"]], -1)
    assert (node.data_dir / "pool.sqlite3").is_file()


def test_absolute_sqlite_path_is_used_as_given(start_node, tmp_path):
    """An absolute ``path`` puts the database exactly there."""
    target = tmp_path / "elsewhere" / "shop.db"
    node = pool_node(start_node, {"path": str(target)})
    with node.connect() as conn:
        conn.ask("pool", Execute("create table t (a int)"), timeout=5)
    assert target.is_file() and not (node.data_dir / "pool.sqlite3").exists()


def test_send_cli_runs_select_1(start_node):
    """run_node.py send pool pool.execute '{"sql": "select 1"}' prints the result as JSON."""
    node = pool_node(start_node, {})
    result = node.cli("send", "pool", "pool.execute", '{"sql": "select 1"}', "--timeout", "5")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"columns": ["1"], "rows": [[1]], "rowcount": -1}


def test_transaction_commits_or_rolls_back(start_node):
    """pool.transaction applies all statements or none, and says which one failed."""
    node = pool_node(start_node, {})
    with node.connect() as conn:
        conn.ask("pool", Execute("create table t (a integer primary key)"), timeout=5)
        results = conn.ask("pool", Transaction([Statement("insert into t values (1)"),
                                                Statement("select count(*) from t")]), timeout=5)
        assert results == [ExecuteResult([], [], 1), ExecuteResult(["count(*)"], [[1]], -1)]
        with pytest.raises(HandlerError, match=r"rolled back.*statement 1 failed.*UNIQUE"):
            conn.ask("pool", "pool.transaction", {"statements": [
                {"sql": "insert into t values (2)"}, {"sql": "insert into t values (1)"}]}, timeout=5)
        assert conn.ask("pool", Execute("select a from t"), timeout=5).rows == [[1]]


@pytest.mark.parametrize(("body", "needle"), [
    ({"sql": "selec 1"}, "permanent error"),
    ({"sql": "select ?", "params": [1, 2]}, "Incorrect number of bindings"),
    ({"sql": "select * from nowhere"}, "no such table"),
    ({"sql": "select %s", "params": [1]}, r"placeholders on SQLite are \? or :name, not %s"),
])
def test_sql_errors_fail_clearly_and_the_pool_keeps_serving(start_node, body, needle):
    """SQL errors and wrong parameter counts come back as errors; the next request works."""
    node = pool_node(start_node, {})
    with node.connect() as conn:
        with pytest.raises(HandlerError, match=needle) as info:
            conn.ask("pool", "pool.execute", body, timeout=5)
        assert "OperationFailed" in str(info.value)
        assert conn.ask("pool", Execute("select 2"), timeout=5).rows == [[2]]
        assert conn.ask_reply("pool", Stats(), timeout=5).incarnation == 1


def test_statement_past_its_timeout_is_cancelled(start_node):
    """A statement that outlives its timeout is cancelled, not left running; the pool serves on."""
    node = pool_node(start_node, {})
    endless = "with recursive n(x) as (select 1 union all select x + 1 from n) select count(*) from n"
    with node.connect() as conn:
        start = time.monotonic()
        with pytest.raises(HandlerError, match=r"outlived its timeout of 0.3 s"):
            conn.ask("pool", Execute(endless, timeout=0.3), timeout=5)
        assert time.monotonic() - start < 3
        assert conn.ask("pool", Execute("select 3"), timeout=5).rows == [[3]]


def test_transaction_reply_keeps_its_wire_shape(start_node):
    """On the wire a transaction's reply is typed ``pool.result[]`` with the plain list of
    results as body: the CLI prints that list, a Python agent gets ExecuteResult objects."""
    node = pool_node(start_node, {})
    body = '{"statements": [{"sql": "select 1"}, {"sql": "select 2"}]}'
    result = node.cli("send", "pool", "pool.transaction", body, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"columns": ["1"], "rows": [[1]], "rowcount": -1},
                                         {"columns": ["2"], "rows": [[2]], "rowcount": -1}]
    with node.connect() as conn:
        reply = conn.ask("pool", "pool.transaction", json.loads(body), timeout=5)
    assert reply == [ExecuteResult(["1"], [[1]], -1), ExecuteResult(["2"], [[2]], -1)]


def test_bad_input_is_refused_with_the_field_named(start_node):
    """Wrong field types, empty statements and unsupported operations are refused clearly."""
    node = pool_node(start_node, {})
    with node.connect() as conn:
        with pytest.raises(RemoteProtocolError, match=r"sql"):
            conn.ask("pool", "pool.execute", {"sql": 5}, timeout=5)
        with pytest.raises(RemoteProtocolError, match=r"timeout"):
            conn.ask("pool", "pool.execute", {"sql": "select 1", "timeout": -1}, timeout=5)
        with pytest.raises(RemoteProtocolError, match=r"statements"):
            conn.ask("pool", "pool.transaction", {"statements": []}, timeout=5)
        with pytest.raises(HandlerError, match=r"UnsupportedOperation.*send pool.execute"):
            conn.ask("pool", Command(["GET", "k"]), timeout=5)


def test_unknown_pool_name_fails_at_once(start_node):
    """Asking a pool name the node does not run fails fast with ActorNotFound."""
    node = pool_node(start_node, {})
    with node.connect() as conn, pytest.raises(ActorNotFound):
        conn.ask("warehouse", Execute("select 1"), timeout=5)


def test_stats_report_sizes_states_and_errors(start_node):
    """pool.stats and actor.statistics give size, states, acquire percentiles, errors."""
    node = pool_node(start_node, {"min_size": 2})
    with node.connect() as conn:
        conn.ask("pool", Execute("select 1"), timeout=5)
        with pytest.raises(HandlerError):
            conn.ask("pool", Execute("nonsense"), timeout=5)
        stats = conn.ask("pool", Stats(), timeout=5)
        same_shape = conn.ask("pool", "actor.statistics", {}, timeout=5)
    assert isinstance(stats, PoolStatistics) and isinstance(same_shape, PoolStatistics)
    assert stats.size == 2 and stats.backend == "sqlite" and stats.errors == {"permanent": 1}
    assert {c.state for c in stats.connections} == {"HEALTHY"}
    assert stats.acquires >= 2 and stats.acquire_ms_p99 >= stats.acquire_ms_p50 >= 0


def test_configure_changes_sizes_at_run_time(start_node):
    """pool.configure changes settings while serving; the pool trims to a lower max_size."""
    node = pool_node(start_node, {"min_size": 3, "max_size": 4})
    with node.connect() as conn:
        assert conn.ask("pool", Stats(), timeout=5).size == 3
        now = conn.ask("pool", Configure(min_size=1, max_size=2), timeout=5)
        assert now["min_size"] == 1 and now["max_size"] == 2
        with pytest.raises(RemoteProtocolError, match=r"min_size: expected <= max_size \(2\)"):
            conn.ask("pool", Configure(min_size=3), timeout=5)
        stats = eventually(lambda: (s := conn.ask("pool", Stats(), timeout=5)).size == 2 and s)
        assert stats and any("above max_size 2" in line for line in stats.sizing)
        assert conn.ask("pool", Execute("select 1"), timeout=5).rows == [[1]]


def test_stats_are_published_on_the_event_stream(start_node):
    """Every stats_interval the pool publishes pool.stats for the health monitor and profiler."""
    node = pool_node(start_node, {"stats_interval": 0.2})
    with node.connect() as conn, conn.subscribe("pool.stats") as reader:
        event = reader.next(5.0)
    assert event is not None, "no pool.stats event within 5 s"
    assert event.topic == "pool.stats" and event.source == "pool"
    assert event.body["name"] == "pool" and event.body["backend"] == "sqlite"


def test_settings_are_validated_by_the_node(start_node):
    """Bad pool settings stop the node from starting, naming the field."""
    with pytest.raises(Exception, match=r"min_size"):
        pool_node(start_node, {"min_size": 5, "max_size": 2})


# -- PostgreSQL --------------------------------------------------------------------------
@pytest.fixture
def pg_ready() -> None:
    require_server("PostgreSQL", 5432)


def asks_in_threads(node: RunningNode, n: int, fn: Callable[[Any, int], Any]) -> list[Any]:
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        with node.connect() as conn:
            try:
                results[i] = fn(conn, i)
            except Exception as exc:
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@contextlib.contextmanager
def repeating(action: Callable[[], object], every: float) -> Iterator[None]:
    """Run ``action`` every ``every`` seconds on a thread of its own while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            action()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.postgres
def test_operations_run_concurrently_on_many_connections(start_node, pg_ready):
    """8 agents' 0.5 s statements finish together, not one after another."""
    node = pool_node(start_node, {**PG, "min_size": 8, "max_size": 8})
    start = time.monotonic()
    results = asks_in_threads(node, 8, lambda c, i: c.ask("pool", Execute("select pg_sleep(0.5)"),
                                                          timeout=10))
    elapsed = time.monotonic() - start
    assert all(isinstance(r, ExecuteResult) for r in results), results
    assert elapsed < 2.0


@pytest.mark.postgres
def test_terminated_backends_under_load_are_replaced(start_node, pg_ready):
    """pg_terminate_backend under load: reads retried succeed; writes say whether they ran."""
    node = pool_node(start_node, {**PG, "min_size": 4, "max_size": 4, "retries": 5}, name="pgpool")
    import psycopg

    with node.connect() as conn:
        name = conn.ask("pgpool", Stats(), timeout=5).application_name
    table = f"pool_kill_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG["dsn"], autocommit=True) as admin:
        admin.execute(f"create table {table} (a int)")

        def kill() -> None:
            admin.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                          "where application_name = %s", [name])

        def work(conn: Any, i: int) -> tuple[int, int, list[str]]:
            reads = writes = 0
            write_errors = []
            for _ in range(60):
                assert conn.ask("pgpool", Execute("select 1"), timeout=10).rows == [[1]]
                reads += 1
                try:
                    conn.ask("pgpool", Execute(f"insert into {table} values (1)"), timeout=10)
                    writes += 1
                except HandlerError as exc:
                    write_errors.append(str(exc))
            return reads, writes, write_errors

        with repeating(kill, every=0.05):
            results = asks_in_threads(node, 4, work)
        assert all(isinstance(r, tuple) for r in results), results
        errors = [e for r in results for e in r[2]]
        assert all("not retried because it is not idempotent (it may have run)" in e or
                   "(it did not run)" in e for e in errors), errors[:3]
        written = admin.execute(f"select count(*) from {table}").fetchone()
        assert written is not None
        admin.execute(f"drop table {table}")
    assert sum(r[0] for r in results) == 240
    assert written[0] >= sum(r[1] for r in results)
    with node.connect() as conn:
        stats = conn.ask("pgpool", Stats(), timeout=5)
        assert conn.ask("pgpool", Execute("select 5"), timeout=5).rows == [[5]]
    assert stats.retries > 0 and stats.errors.get("transient", 0) > 0


@pytest.mark.postgres
def test_pool_pointed_where_nothing_listens_fails_fast_and_keeps_running(start_node):
    """With no server on the port, requests fail soon with the connect error; nothing hangs."""
    node = pool_node(start_node, {"backend": "postgres", "port": free_port(), "user": "postgres",
                                  "acquire_timeout": 1.0})
    with node.connect() as conn:
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(HandlerError, match=r"BackendUnavailable.*Connection refused"):
                conn.ask("pool", Execute("select 1"), timeout=5)
            assert time.monotonic() - start < 2.5
        stats = conn.ask("pool", Stats(), timeout=5)
    assert "Connection refused" in stats.last_connect_error and stats.errors["connect"] >= 1


# -- Redis -------------------------------------------------------------------------------
@pytest.mark.redis
def test_redis_pool_serves_commands_through_killed_connections(start_node):
    """Under load, with the pool's Redis connections killed again and again, GETs (retried)
    all succeed and INCRs (not retried) either succeed or say whether they may have run."""
    require_server("Redis", 6379)
    node = pool_node(start_node, {"backend": "redis", "min_size": 3, "max_size": 3, "retries": 5},
                     name="rpool")
    import redis

    admin = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    admin.set("cellphone:pool:k", "v")
    admin.delete("cellphone:pool:n")

    def kill() -> None:
        for client in admin.client_list():
            if client.get("name") == "cellphone-rpool":
                admin.client_kill_filter(_id=client["id"])

    def work(conn: Any, i: int) -> tuple[int, list[str]]:
        incrs, errors = 0, []
        for _ in range(50):
            assert conn.ask("rpool", Command(["GET", "cellphone:pool:k"]), timeout=10).result == "v"
            try:
                conn.ask("rpool", Command(["INCR", "cellphone:pool:n"]), timeout=10)
                incrs += 1
            except HandlerError as exc:
                errors.append(str(exc))
        return incrs, errors

    with repeating(kill, every=0.03):
        results = asks_in_threads(node, 4, work)
    assert all(isinstance(r, tuple) for r in results), results
    errors = [e for r in results for e in r[1]]
    assert all("not idempotent" in e and "may have run" in e for e in errors), errors[:3]
    counted = int(admin.get("cellphone:pool:n") or 0)
    assert counted >= sum(r[0] for r in results)
    with node.connect() as conn:
        with pytest.raises(HandlerError, match="UnsupportedOperation"):
            conn.ask("rpool", Execute("select 1"), timeout=5)
        stats = conn.ask("rpool", Stats(), timeout=5)
    admin.delete("cellphone:pool:k", "cellphone:pool:n")
    admin.close()
    assert stats.retries > 0 and stats.errors.get("transient", 0) > 0


# -- TCP ---------------------------------------------------------------------------------
def test_tcp_pool_sends_lines(start_node):
    """A TCP pool sends each command as a line and replies with the answer line."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(client,), daemon=True).start()

    def echo(client: socket.socket) -> None:
        with client, client.makefile("rwb") as f:
            for line in f:
                f.write(b"ok " + line)
                f.flush()

    threading.Thread(target=serve, daemon=True).start()
    try:
        node = pool_node(start_node, {"backend": "tcp", "port": port, "min_size": 1})
        with node.connect() as conn:
            assert conn.ask("pool", Command(["hello", 1]), timeout=5).result == "ok hello 1"
    finally:
        server.close()
