"""The monitor with an injected clock: scores, alerts, hysteresis, ack, resolve, liveness."""

from __future__ import annotations

import math
from typing import Any

import pytest

from actors.health import HealthMonitor, UnknownAlert, UnknownComponent
from actors.health._settings import HealthSettings, ThresholdSetting, build_monitor
from actors.testing import ManualClock
from messages import ConfigError, InvalidBody


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mon(clock: ManualClock) -> HealthMonitor:
    return HealthMonitor(clock=clock, trend_window=10.0, availability_window=100.0)


def alerts_of(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    return [(b["event"], b["metric"], b["severity"]) for t, b in events if t == "health.alert"]


def statuses_of(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [b["status"] for t, b in events if t == "health.status"]


def test_known_inputs_give_known_score_and_status(mon: HealthMonitor) -> None:
    """Metrics at their ideals are EXCELLENT 100; one at warning makes WARNING with the weighted score."""
    mon.report("db", "response_time", 0.0)
    mon.report("db", "error_rate", 0.0)
    view = mon.component("db")
    assert (view.status, view.score) == ("EXCELLENT", 100.0)
    mon.report("db", "response_time", 0.5)  # score 70, weight 2; error_rate 100, weight 3
    view = mon.component("db")
    assert view.score == pytest.approx((70 * 2 + 100 * 3) / 5)
    assert view.status == "WARNING"
    assert view.metrics["response_time"].level == "warning"
    assert view.metrics["response_time"].warning == 0.5


def test_crossing_opens_one_alert_and_hysteresis_holds(mon: HealthMonitor, clock: ManualClock) -> None:
    """A warning crossing opens one alert; more bad samples open none; critical escalates it."""
    events = mon.report("db", "response_time", 0.7)
    assert alerts_of(events) == [("opened", "response_time", "warning")]
    assert statuses_of(events) == ["WARNING"]
    clock.now += 1
    assert alerts_of(mon.report("db", "response_time", 0.9)) == []
    assert alerts_of(mon.report("db", "response_time", 3.0)) == [("escalated", "response_time", "critical")]
    assert alerts_of(mon.report("db", "response_time", 0.8)) == []
    assert len(mon.alerts()) == 1
    alert = mon.alerts()[0]
    assert (alert.severity, alert.threshold, alert.value) == ("critical", 2.0, 3.0)


def test_condition_clears_and_resolves(mon: HealthMonitor, clock: ManualClock) -> None:
    """When the value comes back under warning the alert resolves, with time; status recovers."""
    mon.report("db", "error_rate", 0.5)
    clock.now += 5
    events = mon.report("db", "error_rate", 0.0)
    assert alerts_of(events) == [("resolved", "error_rate", "critical")]
    assert statuses_of(events) == ["EXCELLENT"]
    (alert,) = mon.alerts()
    assert alert.resolved and alert.resolved_at == clock.now
    assert mon.alerts(open_only=True) == []
    # a fresh crossing after resolution is a new condition: a new alert
    assert alerts_of(mon.report("db", "error_rate", 0.1)) == [("opened", "error_rate", "warning")]
    assert len(mon.alerts()) == 2


def test_hysteresis_band_keeps_alert_open(mon: HealthMonitor) -> None:
    """A value just under warning (within 5 % of it) keeps the alert open; clearly under resolves it."""
    mon.report("db", "cpu", 85.0)
    assert alerts_of(mon.report("db", "cpu", 79.0)) == []  # warning 80, band down to 76
    assert mon.alerts(open_only=True)
    assert alerts_of(mon.report("db", "cpu", 75.0)) == [("resolved", "cpu", "warning")]


def test_ack_marks_alert_once_and_escalation_clears_it(mon: HealthMonitor, clock: ManualClock) -> None:
    """ack sets acknowledged with time; acking twice emits nothing; escalation un-acks."""
    mon.report("db", "cpu", 85.0)
    (alert,) = mon.alerts()
    clock.now += 2
    acked, events = mon.ack(alert.id)
    assert acked.acknowledged and acked.acknowledged_at == clock.now
    assert alerts_of(events) == [("acknowledged", "cpu", "warning")]
    assert mon.ack(alert.id)[1] == []
    mon.report("db", "cpu", 99.0)
    assert not mon.alerts()[0].acknowledged
    with pytest.raises(UnknownAlert, match="no alert with id 999"):
        mon.ack(999)


@pytest.mark.parametrize(("component", "metric", "value", "match"), [
    ("db", "latency", 1.0, "metric: expected one of"),
    ("db", "cpu", math.nan, "finite"),
    ("db", "cpu", "high", "expected a number"),
    ("db", "cpu", True, "expected a number"),
    ("db", "error_rate", 2.0, "fraction"),
    ("", "cpu", 1.0, "component"),
    (7, "cpu", 1.0, "component"),
])
def test_bad_reports_are_refused_and_change_nothing(mon: HealthMonitor, component: Any, metric: Any,
                                                   value: Any, match: str) -> None:
    """Bad samples raise InvalidBody naming the problem, and state stays as it was."""
    mon.report("db", "cpu", 10.0)
    before = mon.component("db")
    with pytest.raises(InvalidBody, match=match):
        mon.report(component, metric, value)
    assert mon.component("db") == before
    assert [v.component for v in mon.node().components] == ["db"]


def test_batch_is_all_or_nothing(mon: HealthMonitor) -> None:
    """One bad sample in a batch refuses the whole batch, naming its index."""
    with pytest.raises(InvalidBody, match="report 1: metric"):
        mon.report_many([("a", "cpu", 1.0), ("b", "bogus", 1.0)])
    assert mon.node().components == []
    mon.report_many([("a", "cpu", 1.0), ("b", "memory", 10.0)])
    assert [v.component for v in mon.node().components] == ["a", "b"]


def test_unknown_component_status(mon: HealthMonitor) -> None:
    """Asking for a component never reported names it and lists known ones."""
    mon.report("db", "cpu", 1.0)
    with pytest.raises(UnknownComponent, match=r"'web'.*known: db"):
        mon.component("web")


def test_liveness_down_is_failed_with_critical_alert(mon: HealthMonitor, clock: ManualClock) -> None:
    """An exit makes the component FAILED with a critical liveness alert; a start resolves it."""
    mon.set_live("echo", True, incarnation=1, pid=123)
    clock.now += 50
    events = mon.set_live("echo", False, cause="killed by signal SIGKILL", incarnation=1)
    assert ("opened", "liveness", "critical") in alerts_of(events)
    assert statuses_of(events) == ["FAILED"]
    view = mon.component("echo")
    assert (view.live, view.ready, view.score, view.pid) == (False, False, 0.0, None)
    assert "SIGKILL" in mon.alerts(open_only=True)[0].message
    clock.now += 1
    events = mon.set_live("echo", True, incarnation=2, pid=124, restarts=1)
    assert ("resolved", "liveness", "critical") in alerts_of(events)
    view = mon.component("echo")
    assert (view.live, view.incarnation, view.restarts, view.pid) == (True, 2, 1, 124)
    # down 1 s out of 51 s observed: availability below 0.99 (warning) but above 0.9
    assert view.metrics["availability"].value == pytest.approx(50 / 51)
    assert view.metrics["availability"].level == "warning"


def test_shutdown_on_purpose_raises_no_alert(mon: HealthMonitor) -> None:
    """A deliberate stop shows FAILED but opens no liveness alert."""
    mon.set_live("echo", True)
    events = mon.set_live("echo", False, cause="shutdown", on_purpose=True)
    assert alerts_of(events) == []
    assert mon.component("echo").status == "FAILED"


def test_readiness_probe_failure_warns(mon: HealthMonitor) -> None:
    """A live component that fails its probe is not ready: WARNING and a readiness alert."""
    mon.set_live("pool", True)
    events = mon.set_ready("pool", False, "probe timed out")
    assert alerts_of(events) == [("opened", "readiness", "warning")]
    assert mon.component("pool").status == "WARNING"
    assert alerts_of(mon.set_ready("pool", True)) == [("resolved", "readiness", "warning")]
    assert mon.component("pool").status == "EXCELLENT"


def test_configure_changes_thresholds_and_rejudges(mon: HealthMonitor) -> None:
    """Tightening a component's threshold raises its alert at once; others keep the default."""
    mon.report("db", "response_time", 0.3)
    mon.report("web", "response_time", 0.3)
    info, events = mon.configure("response_time", "db", warning=0.2, critical=1.0)
    assert (info.warning, info.critical, info.weight, info.direction) == (0.2, 1.0, 2.0, "lower")
    assert alerts_of(events) == [("opened", "response_time", "warning")]
    assert mon.component("web").status == "GOOD"
    assert mon.component("web").open_alerts == 0
    with pytest.raises(InvalidBody, match="critical"):
        mon.configure("response_time", "db", critical=0.1)
    assert mon.threshold("response_time", "db").critical == 1.0
    with pytest.raises(InvalidBody, match="metric"):
        mon.configure("nope")


def test_trend_in_status(mon: HealthMonitor, clock: ManualClock) -> None:
    """Rising response times show as a degrading metric trend and a degrading score trend."""
    for i in range(8):
        mon.report("db", "response_time", 0.2 * i)
        clock.now += 1
    view = mon.component("db")
    assert view.metrics["response_time"].trend == "degrading"
    assert view.metrics["response_time"].samples == 8
    assert view.trend == "degrading"


def test_node_rollup(mon: HealthMonitor) -> None:
    """The node answer lists components, worst status (FAILED → CRITICAL) and mean score."""
    mon.report("a", "cpu", 0.0)
    mon.set_live("b", True)
    mon.set_live("b", False, cause="exit code 3")
    node = mon.node()
    assert node.status == "CRITICAL"
    assert node.score == pytest.approx(50.0)
    assert (node.live, node.ready) == (False, False)
    open_alerts = {(a.component, a.metric) for a in mon.alerts(open_only=True)}
    assert open_alerts == {("b", "liveness")}  # no availability from a single instant
    assert node.open_alerts == 1


def test_settings_layer_defaults_then_components() -> None:
    """Config thresholds change the defaults; per-component overrides apply on top; bad ones name the key."""
    settings = HealthSettings(thresholds={"cpu": ThresholdSetting(warning=50.0, critical=70.0)},
                              components={"db": {"cpu": ThresholdSetting(critical=60.0)}})
    mon = build_monitor(settings)
    assert (mon.threshold("cpu").warning, mon.threshold("cpu").critical) == (50.0, 70.0)
    assert (mon.threshold("cpu", "db").warning, mon.threshold("cpu", "db").critical) == (50.0, 60.0)
    with pytest.raises(ConfigError, match=r"thresholds\.cpu"):
        build_monitor(HealthSettings(thresholds={"cpu": ThresholdSetting(warning=99.0)}))
    with pytest.raises(ConfigError, match=r"components\.db\.disk"):
        build_monitor(HealthSettings(components={"db": {"disk": ThresholdSetting(warning=1.0)}}))
    with pytest.raises(ConfigError, match="probe_timeout"):
        build_monitor(HealthSettings(probe_timeout=0.0))


def test_snapshot_restores_alerts_ids_and_thresholds(mon: HealthMonitor, clock: ManualClock) -> None:
    """A new monitor restored from a snapshot keeps open alerts, continues ids, keeps configure."""
    mon.configure("cpu", "db", warning=50.0)
    mon.report("db", "cpu", 60.0)
    mon.report("db", "error_rate", 0.5)
    mon.report("db", "error_rate", 0.0)
    state = mon.snapshot()
    again = HealthMonitor(clock=clock)
    again.restore(state)
    assert [(a.metric, a.resolved) for a in again.alerts()] == [("cpu", False), ("error_rate", True)]
    assert again.threshold("cpu", "db").warning == 50.0
    assert alerts_of(again.report("db", "cpu", 70.0)) == []  # still the same open condition
    again.report("db", "memory", 2000.0)
    assert again.alerts()[-1].id == 3
    with pytest.raises(InvalidBody, match="next_id"):
        again.restore({"alerts": {"alerts": []}})


# -- rate metrics from counts: a minimum number of messages (resilience4j's minimumNumberOfCalls)
# resilience4j: "if minimumNumberOfCalls is 10, then at least 10 calls must be recorded,
# before the failure rate can be calculated. If only 9 calls have been evaluated the
# CircuitBreaker will not transition to open even if all 9 calls have failed."


def test_rate_not_judged_before_minimum_messages(mon: HealthMonitor, clock: ManualClock) -> None:
    """9 faults in 9 messages judge nothing; the 10th message makes the rate 9/10, critical."""
    mon.set_live("db", True)
    for _ in range(9):
        clock.advance(1.0)
        assert mon.report_rate("db", "error_rate", 1, 1) == []
    db = mon.component("db")
    assert "error_rate" not in db.metrics and db.status == "EXCELLENT"
    clock.advance(1.0)
    events = mon.report_rate("db", "error_rate", 0, 1)
    assert alerts_of(events) == [("opened", "error_rate", "critical")]  # 0.9 >= 0.25
    assert mon.component("db").metrics["error_rate"].value == pytest.approx(0.9)


def test_one_fault_in_two_messages_is_no_alert_and_sample_restarts(mon: HealthMonitor,
                                                                   clock: ManualClock) -> None:
    """The reproducer's sample: 1 fault in 2 messages is not judged; 8 more make it 1/10, a
    warning (0.05 <= 0.1 < 0.25); the next sample starts empty and clears it at 0/10."""
    mon.set_live("pool", True)
    assert mon.report_rate("pool", "error_rate", 1, 2) == []
    assert mon.component("pool").status == "EXCELLENT"
    clock.advance(1.0)
    assert alerts_of(mon.report_rate("pool", "error_rate", 0, 8)) == [
        ("opened", "error_rate", "warning")]
    clock.advance(1.0)
    assert mon.report_rate("pool", "error_rate", 0, 9) == []  # a new sample: 9 < 10
    assert mon.component("pool").metrics["error_rate"].value == pytest.approx(0.1)
    clock.advance(1.0)
    assert alerts_of(mon.report_rate("pool", "error_rate", 0, 1)) == [
        ("resolved", "error_rate", "warning")]


def test_rate_counts_older_than_window_drop_out(clock: ManualClock) -> None:
    """Faults counted more than rate_window seconds ago are not judged beside new traffic."""
    mon = HealthMonitor(clock=clock, min_rate_messages=10, rate_window=30.0)
    mon.report_rate("db", "error_rate", 5, 5)
    clock.advance(31.0)
    assert mon.report_rate("db", "error_rate", 0, 5) == []  # the 5 faults are 31 s old: gone
    clock.advance(29.0)
    mon.report_rate("db", "error_rate", 1, 5)  # 10 messages within 30 s: 1 fault
    assert mon.component("db").metrics["error_rate"].value == pytest.approx(0.1)


@pytest.mark.parametrize(("metric", "faults", "messages", "match"), [
    ("cpu", 0, 1, "rate of error_rate"),
    ("error_rate", -1, 1, "faults"),
    ("error_rate", 1.0, 2, "faults"),
    ("error_rate", 0, True, "messages"),
    ("error_rate", 3, 2, "at most messages"),
])
def test_bad_rate_counts_are_refused(mon: HealthMonitor, metric: str, faults: Any, messages: Any,
                                     match: str) -> None:
    """Counts that cannot make a rate are InvalidBody naming what is wrong; nothing changes."""
    with pytest.raises(InvalidBody, match=match):
        mon.report_rate("db", metric, faults, messages)
    with pytest.raises(UnknownComponent):
        mon.component("db")


def test_rate_settings_are_checked() -> None:
    """min_rate_messages below 1 and a rate_window that is not > 0 are config errors naming them."""
    assert build_monitor(HealthSettings(min_rate_messages=3)).min_rate_messages == 3
    with pytest.raises(ConfigError, match="min_rate_messages"):
        build_monitor(HealthSettings(min_rate_messages=0))
    with pytest.raises(ConfigError, match="rate_window"):
        build_monitor(HealthSettings(rate_window=math.nan))
