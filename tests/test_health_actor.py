"""The health actor's handlers and feeds, driven directly (no node): fakes stand in for it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import psutil
import pytest

from actors.health import (
    EXIT_UNHEALTHY,
    Ack,
    AlertsQuery,
    ComponentHealth,
    Configure,
    HealthActor,
    HealthMonitor,
    HealthSettings,
    NodeHealth,
    Report,
    ReportBatch,
    StatusQuery,
    UnknownComponent,
    format_health,
    probe_failures,
    probe_passes,
    verdict,
)
from actors.health._feed import LifecycleFeed, Sampler
from messages import (
    ActorExited,
    ActorStarted,
    ActorStatus,
    InvalidBody,
    StatusReply,
    from_wire,
    pack_value,
    to_wire,
    unpack_value,
)


class Published:
    """Collects what the actor publishes."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def __call__(self, topic: str, body: Any) -> None:
        self.events.append((topic, body))


@attrs.define
class FakeContext:
    """The parts of ActorContext the health actor uses, with publish captured."""

    name: str
    incarnation: int
    settings: HealthSettings
    node_endpoint: str
    publish: Published


@pytest.fixture
def actor() -> Iterator[tuple[HealthActor, Published]]:
    published = Published()
    settings = HealthSettings(lifecycle=False, sample_interval=0.0)
    context = FakeContext("health", 1, settings, "inproc://none", published)
    health = HealthActor(context)  # type: ignore[arg-type]
    health.on_start()
    yield health, published
    health.on_stop()


def test_report_status_alert_ack_roundtrip(actor: tuple[HealthActor, Published]) -> None:
    """A bad response time reported by message shows in status, alerts and published events."""
    health, published = actor
    assert health.on_report(Report("db", "response_time", 2.5)).count == 1
    view = health.on_status(StatusQuery("db"))
    assert isinstance(view, ComponentHealth)
    assert view.status == "CRITICAL"
    (alert,) = health.on_alerts(AlertsQuery(open_only=True)).alerts
    assert (alert.component, alert.metric, alert.severity, alert.threshold) == ("db", "response_time",
                                                                              "critical", 2.0)
    assert health.on_ack(Ack(alert.id)).acknowledged
    topics = [(t, b.get("event") or b.get("status")) for t, b in published.events]
    assert topics == [("health.alert", "opened"), ("health.status", "CRITICAL"),
                      ("health.alert", "acknowledged")]


def test_replies_survive_the_wire(actor: tuple[HealthActor, Published]) -> None:
    """Status and alert replies encode to msgpack and decode back equal (what a client receives)."""
    health, _ = actor
    health.on_report(Report("db", "error_rate", 0.5))
    for reply in (health.on_status(StatusQuery()), health.on_alerts(AlertsQuery())):
        data = pack_value(to_wire(reply))
        assert from_wire(type(reply), unpack_value(data)) == reply


def test_batch_and_node_rollup(actor: tuple[HealthActor, Published]) -> None:
    """A batch is applied at once; status without a component is the node rollup."""
    health, _ = actor
    batch = ReportBatch([Report("a", "cpu", 10.0), Report("b", "memory", 100.0)])
    assert health.on_report_batch(batch).count == 2
    node = health.on_status(StatusQuery())
    assert isinstance(node, NodeHealth)
    assert [c.component for c in node.components] == ["a", "b"]
    assert node.status == "EXCELLENT"


def test_bad_report_is_an_error_and_counted(actor: tuple[HealthActor, Published]) -> None:
    """An unknown metric raises InvalidBody (an error reply), counts as rejected, changes nothing."""
    health, published = actor
    with pytest.raises(InvalidBody, match="metric: expected one of"):
        health.on_report(Report("db", "disk", 1.0))
    stats = health.statistics()
    assert (stats.reports, stats.rejected, stats.components) == (0, 1, 0)
    assert published.events == []
    with pytest.raises(UnknownComponent):
        health.on_status(StatusQuery("db"))


def test_configure_by_message(actor: tuple[HealthActor, Published]) -> None:
    """health.configure changes a threshold and replies with what is now in force."""
    health, _ = actor
    info = health.on_configure(Configure("cpu", warning=10.0))
    assert (info.metric, info.component, info.warning, info.critical) == ("cpu", None, 10.0, 95.0)
    health.on_report(Report("web", "cpu", 20.0))
    view = health.on_status(StatusQuery("web"))
    assert isinstance(view, ComponentHealth)
    assert view.status == "WARNING"


def test_lifecycle_feed_turns_events_into_liveness() -> None:
    """started → live; exited with a cause → FAILED and an alert."""
    monitor = HealthMonitor()
    emitted: list[Any] = []
    feed = LifecycleFeed(monitor, lambda: pytest.fail("not subscribed here"), emitted.extend,
                         threading.Event())
    feed.handle(ActorStarted("echo", 1, pid=42))
    assert monitor.component("echo").live
    feed.handle(ActorExited("echo", 1, "killed by SIGKILL", 42))
    view = monitor.component("echo")
    assert (view.status, view.live, view.cause) == ("FAILED", False, "killed by SIGKILL")
    assert any(b.get("metric") == "liveness" and b["event"] == "opened" for _, b in emitted)
    assert feed.received == 2


