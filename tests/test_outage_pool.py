"""The pool and its asker's deadline; domain errors are answers, not faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from actors.pool import (
    Connector,
    Execute,
    OperationFailed,
    Pool,
    PoolConfig,
    PoolStatistics,
    ResultSet,
    Runner,
    Stats,
)
from messages import AskTimeout, HandlerError
from tests.conftest import require_server
from tests.nodes import RunningNode, eventually

POOL = "actors.pool:PoolActor"
PG = {"backend": "postgres", "dsn": "host=127.0.0.1 port=5432 dbname=test user=postgres"}


class Recording(Connector):
    """Records the timeout each statement gets; ``fail`` connection resets before answering."""

    backend = "fake"

    def __init__(self, wall: list[float]) -> None:
        self.wall = wall
        self.timeouts: list[float] = []
        self.fail = 0

    def connect(self, timeout: float) -> object:
        return object()

    def check(self, conn: Any, timeout: float) -> None:
        pass

    def close(self, conn: Any) -> None:
        pass

    def execute(self, conn: Any, sql: str, params: Any, timeout: float) -> ResultSet:
        self.timeouts.append(timeout)
        if self.fail:
            self.fail -= 1
            raise ConnectionResetError("reset")
        return ResultSet(["x"], [[1]], 1)


def runner_with_clock() -> tuple[Runner, Recording, list[float]]:
    wall = [1_000_000.0]
    connector = Recording(wall)
    pool = Pool(connector, PoolConfig(min_size=1, max_size=1, statement_timeout=30.0, retries=3))

    def sleep(seconds: float) -> None:
        wall[0] += seconds

    return Runner(pool, sleep=sleep, wall=lambda: wall[0]), connector, wall


def test_runner_caps_the_statement_timeout_by_the_deadline() -> None:
    """The statement gets the time left until the deadline less the reply margin (0.1 s by
    default, at most a quarter of what is left), not the pool's 30 s, nor more than its own
    timeout; without a deadline the timeouts are unchanged."""
    runner, connector, wall = runner_with_clock()
    runner.execute("select", None, idempotent=True, deadline=wall[0] + 0.5)
    runner.execute("select", None, idempotent=True, timeout=0.2, deadline=wall[0] + 0.5)
    runner.execute("select", None, idempotent=True, deadline=wall[0] + 0.1)
    runner.execute("select", None, idempotent=True)
    assert connector.timeouts == [pytest.approx(0.4), 0.2, pytest.approx(0.075), 30.0]


def test_runner_does_not_start_past_the_deadline() -> None:
    """Past the deadline nothing is run (a timeout error saying so); a retry whose backoff
    passes the deadline is not made; the connection is returned either way."""
    runner, connector, wall = runner_with_clock()
    with pytest.raises(OperationFailed, match=r"the asker's deadline passed .* \(it did not run\)") as info:
        runner.execute("select", None, idempotent=True, deadline=wall[0] - 0.1)
    assert info.value.kind == "timeout" and connector.timeouts == []
    connector.fail = 2  # the first retry is at once, the second after >= 0.05 s of backoff
    with pytest.raises(OperationFailed, match="deadline passed") as info:
        runner.execute("select", None, idempotent=True, deadline=wall[0] + 0.01)
    assert info.value.attempts == 2 and len(connector.timeouts) == 2
    assert runner.execute("select", None, idempotent=True).rows == [[1]]
    assert runner.pool.acquire(0.1) is not None


@pytest.fixture
def pg_pool(start_node: Callable[..., RunningNode]) -> RunningNode:
    """A node with one PostgreSQL connection, so a stuck statement blocks everything behind it."""
    require_server("PostgreSQL", 5432)
    return start_node({"children": [{"name": "pool", "actor": POOL, "settings": {
        **PG, "min_size": 1, "max_size": 1, "acquire_timeout": 5.0, "statement_timeout": 30.0}}]})


def stats(conn: Any) -> PoolStatistics:
    reply = conn.ask("pool", Stats(), timeout=2.0)
    assert isinstance(reply, PoolStatistics)
    return reply


@pytest.mark.postgres
def test_statement_is_cancelled_at_the_askers_deadline(pg_pool: RunningNode) -> None:
    """pg_sleep(2) asked with a 0.5 s timeout is cancelled server-side at ~0.5 s: the pool's only
    connection serves the next request within ~1 s of the first ask, not after 2 s."""
    with pg_pool.connect() as conn:
        assert conn.ask("pool", Execute("select 1"), timeout=5.0).rows == [[1]]
        started = time.monotonic()
        with pytest.raises((AskTimeout, HandlerError)):
            conn.ask("pool", Execute("select pg_sleep(2)"), timeout=0.5)
        assert conn.ask("pool", Execute("select 2"), timeout=5.0).rows == [[2]]
        elapsed = time.monotonic() - started
        assert elapsed < 1.2, f"the connection came back after {elapsed:.2f} s"
        after = stats(conn)
        assert after.errors.get("timeout", 0) == 1 and after.size == 1, after


@pytest.mark.postgres
def test_acquire_wait_ends_at_the_askers_deadline(pg_pool: RunningNode) -> None:
    """A request queued behind a busy connection leaves the queue when its asker's deadline
    passes (not after acquire_timeout, nor when the connection frees up)."""
    with pg_pool.connect() as busy, pg_pool.connect() as conn:
        assert conn.ask("pool", Execute("select 1"), timeout=5.0).rows == [[1]]
        started = time.monotonic()
        busy.tell("pool", Execute("select pg_sleep(1.5)"))
        assert eventually(lambda: stats(conn).in_use == 1, timeout=1.0)
        with pytest.raises((AskTimeout, HandlerError)):
            conn.ask("pool", Execute("select 3"), timeout=0.3)
        left_queue = eventually(lambda: stats(conn).waiting == 0, timeout=2.0)
        elapsed = time.monotonic() - started
        assert left_queue and elapsed < 1.0, f"still queued {elapsed:.2f} s after the ask"
        assert stats(conn).in_use == 1  # the pg_sleep is still running: the waiter left on its own
        assert conn.ask("pool", Execute("select 4"), timeout=5.0).rows == [[4]]


def test_sql_error_is_an_answer_not_a_fault(start_node: Callable[..., RunningNode]) -> None:
    """With on_error "restart", a bad statement gets an error reply and the pool stays at
    incarnation 1 (PoolError is an expected error of the pool actor)."""
    node = start_node({"children": [{"name": "pool", "actor": POOL, "on_error": "restart"}]})
    with node.connect() as conn:
        for sql in ("selec 1", "select * from nowhere"):
            with pytest.raises(HandlerError, match="OperationFailed"):
                conn.ask("pool", Execute(sql), timeout=5.0)
        reply = conn.ask_reply("pool", Execute("select 5"), timeout=5.0)
        assert reply.value.rows == [[5]] and reply.incarnation == 1
        row = next(a for a in conn.status().actors if a.name == "pool")
        assert (row.incarnation, row.restarts, row.state) == (1, 0, "running")
