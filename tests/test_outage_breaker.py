"""Issue 6: breaker.call around a real PostgreSQL pool whose server becomes unreachable (a TCP
proxy is stopped) and then comes back; and a short blip recovered within the retry budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from actors.breaker import Call, ResourceStats, States, Stats
from actors.pool import Execute, ExecuteResult
from actors.testing import TcpProxy
from messages import HandlerError, RemoteError
from tests.nodes import RunningNode, eventually

BREAKER = "actors.breaker:BreakerActor"
POOL = "actors.pool:PoolActor"
WINDOW = 4
"""Calls in the breaker's count window (and its minimum): it must open within this many."""
SELECT = Execute("select 1")


@pytest.fixture
def node(start_node: Callable[..., RunningNode], pg_proxy: TcpProxy) -> RunningNode:
    """A PostgreSQL pool through the proxy and a breaker guarding resource ``pg``."""
    return start_node({
        "children": [
            {"name": "pool", "actor": POOL, "settings": {
                "backend": "postgres", "host": "127.0.0.1", "port": pg_proxy.port,
                "dbname": "test", "user": "postgres", "min_size": 1, "max_size": 2,
                "health_check_interval": 0.2, "check_after_idle": 0.2, "connect_timeout": 1.0,
                "acquire_timeout": 0.5, "backoff_initial": 0.05, "backoff_max": 0.2}},
            {"name": "breaker", "actor": BREAKER, "settings": {
                "resources": {"pg": {
                    "breaker": {"window": "count", "window_size": WINDOW, "minimum_calls": WINDOW,
                                "failure_rate": 0.5, "open_seconds": 1.0,
                                "half_open_permits": 1},
                    "retry": {"max_attempts": 6, "base_delay": 0.05, "max_delay": 0.25,
                              "jitter": "none"}}},
                "call_timeout": 3.0}},
        ],
    })


def call(conn: Any, timeout: float = 3.0) -> ExecuteResult:
    reply = conn.ask("breaker", Call.of("pg", "pool", SELECT, timeout=timeout),
                     timeout=timeout + 2.0)
    assert isinstance(reply, ExecuteResult), reply  # the pool's reply, passed on as it came
    return reply


def pg_stats(conn: Any) -> ResourceStats:
    stats = conn.ask("breaker", Stats("pg"), timeout=2.0).resources[0]
    assert isinstance(stats, ResourceStats)
    return stats


def state(conn: Any) -> str:
    return str(conn.ask("breaker", States(["pg"]), timeout=2.0).states[0].state)


def exception_of(exc: RemoteError) -> str:
    return str(exc.details.get("exception", ""))


@pytest.mark.postgres
def test_breaker_opens_on_an_outage_rejects_fast_and_closes_after(node: RunningNode,
                                                                  pg_proxy: TcpProxy) -> None:
    with node.connect() as conn:
        assert eventually(lambda: _succeeds(conn), timeout=10.0), "the pool never served"
        assert call(conn).rows == [[1]] and state(conn) == "closed"

        before = pg_stats(conn)
        pg_proxy.stop()
        rejected: HandlerError | None = None
        outcomes: list[str] = []
        for _ in range(WINDOW):  # each attempt reaching the pool fails: open within one window
            try:
                call(conn)
            except HandlerError as exc:
                outcomes.append(exception_of(exc))
                if exception_of(exc) == "CircuitOpenError":
                    rejected = exc
                    break
            else:
                raise AssertionError("a call succeeded with the database stopped")
        opened = pg_stats(conn)
        assert rejected is not None, f"not open after {outcomes}: {opened}"
        assert opened.state == "open" and opened.opens == 1, opened
        assert 1 <= opened.failures - before.failures <= WINDOW, opened
        assert set(opened.errors_by_class) <= {"connection", "timeout"}, opened.errors_by_class
        assert "circuit 'pg' is open" in str(rejected)

        for _ in range(5):  # rejected at once, without touching the pool
            started = time.monotonic()
            with pytest.raises(HandlerError, match="CircuitOpenError") as info:
                call(conn)
            assert exception_of(info.value) == "CircuitOpenError"
            assert time.monotonic() - started < 0.1
        assert pg_stats(conn).rejected >= 6

        pg_proxy.start()
        assert eventually(lambda: _succeeds(conn), timeout=10.0, interval=0.1), \
            f"calls never succeeded again: {pg_stats(conn)}"
        assert state(conn) == "closed"
        for _ in range(3):
            assert call(conn).rows == [[1]]
        stats = pg_stats(conn)
        assert stats.state == "closed" and stats.opens == 1, stats
        assert stats.time_in_state.get("half_open", 0.0) > 0.0, stats


@pytest.mark.postgres
def test_short_blip_is_recovered_within_the_retry_budget(node: RunningNode,
                                                         pg_proxy: TcpProxy) -> None:
    """A call made while the database is briefly unreachable fails at first, is retried, and
    succeeds once the database is back; the breaker stays closed."""
    with node.connect() as conn:
        assert eventually(lambda: _succeeds(conn), timeout=10.0), "the pool never served"
        before = pg_stats(conn)
        pg_proxy.stop()
        restored = threading.Event()

        def restore_after_first_failure() -> None:
            with node.connect() as watcher:  # the blip ends once the call has failed once
                eventually(lambda: pg_stats(watcher).failures > before.failures, timeout=10.0)
            pg_proxy.start()
            restored.set()

        thread = threading.Thread(target=restore_after_first_failure)
        thread.start()
        try:
            result = call(conn, timeout=4.0)
        finally:
            thread.join(15)
        assert restored.is_set()
        assert result.rows == [[1]]
        stats = pg_stats(conn)
        assert stats.failures > before.failures and stats.successes == before.successes + 1, stats
        assert stats.recovered >= 1 and stats.state == "closed" and stats.opens == 0, stats
        assert set(stats.errors_by_class) <= {"connection", "timeout"}, stats.errors_by_class


def _succeeds(conn: Any) -> bool:
    try:
        return bool(call(conn, timeout=2.0).rows == [[1]])
    except RemoteError:
        return False


def test_pool_connection_errors_classify_as_transient_across_the_wire() -> None:
    """The pool's BackendUnavailable / AcquireTimeout reach the breaker as names only; they are
    retried like the builtin ConnectionError / TimeoutError they subclass, OperationFailed not."""
    from actors.breaker import classify

    def remote(name: str) -> HandlerError:
        return HandlerError(f"actor 'pool' failed: {name}: ...", details={"exception": name})

    assert classify(remote("BackendUnavailable")) == "connection"
    assert classify(remote("AcquireTimeout")) == "timeout"
    assert classify(remote("OperationFailed")) == "OperationFailed"
