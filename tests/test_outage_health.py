"""Issue 5: a pool whose database stops goes CRITICAL, and recovers when the database returns,
with one alert opened and one resolved (the database is "stopped" by a TCP proxy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from actors.health import ComponentHealth, HealthMonitor, StatusQuery
from actors.pool import Execute
from actors.testing import TcpProxy
from messages import RemoteError
from tests.nodes import EventLog, RunningNode, eventually

HEALTH = "actors.health:HealthActor"
POOL = "actors.pool:PoolActor"


def pool_settings(proxy: TcpProxy) -> dict[str, Any]:
    """A PostgreSQL pool through the proxy that notices an outage and a recovery quickly."""
    return {"backend": "postgres", "host": "127.0.0.1", "port": proxy.port, "dbname": "test",
            "user": "postgres", "min_size": 2, "max_size": 2, "health_check_interval": 0.2,
            "check_after_idle": 0.2, "connect_timeout": 1.0, "acquire_timeout": 1.0,
            "backoff_initial": 0.05, "backoff_max": 0.3}


class AlertLog(EventLog):
    """Every ``health.alert`` event of the node, collected by a thread from a confirmed reader."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint, "health.alert")

    def of(self, component: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("component") == component]

    def wait_for_match(self, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        found: dict[str, Any] | None = eventually(
            lambda: next((e for e in list(self.events) if match(e)), None), timeout=timeout)
        if found is None:
            raise AssertionError(f"no matching health.alert within {timeout} s; saw {self.events}")
        return found


def pool_health(conn: Any) -> ComponentHealth | None:
    try:
        view = conn.ask("health", StatusQuery("pool"), timeout=2.0)
    except RemoteError:
        return None
    assert isinstance(view, ComponentHealth)
    return view


def sample_rounds(conn: Any) -> int:
    return int(conn.ask("health", "actor.statistics", {}, timeout=2.0)["sample_rounds"])


@pytest.mark.postgres
def test_stopped_database_makes_the_pool_critical_then_good_with_one_alert(
        start_node: Callable[..., RunningNode], pg_proxy: TcpProxy) -> None:
    node = start_node({
        "children": [
            {"name": "pool", "actor": POOL, "settings": pool_settings(pg_proxy)},
            {"name": "health", "actor": HEALTH, "settings": {"sample_interval": 0.2,
                                                              "probe_timeout": 0.5}},
        ],
    })
    with node.connect() as conn:
        def healthy() -> ComponentHealth | None:
            view = pool_health(conn)
            ok = view is not None and view.status in ("GOOD", "EXCELLENT") and \
                "availability" in view.metrics and view.metrics["availability"].value == 1.0
            return view if ok else None

        assert eventually(healthy, timeout=15.0), f"pool never healthy: {pool_health(conn)}"
        alerts = AlertLog(conn.about(timeout=2.0).events)
        try:
            pg_proxy.stop()
            stopped_at = time.monotonic()
            critical = eventually(lambda: (v := pool_health(conn)) and v.status == "CRITICAL" and v,
                                  timeout=10.0)
            assert critical, f"pool not CRITICAL with its database stopped: {pool_health(conn)}"
            assert critical.metrics["availability"].value == 0.0
            opened = alerts.wait_for_match(lambda e: e["component"] == "pool" and e["event"] == "opened",
                                     timeout=5.0)
            assert opened["metric"] == "availability", opened
            # Hold the outage for a few more sampling rounds: the open alert must stay open
            # (no flapping between the pool's own figure and the process's uptime).
            rounds = sample_rounds(conn)
            assert eventually(lambda: sample_rounds(conn) >= rounds + 4, timeout=10.0)
            view = pool_health(conn)
            assert view is not None and view.status == "CRITICAL", view
            assert [e["event"] for e in alerts.of("pool")] in (["opened"], ["opened", "escalated"]), \
                alerts.of("pool")

            pg_proxy.start()
            good = eventually(lambda: (v := pool_health(conn)) and v.status in ("GOOD", "EXCELLENT")
                              and v, timeout=10.0)
            assert good, f"pool did not recover after the database returned: {pool_health(conn)}"
            resolved = alerts.wait_for_match(lambda e: e["id"] == opened["id"] and e["event"] == "resolved",
                                       timeout=5.0)
            assert resolved["resolved"]
            rounds = sample_rounds(conn)
            assert eventually(lambda: sample_rounds(conn) >= rounds + 3, timeout=10.0)
            events = alerts.of("pool")
            assert sum(e["event"] == "opened" for e in events) == 1, events
            assert sum(e["event"] == "resolved" for e in events) == 1, events
            assert {e["id"] for e in events} == {opened["id"]}, events
            assert time.monotonic() - stopped_at < 30
            assert conn.ask("pool", Execute("select 1"), timeout=5.0).rows == [[1]]
        finally:
            alerts.close()


def test_reported_availability_is_not_overwritten_by_uptime() -> None:
    """A live process reporting 0 availability of its own stays at 0 through ticks: one alert,
    resolved once the component reports it serves again (unit test of the fix, fake clock)."""
    now = [1000.0]
    mon = HealthMonitor(clock=lambda: now[0], availability_window=60.0)
    mon.set_live("pool", True, incarnation=1)
    mon.report("pool", "response_time", 0.01)
    events = []
    for step in range(10):
        now[0] += 0.2
        events += mon.report("pool", "availability", 0.0 if step < 5 else 1.0)
        events += mon.tick()  # uptime says 1.0: it must not resolve the pool's own 0.0
        if step == 4:
            assert mon.component("pool").status == "CRITICAL"
            assert mon.component("pool").metrics["availability"].value == 0.0
    alerts = [(b["event"], b["metric"]) for t, b in events if t == "health.alert"]
    assert alerts == [("opened", "availability"), ("resolved", "availability")]
    assert mon.component("pool").status == "EXCELLENT"


def test_uptime_still_caps_a_reported_availability() -> None:
    """A component down for half the window reports 1.0 itself: availability stays the uptime share."""
    now = [1000.0]
    mon = HealthMonitor(clock=lambda: now[0], availability_window=60.0)
    mon.set_live("pool", True, incarnation=1)
    now[0] += 10.0
    mon.set_live("pool", False, cause="killed", incarnation=1)
    now[0] += 10.0
    mon.set_live("pool", True, incarnation=2)
    mon.report("pool", "availability", 1.0)
    assert mon.component("pool").metrics["availability"].value == pytest.approx(0.5)
