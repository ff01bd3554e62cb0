"""The health actor on a real node: it feeds itself, sees faults, publishes alerts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors import EventReader
from actors.health import (
    ComponentHealth,
    NodeHealth,
    Report,
    StatusQuery,
    health_cli,
    probe_failures,
    watch_events,
)
from messages import HandlerError, RemoteError, RemoteProtocolError
from tests.nodes import RunningNode, eventually

HEALTH = "actors.health:HealthActor"


class Subscriber:
    """A reader of the node's event stream, collecting bodies by topic prefix."""

    def __init__(self, endpoint: str, prefix: str = "health.") -> None:
        self.reader = EventReader(endpoint, prefix)
        assert self.reader.confirmed, "the node did not confirm the subscription"

    def wait_for(self, match: Callable[[str, dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            event = self.reader.next(left)
            if event is not None and match(event.topic, event.body):
                return dict(event.body)
        raise AssertionError("no matching health event within the timeout")

    def close(self) -> None:
        self.reader.close()


@pytest.fixture
def health_node(start_node: Callable[..., RunningNode]) -> RunningNode:
    """A node with echo, chaos (short heartbeats) and a fast-sampling health monitor."""
    return start_node({
        "max_restarts": 50, "max_seconds": 10,
        "children": [
            {"name": "health", "actor": HEALTH, "settings": {"sample_interval": 0.2,
                                                              "probe_timeout": 0.3}},
            {"name": "echo", "actor": "echo"},
            {"name": "chaos", "actor": "chaos", "heartbeat_interval": 0.1, "max_busy": 1.0},
        ],
    })


@pytest.fixture
def events(health_node: RunningNode) -> Iterator[Subscriber]:
    with health_node.connect() as conn:
        sub = Subscriber(conn.about().events)
    yield sub
    sub.close()


def component(conn: Any, name: str) -> ComponentHealth | None:
    try:
        view = conn.ask("health", StatusQuery(name), timeout=2.0)
    except RemoteError:
        return None
    assert isinstance(view, ComponentHealth)
    return view


def test_node_feeds_health_without_user_code(health_node: RunningNode) -> None:
    """Every actor appears live and ready with memory, CPU and response time sampled."""
    with health_node.connect() as conn:
        def all_sampled() -> NodeHealth | None:
            node = conn.ask("health", StatusQuery(), timeout=2.0)
            names = {c.component: c for c in node.components}
            ok = {"echo", "chaos", "health"} <= set(names) and all(
                {"memory", "cpu", "response_time", "throughput"} <= set(names[n].metrics)
                for n in ("echo", "chaos"))
            return node if ok else None
        node = eventually(all_sampled, timeout=10.0)
        assert node is not None, "health never sampled every actor"
        echo = next(c for c in node.components if c.component == "echo")
        assert echo.live and echo.ready and echo.pid is not None
        assert 1.0 < echo.metrics["memory"].value < 1024.0
        assert node.live and node.ready and node.status != "FAILED"


def test_sigkill_is_visible_as_alert_and_status(health_node: RunningNode, events: Subscriber) -> None:
    """SIGKILL of an actor → a liveness alert on the stream, then resolved after the restart."""
    with health_node.connect() as conn:
        assert eventually(lambda: component(conn, "chaos"), timeout=10.0)
        pid = next(a.pid for a in conn.status().actors if a.name == "chaos")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        opened = events.wait_for(lambda t, b: t == "health.alert" and b.get("component") == "chaos"
                                 and b.get("metric") == "liveness" and b.get("event") == "opened")
        assert opened["severity"] == "critical"
        assert "SIGKILL" in opened["message"] or "signal" in opened["message"]
        resolved = events.wait_for(lambda t, b: t == "health.alert" and b.get("id") == opened["id"]
                                   and b.get("event") == "resolved")
        assert resolved["resolved"]
        view = eventually(lambda: (v := component(conn, "chaos")) and v.restarts >= 1 and v, timeout=5.0)
        assert view and view.live and (view.incarnation or 0) >= 2
        assert any(a.id == opened["id"] for a in conn.ask("health", "health.alerts", {}).alerts)


def test_error_rate_reported_by_agent_alerts(health_node: RunningNode, events: Subscriber) -> None:
    """An agent reporting a high error rate gets a critical alert published; bad reports are refused."""
    with health_node.connect() as conn:
        conn.ask("health", Report("payments", "error_rate", 0.5), timeout=2.0)
        alert = events.wait_for(lambda t, b: t == "health.alert" and b.get("component") == "payments")
        assert (alert["metric"], alert["severity"], alert["threshold"]) == ("error_rate", "critical", 0.25)
        with pytest.raises(RemoteProtocolError, match="metric: expected one of"):
            conn.ask("health", Report("payments", "latency", 1.0), timeout=2.0)
        with pytest.raises(RemoteError, match="NaN"):
            conn.ask("health", "health.report", {"component": "payments", "metric": "cpu",
                                                  "value": float("nan")}, timeout=2.0)
        view = component(conn, "payments")
        assert view is not None and set(view.metrics) == {"error_rate"}


@pytest.mark.parametrize("how", ["exit", "kill", "segfault", "hang"])
def test_every_process_fault_opens_a_liveness_alert(health_node: RunningNode, events: Subscriber,
                                                    how: str) -> None:
    """chaos exiting, killed, segfaulting or hanging (killed by its heartbeat) is alerted and resolved."""
    with health_node.connect() as conn:
        assert eventually(lambda: component(conn, "chaos"), timeout=10.0)
        conn.tell("chaos", "chaos.fail", {"how": how})
        opened = events.wait_for(lambda t, b: t == "health.alert" and b.get("component") == "chaos"
                                 and b.get("metric") == "liveness" and b.get("event") == "opened")
        events.wait_for(lambda t, b: t == "health.alert" and b.get("id") == opened["id"]
                        and b.get("event") == "resolved")
        if how == "hang":
            assert "hung" in opened["message"]


def test_handler_exceptions_raise_error_rate(health_node: RunningNode, events: Subscriber) -> None:
    """A handler that keeps raising (actor resumes) shows as an error_rate alert from the counters."""
    with health_node.connect() as conn:
        assert eventually(lambda: component(conn, "chaos"), timeout=10.0)
        for _ in range(20):
            with pytest.raises(HandlerError):
                conn.ask("chaos", "chaos.fail", {"how": "raise"}, timeout=2.0)
        alert = events.wait_for(lambda t, b: t == "health.alert" and b.get("component") == "chaos"
                                and b.get("metric") == "error_rate")
        assert alert["event"] == "opened" and alert["value"] > 0.25


def test_cli_probe_table_and_watch(health_node: RunningNode) -> None:
    """health_cli prints a table and exits 0 when all are ready; watch prints a published alert."""
    lines: list[str] = []
    with health_node.connect() as conn:
        # sampled and probed once: a component known only from its lifecycle event changes
        # status at its first sample (memory alone), which the watcher would print first
        assert eventually(lambda: all((v := component(conn, n)) and "response_time" in v.metrics
                                      for n in ("chaos", "echo")), timeout=10.0)
        # readiness also wants every status at WARNING or better: a start-up CPU spike may
        # make a component CRITICAL for one sample, so wait for the probe to pass
        assert eventually(lambda: health_cli(health_node.endpoint, out=lines.append) == 0,
                          timeout=10.0), lines
        assert "echo" in lines[-2] and "node:" in lines[-2] and lines[-1].startswith("ready: yes")
        got: list[str] = []
        watcher = threading.Thread(target=watch_events, args=(conn.about().events,),
                                   kwargs={"count": 1, "out": got.append, "idle_timeout": 10.0})
        watcher.start()
        time.sleep(0.3)  # the watcher thread subscribes on its own: ordering, not a result
        conn.ask("health", Report("web", "cpu", 99.0), timeout=2.0)
        watcher.join(15)
        assert got and got[0].startswith("health.") and '"web"' in got[0]
        code = health_cli(health_node.endpoint, component="web", probe="live", out=lines.append)
        assert code == 0 and "CRITICAL" in lines[-2] and lines[-1].startswith("live: yes")


def test_alerts_survive_a_health_restart(health_node: RunningNode) -> None:
    """After the health actor is SIGKILLed, its next incarnation still knows and acks the alert."""
    with health_node.connect() as conn:
        conn.ask("health", Report("web", "cpu", 99.0), timeout=2.0)
        (alert,) = conn.ask("health", "health.alerts", {"open_only": True}, timeout=2.0).alerts
        time.sleep(0.3)  # the snapshot travels to the node asynchronously
        pid = next(a.pid for a in conn.status().actors if a.name == "health")
        os.kill(pid, signal.SIGKILL)

        def restarted() -> Any:
            rows = [a for a in conn.status().actors if a.name == "health"]
            return rows and rows[0].state == "running" and rows[0].pid != pid
        assert eventually(restarted, timeout=10.0)
        alerts = conn.ask("health", "health.alerts", {}, timeout=5.0, retries=2).alerts
        assert alert.id in [a.id for a in alerts]
        acked = conn.ask("health", "health.ack", {"alert_id": alert.id}, timeout=2.0)
        assert acked.acknowledged and acked.component == "web"


def test_supervisor_giving_up_is_alerted_and_recovers(start_node: Callable[..., RunningNode]) -> None:
    """A nested supervisor past its intensity shows FAILED with an alert; its restart resolves it."""
    node = start_node({
        "max_restarts": 50, "max_seconds": 10,
        "children": [
            {"name": "health", "actor": HEALTH, "settings": {"sample_interval": 0.1}},
            {"name": "workers", "max_restarts": 0, "max_seconds": 5,
             "children": [{"name": "w1", "actor": "chaos"}]},
        ],
    })
    with node.connect() as conn:
        sub = Subscriber(conn.about().events)
        try:
            assert eventually(lambda: (v := component(conn, "w1")) and v.details, timeout=10.0)
            conn.tell("w1", "chaos.fail", {"how": "exit"})
            gave_up = sub.wait_for(lambda t, b: t == "health.alert" and b.get("component") == "workers"
                                   and b.get("metric") == "liveness")
            assert gave_up["event"] == "opened" and "gave up" in gave_up["message"]
            sub.wait_for(lambda t, b: t == "health.alert" and b.get("id") == gave_up["id"]
                         and b.get("event") == "resolved")
        finally:
            sub.close()


def test_thresholds_from_environment(start_node: Callable[..., RunningNode]) -> None:
    """AGENTCELL_HEALTH__THRESHOLDS (the node's env convention) sets the health actor's thresholds."""
    node = start_node({"children": [{"name": "health", "actor": HEALTH,
                                     "settings": {"sample_interval": 0}}]},
                      env={"AGENTCELL_HEALTH__THRESHOLDS": '{"cpu": {"warning": 5, "critical": 10}}'})
    with node.connect() as conn:
        conn.ask("health", Report("web", "cpu", 7.0), timeout=5.0)
        view = component(conn, "web")
        assert view is not None and view.status == "WARNING"
        assert (view.metrics["cpu"].warning, view.metrics["cpu"].critical) == (5.0, 10.0)


def test_expected_errors_keep_a_default_node_ready(start_node: Callable[..., RunningNode]) -> None:
    """An agent's SQL typo and an unknown breaker resource are answers, not faults: the
    default node stays ready through the sampling rounds after them (it went CRITICAL for
    5-10 s), and node.status counts them as expected_errors, apart from errors."""
    node = start_node(None, env={"AGENTCELL_HEALTH__SAMPLE_INTERVAL": "0.2"})
    with node.connect() as conn:
        assert eventually(lambda: not probe_failures(conn.ask("health", StatusQuery(), timeout=2.0),
                                                     "ready"), timeout=20.0), "never ready"
        with pytest.raises(HandlerError, match="syntax error"):
            conn.ask("pool", "pool.execute", {"sql": "selec 1"}, timeout=5.0)
        with pytest.raises(HandlerError, match="typo"):
            conn.ask("breaker", "breaker.stats", {"resource": "typo"}, timeout=5.0)
        def counted() -> dict[str, Any]:  # heartbeats bring the counters to the node
            rows = {r.name: r for r in conn.status().actors if r.expected_errors}
            return rows if {"pool", "breaker"} <= set(rows) else {}
        rows = eventually(counted, timeout=5.0)
        assert {n: (r.errors, r.expected_errors) for n, r in rows.items()} == {
            "pool": (0, 1), "breaker": (0, 1)}
        after = time.time()
        failures: list[str] = []

        def sampled_since() -> bool:
            view = conn.ask("health", StatusQuery(), timeout=2.0)
            failures.extend(probe_failures(view, "ready"))
            seen = {c.component: c.metrics["throughput"].updated for c in view.components
                    if "throughput" in c.metrics}
            return all(seen.get(n, 0.0) > after + 1.0 for n in ("pool", "breaker"))
        assert eventually(sampled_since, timeout=15.0), "health did not sample five more rounds"
        assert failures == []
    probe = node.cli("health")
    assert probe.returncode == 0, probe.stdout + probe.stderr
