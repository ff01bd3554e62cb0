"""The recovery rule engine on a manual clock: when it acts, undoes, retries, holds back.

Expected times come from the rules as documented in ``actors/recovery/_rules.py`` and
``_track.py``: an action acts at once when its condition appears; two actions of a rule
on a subject are at least ``cooldown`` apart and an action stays in force at least
``cooldown`` before its undo; a failed attempt is retried after ``retry_initial`` seconds,
doubling up to ``retry_max``; a breaker forced ``for seconds`` is reset ``seconds`` after
it was forced; at most ``max_per_hour`` actions per rule in any hour.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from actors.recovery import (
    BreakerAction,
    Do,
    Exit,
    OnAlert,
    OnBottleneck,
    OnBreaker,
    OnRestarts,
    Outcome,
    PublishAction,
    ResizePoolAction,
    RestartAction,
    Rule,
    RuleEngine,
    Task,
    When,
    default_rules,
    from_event,
)
from actors.recovery._observe import alert, bottleneck, breaker
from actors.testing import ManualClock

OP = "pool:pool.execute"
SOURCES = {"bottleneck": "profiler", "alert": "health", "breaker": "breaker"}


def jump(ratio: float = 4.0, *, active: bool = True, op: str = OP) -> Any:
    """A profiler bottleneck of kind ``jump`` on ``op`` with this ratio."""
    return bottleneck({"op": op, "kind": "jump", "summary": f"{op} jumped",
                       "evidence": {"ratio": ratio, "value": 0.04, "baseline": 0.01}}, active)


def grow_rule(**options: Any) -> Rule:
    return Rule(when=When(bottleneck=OnBottleneck(op=OP, kind="jump", min_ratio=3.0)),
                do=Do(resize_pool=ResizePoolAction(pool="pool", grow=2)), **options)


def run(engine: RuleEngine, clock: ManualClock, ok: bool = True,
        memo: dict[str, Any] | None = None) -> list[Task]:
    """Take the due attempts and report each as done (``ok``) at the current time."""
    tasks = engine.due(clock())
    for task in tasks:
        engine.finished(task, Outcome(ok, "done" if ok else "boom", memo or {}), clock(), 0.0)
    return tasks


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_a_bottleneck_acts_at_once_with_its_evidence(clock: ManualClock) -> None:
    """The condition appearing is acted on in the same step, carrying the profiler's evidence."""
    engine = RuleEngine({"grow": grow_rule()})
    engine.observe(jump(4.0), clock())
    [task] = engine.due(clock())
    assert (task.rule, task.key, task.step, task.kind) == ("grow", OP, "act", "resize_pool")
    assert task.evidence["ratio"] == 4.0 and task.evidence["summary"] == f"{OP} jumped"
    assert engine.due(clock()) == []  # in flight: not issued twice


def test_a_jump_below_min_ratio_does_not_match(clock: ManualClock) -> None:
    """min_ratio 3: a jump of 2.5x is not the rule's condition."""
    engine = RuleEngine({"grow": grow_rule()})
    engine.observe(jump(2.5), clock())
    assert engine.due(clock()) == []


def test_undo_waits_out_the_cooldown_after_the_act(clock: ManualClock) -> None:
    """Cleared 1 s after the act, cooldown 10 s: the undo comes 10 s after the act, not before."""
    engine = RuleEngine({"grow": grow_rule(cooldown=10.0)})
    engine.observe(jump(), clock())
    run(engine, clock, memo={"min_size": 1})
    clock.advance(1.0)
    engine.observe(jump(active=False), clock())
    assert engine.due(clock()) == []
    clock.advance(8.9)
    assert engine.due(clock()) == []
    clock.advance(0.1)
    [undo] = engine.due(clock())
    assert undo.step == "undo" and undo.memo == {"min_size": 1}


def test_repeat_acts_each_cooldown_and_keeps_the_first_memo(clock: ManualClock) -> None:
    """repeat: a condition that holds is acted on again every cooldown; the undo restores the
    state from before the first act."""
    engine = RuleEngine({"grow": grow_rule(cooldown=5.0, repeat=True)})
    engine.observe(jump(), clock())
    run(engine, clock, memo={"min_size": 1})
    clock.advance(4.9)
    assert engine.due(clock()) == []
    clock.advance(0.1)
    [again] = run(engine, clock, memo={"min_size": 3})
    assert again.step == "act"
    engine.observe(jump(active=False), clock())
    clock.advance(5.0)
    [undo] = engine.due(clock())
    assert undo.step == "undo" and undo.memo == {"min_size": 1}


