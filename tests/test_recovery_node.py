"""Recovery rules on real nodes: the profiler, health monitor, breakers and supervisor
trigger them; the pool, breakers and the node carry out their actions."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.examples import Fail, Ping
from actors.health import Report, StatusQuery
from actors.pool import Execute, PoolStatistics, Stats
from actors.recovery import RecoveryStatistics, RecoveryStatus
from actors.recovery import StatusQuery as RecoveryQuery
from messages import ActorCrashed
from tests.conftest import require_server
from tests.nodes import EventLog, RunningNode, eventually

PG = {"backend": "postgres", "dsn": "host=127.0.0.1 port=5432 dbname=test user=postgres"}
SLOW_SQL = {"sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 150000) "
                      "SELECT count(*) FROM c",
            "postgres": "select pg_sleep(0.03)"}
GROW = {"when": {"bottleneck": {"op": "pool:pool.execute", "kind": "jump", "min_ratio": 3}},
        "do": {"resize_pool": {"pool": "pool", "grow": 2}}, "cooldown": 4.0}
"""The default rule (without repeat), with a cooldown short enough for a test and long
enough that a bottleneck flapping on a loaded machine cannot undo the act before the test
has looked at it."""


def recovery(conn: Any) -> RecoveryStatistics:
    stats = conn.ask("recovery", "actor.statistics", {}, timeout=2.0)
    return RecoveryStatistics(**stats) if isinstance(stats, dict) else stats


def pool_stats(conn: Any) -> PoolStatistics:
    stats = conn.ask("pool", Stats(), timeout=5.0)
    assert isinstance(stats, PoolStatistics)
    return stats


class Load(threading.Thread):
    """An agent sending one statement after another until stopped; ``sql`` may change."""

    def __init__(self, conn: Any, sql: str) -> None:
        super().__init__(daemon=True)
        self.conn, self.sql, self.sent = conn, sql, 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.conn.ask("pool", Execute(self.sql), timeout=10.0)
            self.sent += 1


@pytest.fixture(params=["sqlite", "postgres"])
def pool_node(request: pytest.FixtureRequest, start_node: Callable[..., RunningNode]) -> RunningNode:
    """A node whose profiler judges jumps on a 1 s window, a lazily filled pool that shrinks
    after 1 s, and the default grow rule (cooldown 4 s)."""
    backend = request.param
    if backend == "postgres":
        require_server("PostgreSQL", 5432)
    settings = {**(PG if backend == "postgres" else {}), "min_size": 1, "max_size": 6,
                "fill": "lazy", "shrink_after": 1.0, "max_idle": 1.0}
    node = start_node({"children": [
        {"name": "profiler", "actor": "profiler", "settings": {
            "windows": [1.0, 10.0], "slots": 10, "min_samples": 5, "detect_interval": 0.05}},
        {"name": "pool", "actor": "pool", "settings": settings},
        {"name": "recovery", "actor": "recovery", "settings": {"rules": {"grow": GROW},
                                                               "sync_interval": 0.5}},
    ]})
    node.backend = backend  # type: ignore[attr-defined]
    return node


@pytest.fixture
def events(pool_node: RunningNode) -> Iterator[EventLog]:
    log = pool_node.event_log()
    yield log
    log.close()


def test_a_jump_in_pool_latency_grows_the_pool_then_lets_it_shrink(pool_node: RunningNode,
                                                                   events: EventLog) -> None:
    """The issue's example: pool:pool.execute's p99 jumps 3x its baseline → min_size grows by 2
    (1 → 3, under max 6), published with the profiler's evidence; when the jump clears the
    rule restores min_size 1 and the pool closes its idle connections again."""
    with pool_node.connect() as conn:
        load = Load(conn, "select 1")
        load.start()
        try:
            # a baseline of fast calls: the jump's baseline is the 10 s window's slots (1 s
            # each) that ended before the last 1 s, so fast calls must fill two of them
            started = time.monotonic()
            assert eventually(lambda: load.sent >= 200 and time.monotonic() - started >= 3.0,
                              timeout=20.0)
            load.sql = SLOW_SQL[pool_node.backend]  # type: ignore[attr-defined]
            act = events.wait_for("recovery.action", "recovery", timeout=20.0, step="act")
            assert act["rule"] == "grow" and act["ok"] and act["subject"] == "pool:pool.execute"
            assert "min_size 1 -> 3" in act["detail"] and act["evidence"]["ratio"] >= 3.0
            raised = events.wait_for("profiler.bottleneck", "profiler", op="pool:pool.execute",
                                     kind="jump", state="raised")
            assert events.events.index(raised) < events.events.index(act)
            assert pool_stats(conn).min_size == 3  # in force while the queries stay slow
            assert eventually(lambda: pool_stats(conn).size >= 3, timeout=10.0)
            load.sql = "select 1"
            undo = events.wait_for("recovery.action", "recovery", timeout=30.0, step="undo")
        finally:
            load.stop.set()
            load.join(15)
        assert undo["ok"] and "min_size back to 1" in undo["detail"]
        assert pool_stats(conn).min_size == 1
        assert eventually(lambda: pool_stats(conn).size == 1, timeout=15.0)
        status = conn.ask("recovery", RecoveryQuery(), timeout=2.0)
        assert isinstance(status, RecoveryStatus)
        assert [(a.step, a.ok) for a in status.actions][:2] == [("act", True), ("undo", True)]


@pytest.fixture
def health_node(start_node: Callable[..., RunningNode]) -> RunningNode:
    """Health, breaker and a rule that sheds load from a failing dependency for 1 s."""
    return start_node({"children": [
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.2}},
        {"name": "breaker", "actor": "breaker"},
        {"name": "recovery", "actor": "recovery", "settings": {"sync_interval": 0.5, "rules": {
            "shed-payments": {
                "when": {"alert": {"component": "payments", "metric": "error_rate",
                                   "severity": "critical"}},
                "do": {"breaker": {"resource": "payments-api", "seconds": 1.0}},
                "cooldown": 30.0}}}},
    ]})


def test_a_critical_alert_opens_a_breaker_for_a_time(health_node: RunningNode) -> None:
    """An agent reports a 90 % error rate (critical over 0.25): the rule forces the breaker
    of ``payments-api`` open, resets it 1 s later, and health shows the action."""
    log = health_node.event_log()
    try:
        with health_node.connect() as conn:
            conn.ask("health", Report("payments", "error_rate", 0.9), timeout=2.0)
            opened = log.wait_for("breaker.state", "breaker", resource="payments-api", state="open")
            assert opened["forced"] and "shed-payments" in opened["reason"]
            act = log.wait_for("recovery.action", "recovery", step="act")
            assert act["ok"] and act["evidence"]["severity"] == "critical"
            closed = log.wait_for("breaker.state", "breaker", resource="payments-api", state="closed")
            assert closed["at"] - opened["at"] >= 1.0  # both Unix times from the breaker
            undo = log.wait_for("recovery.action", "recovery", step="undo")
            assert undo["ok"] and "reset" in undo["detail"]

            def shown() -> Any:
                view = conn.ask("health", StatusQuery("recovery"), timeout=2.0)
                return "shed-payments: undo" in str(view.details.get("last_action"))
            assert eventually(shown, timeout=10.0)
    finally:
        log.close()


@pytest.fixture
def crash_node(start_node: Callable[..., RunningNode]) -> RunningNode:
    """chaos crashing twice within 60 s restarts echo (once: no repeat, long cooldown)."""
    return start_node({"max_restarts": 20, "max_seconds": 60, "children": [
        {"name": "echo", "actor": "echo"},
        {"name": "chaos", "actor": "chaos"},
        {"name": "recovery", "actor": "recovery", "settings": {"rules": {
            "kick-echo": {"when": {"restarts": {"actor": "chaos", "more_than": 1, "within": 60}},
                          "do": {"restart": {"actor": "echo"}}, "cooldown": 600}}}},
    ]})


def crash(conn: Any) -> None:
    with pytest.raises(ActorCrashed):
        conn.ask("chaos", Fail("kill"), timeout=5.0)


def test_too_many_restarts_trigger_an_action_once_even_across_a_restart(crash_node: RunningNode) -> None:
    """Two crashes of chaos in 60 s restart echo. The recovery actor, killed, comes back with
    its state: a third crash finds the action in force and nothing is done again."""
    log = crash_node.event_log()
    try:
        with crash_node.connect() as conn:
            for _ in range(2):
                crash(conn)
                assert eventually(lambda: conn.status("chaos").actors[0].state == "running")
            act = log.wait_for("recovery.action", "recovery", step="act")
            assert act["ok"] and act["evidence"]["count"] == 2
            assert conn.ask("echo", Ping(1), timeout=5.0).incarnation == 2
            pid = conn.status("recovery").actors[0].pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            log.wait_for("lifecycle.started", "recovery", incarnation=2)
            crash(conn)
            assert eventually(lambda: recovery(conn).events >= 1 and recovery(conn).in_flight == 0,
                              timeout=10.0)
            stats = recovery(conn)
            assert (stats.actions, stats.engaged) == (1, 1)
            assert conn.ask("echo", Ping(2), timeout=5.0).incarnation == 2
            assert log.names("lifecycle.exited").count("echo") == 1
    finally:
        log.close()


def test_a_failing_action_is_retried_and_the_actor_lives_on(start_node: Callable[..., RunningNode]) -> None:
    """A rule whose action cannot succeed (restart an actor that does not exist): each
    attempt is published with ok false and a growing attempt number, and the recovery
    actor keeps serving in its first incarnation."""
    node = start_node({"children": [
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.2}},
        {"name": "recovery", "actor": "recovery", "settings": {
            "retry_initial": 0.2, "retry_max": 0.4, "rules": {
                "kick-ghost": {"when": {"alert": {"component": "payments"}},
                               "do": {"restart": {"actor": "ghost"}}}}}},
    ]})
    log = node.event_log()
    try:
        with node.connect() as conn:
            conn.ask("health", Report("payments", "error_rate", 0.9), timeout=2.0)
            for attempt in (1, 2, 3):
                failed = log.wait_for("recovery.action", "recovery", attempt=attempt)
                assert not failed["ok"] and "ghost" in failed["detail"], failed
            stats = recovery(conn)
            assert stats.failed >= 3 and stats.engaged == 0
            assert conn.status("recovery").actors[0].incarnation == 1
        assert "recovery rule 'kick-ghost' on payments/error_rate: act restart actor=ghost failed" \
            in node.log_text()
    finally:
        log.close()