@attrs.define
class FakeNode:
    """Answers node.status with fixed rows and actor.statistics with a dict (or fails)."""

    rows: list[ActorStatus]
    failing: set[str] = attrs.field(factory=set)
    stats: dict[str, Any] = attrs.field(factory=lambda: {"pings": 3})

    def status(self, timeout: float | None = None) -> StatusReply:
        return StatusReply(self.rows)

    def ask(self, target: str, tag: str, body: Any, timeout: float | None = None) -> Any:
        if target in self.failing:
            raise TimeoutError(f"no reply from {target!r}")
        return self.stats


def row(name: str, handled: int, errors: int, state: str = "running", incarnation: int = 1,
        expected: int = 0) -> ActorStatus:
    return ActorStatus(name, state, os.getpid(), incarnation, 10.0, handled, errors, 0, 2, "ipc://x",
                       "root", expected_errors=expected)


def test_sampler_measures_process_counters_and_probes() -> None:
    """Sampling reads memory/CPU of the pid, throughput and error rate from counters, probes readiness."""
    t = [0.0]
    monitor = HealthMonitor()
    node = FakeNode([row("echo", 0, 0), row("stuck", 0, 0)], failing={"stuck"})
    sampler = Sampler(monitor, node, lambda events: None, threading.Event(), interval=1.0,
                      probe_timeout=0.1, clock=lambda: t[0])
    sampler.sample_once()
    assert "cpu" not in monitor.component("echo").metrics  # not watched long enough yet
    t[0] = 2.0
    node.rows = [row("echo", 90, 10), row("stuck", 0, 0)]
    sampler.sample_once()
    echo = monitor.component("echo")
    assert echo.metrics["throughput"].value == pytest.approx(45.0)
    assert echo.metrics["error_rate"].value == pytest.approx(0.1)  # 10 of 100 messages failed
    assert echo.metrics["memory"].value > 1.0
    assert "cpu" in echo.metrics and "response_time" in echo.metrics
    assert (echo.details, echo.restarts, echo.ready) == ({"pings": 3}, 2, True)
    stuck = monitor.component("stuck")
    assert (stuck.ready, stuck.status) == (False, "WARNING")


def test_probe_passes_and_table() -> None:
    """Readiness fails for a live but unready component; liveness fails only for a down one."""
    monitor = HealthMonitor()
    monitor.set_live("a", True)
    monitor.set_live("b", True)
    monitor.set_ready("b", False, "probe timed out")
    node = monitor.node()
    assert probe_passes(node, "live") and not probe_passes(node, "ready")
    monitor.set_live("b", False, cause="exit code 3")
    assert not probe_passes(monitor.node(), "live")
    monitor.set_live("b", False, cause="shutdown", on_purpose=True)
    assert probe_passes(monitor.node(), "live")
    table = format_health(monitor.node())
    assert table.splitlines()[1].startswith("a ") and "FAILED" in table and EXIT_UNHEALTHY == 4


def test_readiness_rule_status_floor_and_stopped_children() -> None:
    """Readiness: live, ready and at min_status or better; a child stopped on purpose is left
    out and named in the verdict; liveness ignores status."""
    monitor = HealthMonitor()
    monitor.set_live("a", True)
    monitor.set_live("pool", True)
    monitor.report("pool", "availability", 0.0)  # as issue 22 saw it: down, yet answering fast
    monitor.report("pool", "response_time", 0.001)
    node = monitor.node()
    assert {c.component: c.status for c in node.components}["pool"] == "CRITICAL"
    assert probe_failures(node, "ready") == ["pool: CRITICAL, worse than WARNING"]
    assert probe_passes(node, "ready", min_status="CRITICAL") and probe_passes(node, "live")
    assert verdict(node, "ready").startswith("ready: NO (every component live, ready and WARNING "
                                             "or better) — pool: CRITICAL")
    monitor.report("pool", "availability", 1.0)
    monitor.set_live("a", False, cause="shutdown", on_purpose=True)
    node = monitor.node()
    assert probe_passes(node, "ready")
    assert verdict(node, "ready").endswith("; not counted, stopped on purpose: a")


def test_statistics_fields_named_like_metrics_are_metrics() -> None:
    """A pool whose statistics say error_rate 0.5 goes CRITICAL, then recovers when it says 0."""
    monitor = HealthMonitor()
    node = FakeNode([row("pool", 0, 0)], stats={"error_rate": 0.5, "response_time": 0.01, "size": 4})
    sampler = Sampler(monitor, node, lambda events: None, threading.Event(), interval=1.0,
                      probe_timeout=0.1)
    sampler.sample_once()
    pool = monitor.component("pool")
    assert pool.status == "CRITICAL"
    assert pool.metrics["response_time"].value == 0.01
    node.stats = {"error_rate": 0.0, "response_time": 0.01, "size": 4}
    sampler.sample_once()
    assert monitor.component("pool").status in ("EXCELLENT", "GOOD")
    assert [(a.metric, a.resolved) for a in monitor.alerts()] == [("error_rate", True)]
    node.stats = {"error_rate": 7.0}  # unusable: ignored with a warning, the probe RTT is used
    sampler.sample_once()
    assert monitor.component("pool").metrics["error_rate"].value == 0.0