def test_without_repeat_a_holding_condition_is_acted_on_once(clock: ManualClock) -> None:
    """repeat false: one act for as long as the condition holds."""
    engine = RuleEngine({"grow": grow_rule(cooldown=5.0)})
    engine.observe(jump(), clock())
    run(engine, clock)
    for _ in range(10):
        clock.advance(5.0)
        assert engine.due(clock()) == []


def test_a_flapping_condition_is_acted_on_once_per_cooldown(clock: ManualClock) -> None:
    """Raised and cleared every second for 60 s, cooldown 10 s: at most 6 acts and 6 undos."""
    engine = RuleEngine({"grow": grow_rule(cooldown=10.0)})
    steps = []
    for second in range(60):
        engine.observe(jump(active=second % 2 == 0), clock())
        steps += [t.step for t in run(engine, clock)]
        clock.advance(1.0)
    assert 1 <= steps.count("act") <= 6 and steps.count("undo") <= 6
    assert all(a != b for a, b in itertools.pairwise(steps))  # act, undo, act, ...


def test_a_failed_attempt_is_retried_with_doubling_backoff(clock: ManualClock) -> None:
    """retry_initial 1, retry_max 4: retries 1, 2, 4, 4 s after each failure; a success resets."""
    engine = RuleEngine({"grow": grow_rule()}, retry_initial=1.0, retry_max=4.0)
    engine.observe(jump(), clock())
    assert len(run(engine, clock, ok=False)) == 1
    for wait in (1.0, 2.0, 4.0, 4.0):
        clock.advance(wait - 0.01)
        assert engine.due(clock()) == []
        clock.advance(0.01)
        [task] = run(engine, clock, ok=False)
    assert task.attempt == 5 and engine.failed == 5
    clock.advance(4.0)
    [task] = run(engine, clock, ok=True)
    assert engine.tracks[("grow", OP)].engaged
    assert engine.tracks[("grow", OP)].attempts == 0


def test_a_failed_act_is_dropped_when_the_condition_clears(clock: ManualClock) -> None:
    """Nothing is in force after a failed act: once the condition clears there is nothing to do."""
    engine = RuleEngine({"grow": grow_rule()})
    engine.observe(jump(), clock())
    run(engine, clock, ok=False)
    engine.observe(jump(active=False), clock())
    clock.advance(60.0)
    assert engine.due(clock()) == []


def test_a_breaker_forced_for_seconds_is_reset_after_them(clock: ManualClock) -> None:
    """seconds 3: the reset comes 3 s after forcing even though the alert is still open."""
    rule = Rule(when=When(alert=OnAlert(component="payments", metric="error_rate")),
                do=Do(breaker=BreakerAction(resource="payments-api", seconds=3.0)), cooldown=1.0)
    engine = RuleEngine({"shed": rule})
    engine.observe(alert({"component": "payments", "metric": "error_rate", "severity": "critical",
                          "resolved": False}), clock())
    [act] = run(engine, clock)
    assert act.action == BreakerAction(resource="payments-api", seconds=3.0)
    clock.advance(2.9)
    assert engine.due(clock()) == []
    clock.advance(0.1)
    [undo] = run(engine, clock)
    assert undo.step == "undo"
    [again] = engine.due(clock())  # still open, cooldown passed: forced again
    assert again.step == "act"


def test_alert_severity_is_at_least_the_rules(clock: ManualClock) -> None:
    """A rule on critical ignores a warning and acts when the alert escalates to critical."""
    rule = Rule(when=When(alert=OnAlert(component="pool", severity="critical")),
                do=Do(publish=PublishAction(text="pool is critical")))
    engine = RuleEngine({"tell": rule})
    body = {"component": "pool", "metric": "availability", "severity": "warning", "resolved": False}
    engine.observe(alert(body), clock())
    assert engine.due(clock()) == []
    engine.observe(alert({**body, "severity": "critical"}), clock())
    [task] = engine.due(clock())
    assert task.key == "pool/availability"


def test_placeholders_take_the_condition_fields(clock: ManualClock) -> None:
    """restart {component}: the alerting component is the one restarted."""
    rule = Rule(when=When(alert=OnAlert(component="*", metric="readiness")),
                do=Do(restart=RestartAction(actor="{component}")))
    engine = RuleEngine({"kick": rule})
    engine.observe(alert({"component": "echo", "metric": "readiness", "severity": "warning"}), clock())
    [task] = engine.due(clock())
    assert task.action == RestartAction(actor="echo")


def test_a_restart_has_no_undo(clock: ManualClock) -> None:
    """When the condition of a restart rule clears there is nothing to undo; it is released."""
    rule = Rule(when=When(breaker=OnBreaker(resource="db")),
                do=Do(restart=RestartAction(actor="pool")), cooldown=1.0)
    engine = RuleEngine({"kick": rule})
    engine.observe(breaker({"resource": "db", "state": "open"}), clock())
    run(engine, clock)
    engine.observe(breaker({"resource": "db", "state": "closed"}), clock())
    clock.advance(5.0)
    assert engine.due(clock()) == [] and engine.engaged() == 0


def test_restarts_count_unplanned_exits_within_the_window(clock: ManualClock) -> None:
    """more_than 2 within 10 s: the third crash in 10 s acts; shutdowns and recycling don't count;
    the condition clears once the crashes age out of the window."""
    rule = Rule(when=When(restarts=OnRestarts(actor="chaos", more_than=2, within=10.0)),
                do=Do(publish=PublishAction(topic="ops.page")), cooldown=1.0)
    engine = RuleEngine({"page": rule})
    for cause in ("killed by SIGKILL", "shutdown", "memory: 300 MiB > 256", "exit code 3"):
        engine.observe(Exit("chaos", cause), clock())
        clock.advance(1.0)
    assert engine.due(clock()) == []
    engine.observe(Exit("chaos", "hung: no heartbeat"), clock())
    [act] = run(engine, clock)
    assert act.evidence["count"] == 3
    clock.advance(9.5)  # the first crash is now 13.5 s old
    [undo] = engine.due(clock())
    assert undo.step == "undo"


def test_a_reread_repairs_missed_events(clock: ManualClock) -> None:
    """A re-read lists a bottleneck whose event was lost: acted on. A later re-read without it
    clears it, unless an event newer than the question raised it again."""
    engine = RuleEngine({"grow": grow_rule(cooldown=1.0)})
    engine.reread("bottleneck", [jump()], clock(), clock())
    [act] = run(engine, clock)
    assert act.step == "act"
    asked = clock()
    clock.advance(0.5)
    engine.observe(jump(), clock())  # an event after the question was asked
    engine.reread("bottleneck", [], asked, clock())
    clock.advance(1.0)
    assert engine.due(clock()) == []
    engine.reread("bottleneck", [], clock(), clock())
    [undo] = engine.due(clock())
    assert undo.step == "undo"


def test_the_hourly_cap_holds_back_further_acts(clock: ManualClock) -> None:
    """max_per_hour 2 over different subjects: the third act waits until the first is an hour old."""
    engine = RuleEngine({"grow": Rule(when=When(bottleneck=OnBottleneck(op="*")),
                                      do=Do(publish=PublishAction()), max_per_hour=2)})
    for op in ("a", "b", "c"):
        engine.observe(jump(op=op), clock())
        run(engine, clock)
        clock.advance(1.0)
    assert sorted(k for k, t in engine.tracks.items() if t.engaged) == [("grow", "a"), ("grow", "b")]
    assert engine.throttled == 1
    clock.advance(3600.0 - 2.0)
    [task] = engine.due(clock())
    assert task.key == "c"


def test_state_survives_a_restart_without_repeating(clock: ManualClock) -> None:
    """A restored engine knows what is in force: no second act while the condition holds,
    and the undo restores the memo from before the restart."""
    engine = RuleEngine({"grow": grow_rule(cooldown=5.0)})
    engine.observe(jump(), clock())
    run(engine, clock, memo={"min_size": 1})
    data = engine.snapshot()
    fresh = RuleEngine({"grow": grow_rule(cooldown=5.0)})
    assert fresh.restore(data) == 1
    clock.advance(60.0)
    fresh.reread("bottleneck", [jump()], clock(), clock())
    assert fresh.due(clock()) == []
    clock.advance(1.0)
    fresh.reread("bottleneck", [], clock(), clock())
    [undo] = fresh.due(clock())
    assert undo.memo == {"min_size": 1} and len(fresh.history) == 1