def test_expected_errors_are_answers_and_small_samples_wait() -> None:
    """Errors the actor lists as expected are not faults: an SQL typo answered beside one
    success judges nothing (2 messages < min_rate_messages) and, once the sample is full,
    the rate is 0; the actor's faults still count, over the whole sample."""
    t = [0.0]
    monitor = HealthMonitor()
    node = FakeNode([row("pool", 0, 0)])
    sampler = Sampler(monitor, node, lambda events: None, threading.Event(), interval=1.0,
                      probe_timeout=0.1, clock=lambda: t[0])
    sampler.sample_once()
    t[0] = 1.0
    node.rows = [row("pool", 1, 0, expected=1)]
    sampler.sample_once()
    pool = monitor.component("pool")
    assert "error_rate" not in pool.metrics and pool.status == "EXCELLENT"
    t[0] = 2.0
    node.rows = [row("pool", 10, 0, expected=10)]
    sampler.sample_once()
    assert monitor.component("pool").metrics["error_rate"].value == 0.0  # 0 faults in 20
    t[0] = 3.0
    node.rows = [row("pool", 18, 2, expected=10)]  # 8 handled, 2 faults: 2 of 10
    sampler.sample_once()
    assert monitor.component("pool").metrics["error_rate"].value == pytest.approx(0.2)


def test_statistics_rate_counts_replace_the_node_counters() -> None:
    """Statistics with cumulative rate_faults/rate_calls give the error rate from their growth
    (the pool counts leased operations there), in place of the node's counters and of a
    stated error_rate figure; counts that start again from zero are a new start."""
    t = [0.0]
    monitor = HealthMonitor()
    node = FakeNode([row("pool", 0, 0)], stats={"rate_calls": 100, "rate_faults": 50,
                                                "error_rate": 1.0})
    sampler = Sampler(monitor, node, lambda events: None, threading.Event(), interval=1.0,
                      probe_timeout=0.1, clock=lambda: t[0])
    sampler.sample_once()  # first sight: the counts so far are the baseline
    t[0] = 1.0
    node.rows = [row("pool", 5, 5)]  # the node's counters say 50 %: not read
    node.stats = {"rate_calls": 104, "rate_faults": 51, "error_rate": 1.0}
    sampler.sample_once()
    assert "error_rate" not in monitor.component("pool").metrics  # 4 calls < 10
    t[0] = 2.0
    node.stats = {"rate_calls": 110, "rate_faults": 51, "error_rate": 1.0}
    sampler.sample_once()
    assert monitor.component("pool").metrics["error_rate"].value == pytest.approx(0.1)
    t[0] = 3.0
    node.stats = {"rate_calls": 10, "rate_faults": 5}  # counted again from zero
    sampler.sample_once()
    assert monitor.component("pool").metrics["error_rate"].value == pytest.approx(0.5)


def test_sampler_repairs_missed_lifecycle_events_but_not_from_stale_rows() -> None:
    """A stale 'running' row does not revive a crashed incarnation; a newer one does; 'stopped' downs it."""
    monitor = HealthMonitor()
    node = FakeNode([row("echo", 0, 0, incarnation=1)])
    sampler = Sampler(monitor, node, lambda events: None, threading.Event(), interval=1.0,
                      probe_timeout=0.1)
    monitor.set_live("echo", True, incarnation=1)
    monitor.set_live("echo", False, incarnation=1, cause="killed by SIGKILL")
    sampler.sample_once()  # the row was read before the crash: stale, ignored
    assert not monitor.component("echo").live
    node.rows = [row("echo", 0, 0, incarnation=2)]  # the "started" event was missed
    sampler.sample_once()
    assert monitor.component("echo").live and monitor.component("echo").incarnation == 2
    node.rows = [row("echo", 0, 0, state="stopped", incarnation=2)]  # the exit event was missed
    sampler.sample_once()
    view = monitor.component("echo")
    assert not view.live and "no exit event" in view.cause


def test_cpu_is_a_windowed_mean() -> None:
    """CPU % is CPU seconds over wall seconds across the window; a start-up burst ages out."""
    from actors.health._feed import _Watched
    w = _Watched(psutil.Process())
    assert w.cpu_percent(0.0, 10.0) is None
    assert w.cpu_percent(0.5, 10.5) is None  # under CPU_MIN_SPAN
    assert w.cpu_percent(1.0, 11.0) == pytest.approx(100.0)  # busy start
    for t in range(2, 12):
        value = w.cpu_percent(float(t), 11.0)  # idle from then on
    assert value == pytest.approx(0.0)