def test_an_attempt_in_flight_at_a_crash_is_not_repeated(clock: ManualClock) -> None:
    """Saved while in flight, then restored: counted as done (at most once), not issued again."""
    rule = Rule(when=When(breaker=OnBreaker(resource="db")), do=Do(restart=RestartAction(actor="pool")))
    engine = RuleEngine({"kick": rule})
    engine.observe(breaker({"resource": "db", "state": "open"}), clock())
    assert len(engine.due(clock())) == 1
    fresh = RuleEngine({"kick": rule})
    fresh.restore(engine.snapshot())
    fresh.observe(breaker({"resource": "db", "state": "open"}), clock())
    assert fresh.due(clock()) == []


def test_a_snapshot_of_a_removed_rule_is_dropped(clock: ManualClock) -> None:
    """Rules changed between incarnations: tracks of rules that are gone are not restored."""
    engine = RuleEngine({"grow": grow_rule()})
    engine.observe(jump(), clock())
    run(engine, clock)
    assert RuleEngine({}).restore(engine.snapshot()) == 0


def test_events_of_other_sources_are_ignored() -> None:
    """Only the configured profiler's, health's and breaker's events are facts."""
    body = {"name": "profiler2", "op": OP, "kind": "jump", "state": "raised", "evidence": {}}
    assert from_event("profiler.bottleneck", body, SOURCES) is None
    assert from_event("profiler.bottleneck", {**body, "name": "profiler"}, SOURCES) is not None
    assert from_event("lifecycle.exited", {"name": "echo", "cause": "killed by SIGKILL"},
                      SOURCES) == Exit("echo", "killed by SIGKILL")


def test_the_default_rule_grows_the_pool_on_a_3x_jump(clock: ManualClock) -> None:
    """Out of the box: pool:pool.execute jumping 3x grows pool 'pool' by 2, repeatedly, and
    shrinks back when it recovers."""
    engine = RuleEngine(default_rules())
    engine.observe(jump(3.0), clock())
    [task] = engine.due(clock())
    assert task.action == ResizePoolAction(pool="pool", grow=2)
    assert engine.rules["pool-slow-grow"].repeat and engine.rules["pool-slow-grow"].undo


def test_restart_counts_survive_a_restart(clock: ManualClock) -> None:
    """Exits counted before the recovery actor restarted still count after it."""
    rule = Rule(when=When(restarts=OnRestarts(actor="chaos", more_than=1, within=60.0)),
                do=Do(restart=RestartAction(actor="echo")), cooldown=600.0)
    engine = RuleEngine({"kick": rule})
    for _ in range(2):
        engine.observe(Exit("chaos", "killed by SIGKILL"), clock())
    assert len(run(engine, clock)) == 1
    fresh = RuleEngine({"kick": rule})
    fresh.restore(engine.snapshot())
    fresh.observe(Exit("chaos", "killed by SIGKILL"), clock())
    assert fresh.due(clock()) == [] and fresh.engaged() == 1


def test_a_bottleneck_rule_acts_once_per_op_whatever_kinds_fire(clock: ManualClock) -> None:
    """A threshold and a jump on one op are one subject: one act, and the undo waits until
    neither holds (a share, not among the rule's kinds, does not count)."""
    rule = Rule(when=When(bottleneck=OnBottleneck(op=OP, kind=["threshold", "jump"])),
                do=Do(resize_pool=ResizePoolAction()), cooldown=1.0)
    engine = RuleEngine({"grow": rule})
    engine.observe(jump(), clock())
    engine.observe(bottleneck({"op": OP, "kind": "threshold", "evidence": {}}, True), clock())
    engine.observe(bottleneck({"op": OP, "kind": "share", "evidence": {}}, True), clock())
    assert [t.key for t in run(engine, clock)] == [OP]
    clock.advance(2.0)
    engine.observe(jump(active=False), clock())
    assert engine.due(clock()) == []
    engine.observe(bottleneck({"op": OP, "kind": "threshold", "evidence": {}}, False), clock())
    [undo] = engine.due(clock())
    assert undo.step == "undo"
