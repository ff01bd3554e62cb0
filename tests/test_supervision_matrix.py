"""OTP's supervision rules as a table, checked against the pure policy and on real nodes.

Every expected outcome here is written out by hand from Erlang/OTP: the module
documentation of ``supervisor`` (lib/stdlib/src/supervisor.erl) and the cases of
lib/stdlib/test/supervisor_SUITE.erl. Nothing is computed with this project's own
``restart_plan`` or ``should_restart``, so a wrong rule cannot agree with itself; each row
names the OTP sentence it follows.

The layout of the table: one supervisor with six children in start order
``p1`` (permanent), ``t1`` (temporary), ``f`` (the child that exits; its restart type is
the row's), ``p2`` (permanent), ``tr2`` (transient), ``t2`` (temporary), so every row
has bystanders of every restart type before and after the failed child.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any, NamedTuple

import pytest

from actors.examples import Count, Fail
from actors.testing import ManualClock
from messages import ActorCrashed, HandlerError
from supervisor import ExitDecision, RestartIntensity, decide_exit
from tests.nodes import EventLog, RunningNode, eventually

# -- OTP's sentences (supervisor.erl, module documentation) ------------------------------
PERMANENT = "A permanent child process is always restarted."
TRANSIENT = ("A transient child process is restarted only if it terminates abnormally, that "
             "is, with another exit reason than normal, shutdown, or {shutdown,Term}.")
TEMPORARY = ("A temporary child process is never restarted (even when the supervisor's "
             "restart strategy is rest_for_one or one_for_all and a sibling's death causes "
             "the temporary process to be terminated).")
ONE_FOR_ONE = ("one_for_one - If one child process terminates and is to be restarted, only "
               "that child process is affected.")
ONE_FOR_ALL = ("one_for_all - If one child process terminates and is to be restarted, all "
               "other child processes are terminated and then all child processes are "
               "restarted.")
REST_FOR_ONE = ("rest_for_one - If one child process terminates and is to be restarted, the "
                "'rest' of the child processes (that is, the child processes after the "
                "terminated child process in the start order) are terminated. Then the "
                "terminated child process and all child processes after it are restarted.")
ORDER = ("When the supervisor is started, the child processes are started in order from "
         "left to right according to this list. When the supervisor is going to terminate, "
         "it first terminates its child processes in reversed start order, from right to "
         "left.")
INTENSITY = ("If more than MaxR restarts occur within MaxT seconds, the supervisor terminates "
             "all child processes and then itself. The termination reason for the supervisor "
             "itself in that case will be shutdown.")

# -- exit reasons, as OTP sorts them -------------------------------------------------------
NORMAL_EXITS = ["normal", "shutdown"]
"""OTP's normal, shutdown (this project has no {shutdown,Term}: causes are strings)."""
ABNORMAL_EXITS = ["exit code 3", "killed by SIGKILL", "killed by SIGSEGV", "restart_directive",
                  "hung: no heartbeat for 0.31 s (expiry 0.3 s)", "start_error", "node_gone"]
"""Anything else: "another exit reason than normal, shutdown, or {shutdown,Term}"."""

# -- the table -------------------------------------------------------------------------------
ALL_BUT_F_REVERSED = ("t2", "tr2", "p2", "t1", "p1")
AFTER_F_REVERSED = ("t2", "tr2", "p2")


class Row(NamedTuple):
    strategy: str
    restart: str        # f's restart type
    exit: str           # "normal" or "abnormal"
    how: str            # how f exits on a real node (actors.examples.Fail.how)
    terminate: tuple[str, ...]  # bystanders stopped, in this order
    start: tuple[str, ...]      # children started again, in this order
    rules: tuple[str, ...]


ROWS = [
    Row("one_for_one", "permanent", "normal", "stop", (), ("f",), (PERMANENT, ONE_FOR_ONE)),
    Row("one_for_one", "permanent", "abnormal", "kill", (), ("f",), (PERMANENT, ONE_FOR_ONE)),
    Row("one_for_one", "transient", "normal", "stop", (), (), (TRANSIENT,)),
    Row("one_for_one", "transient", "abnormal", "exit", (), ("f",), (TRANSIENT, ONE_FOR_ONE)),
    Row("one_for_one", "temporary", "normal", "stop", (), (), (TEMPORARY,)),
    Row("one_for_one", "temporary", "abnormal", "kill", (), (), (TEMPORARY,)),

    Row("one_for_all", "permanent", "normal", "stop", ALL_BUT_F_REVERSED,
        ("p1", "f", "p2", "tr2"), (PERMANENT, ONE_FOR_ALL, TEMPORARY, ORDER)),
    Row("one_for_all", "permanent", "abnormal", "raise", ALL_BUT_F_REVERSED,
        ("p1", "f", "p2", "tr2"), (PERMANENT, ONE_FOR_ALL, TEMPORARY, ORDER)),
    Row("one_for_all", "transient", "normal", "stop", (), (), (TRANSIENT,)),
    Row("one_for_all", "transient", "abnormal", "segfault", ALL_BUT_F_REVERSED,
        ("p1", "f", "p2", "tr2"), (TRANSIENT, ONE_FOR_ALL, TEMPORARY, ORDER)),
    Row("one_for_all", "temporary", "normal", "stop", (), (), (TEMPORARY,)),
    Row("one_for_all", "temporary", "abnormal", "raise", (), (), (TEMPORARY,)),

    Row("rest_for_one", "permanent", "normal", "stop", AFTER_F_REVERSED,
        ("f", "p2", "tr2"), (PERMANENT, REST_FOR_ONE, TEMPORARY, ORDER)),
    Row("rest_for_one", "permanent", "abnormal", "hang", AFTER_F_REVERSED,
        ("f", "p2", "tr2"), (PERMANENT, REST_FOR_ONE, TEMPORARY, ORDER)),
    Row("rest_for_one", "transient", "normal", "stop", (), (), (TRANSIENT,)),
    Row("rest_for_one", "transient", "abnormal", "kill", AFTER_F_REVERSED,
        ("f", "p2", "tr2"), (TRANSIENT, REST_FOR_ONE, TEMPORARY, ORDER)),
    Row("rest_for_one", "temporary", "normal", "stop", (), (), (TEMPORARY,)),
    Row("rest_for_one", "temporary", "abnormal", "hang", (), (), (TEMPORARY,)),
]


def _id(row: Row) -> str:
    return f"{row.strategy}-{row.restart}-{row.exit}-{row.how}"


def _layout(restart: str) -> list[tuple[str, str]]:
    return [("p1", "permanent"), ("t1", "temporary"), ("f", restart), ("p2", "permanent"),
            ("tr2", "transient"), ("t2", "temporary")]


def _expected(row: Row) -> dict[str, str]:
    """Each child's fate in the row: restarted, down (stopped for good) or kept."""
    return {name: "restarted" if name in row.start else
            "down" if name in row.terminate or name == "f" else "kept"
            for name, _ in _layout(row.restart)}


# -- the table against the pure policy ------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_policy_follows_the_table(row: Row) -> None:
    """decide_exit gives each row's terminations and restarts, in order, for every exit
    reason of the row's kind (normal: normal, shutdown; abnormal: everything else)."""
    clock = ManualClock()
    expected = ExitDecision("restart" if row.start else "keep_down", row.terminate, row.start)
    for cause in NORMAL_EXITS if row.exit == "normal" else ABNORMAL_EXITS:
        decision = decide_exit(row.strategy, _layout(row.restart), "f", cause,
                               RestartIntensity(50, 10.0), clock())
        assert decision == expected, f"cause {cause!r}; rules: {row.rules}"


@pytest.mark.parametrize("restart", ["permanent", "transient", "temporary"])
def test_stop_directive_keeps_any_child_down(restart: str) -> None:
    """Beyond OTP: a child that stopped on its own ``on_error: stop`` directive stays down,
    whatever its restart type, and its siblings are left alone."""
    decision = decide_exit("one_for_all", _layout(restart), "f", "stop_directive",
                           RestartIntensity(50, 10.0), 0.0)
    assert decision == ExitDecision("keep_down")


def test_escalate_directive_gives_up_without_counting() -> None:
    """Beyond OTP: ``on_error: escalate`` fails the supervisor at once (no intensity spent),
    with a cause its parent counts as abnormal."""
    intensity = RestartIntensity(50, 10.0)
    decision = decide_exit("one_for_one", _layout("permanent"), "f", "escalate_directive",
                           intensity, 0.0)
    assert decision.action == "give_up" and decision.exit_cause.startswith("escalated: ")
    assert intensity.count(0.0) == 0


def test_intensity_exceeded_gives_up_with_reason_shutdown() -> None:
    """INTENSITY: with MaxR 1, the second restart within MaxT gives up with reason shutdown."""
    clock = ManualClock()
    intensity = RestartIntensity(1, 60.0)
    first = decide_exit("one_for_one", [("w", "permanent")], "w", "killed by SIGKILL",
                        intensity, clock())
    second = decide_exit("one_for_one", [("w", "permanent")], "w", "killed by SIGKILL",
                         intensity, clock.advance(1.0))
    assert first == ExitDecision("restart", (), ("w",))
    assert second.action == "give_up" and second.exit_cause == "shutdown"


def test_a_keep_down_exit_spends_no_intensity() -> None:
    """OTP counts restarts, not exits: exits that restart nothing never exhaust MaxR."""
    intensity = RestartIntensity(0, 60.0)
    for _ in range(3):
        assert decide_exit("one_for_one", [("w", "transient")], "w", "normal", intensity,
                           0.0) == ExitDecision("keep_down")


# Nested supervisors: a supervisor that gave up exits with reason ``shutdown`` (INTENSITY),
# so its parent treats it by its restart type like any child that exits with shutdown.
# Layout under the parent: e (permanent worker), g (the supervisor that gave up), z (permanent).
NESTED = [
    # parent strategy, g's restart, terminated, started, rules
    ("one_for_one", "permanent", (), ("g",), (INTENSITY, PERMANENT, ONE_FOR_ONE)),
    ("one_for_one", "transient", (), (), (INTENSITY, TRANSIENT)),
    ("one_for_one", "temporary", (), (), (INTENSITY, TEMPORARY)),
    ("one_for_all", "permanent", ("z", "e"), ("e", "g", "z"), (INTENSITY, PERMANENT, ONE_FOR_ALL)),
    ("one_for_all", "transient", (), (), (INTENSITY, TRANSIENT)),
    ("rest_for_one", "permanent", ("z",), ("g", "z"), (INTENSITY, PERMANENT, REST_FOR_ONE)),
]


@pytest.mark.parametrize(("strategy", "restart", "terminate", "start", "rules"), NESTED)
def test_parent_policy_after_a_sub_supervisor_gave_up(strategy, restart, terminate, start, rules):
    """The parent's decision when sub-supervisor g exits with shutdown after giving up."""
    decision = decide_exit(strategy, [("e", "permanent"), ("g", restart), ("z", "permanent")],
                           "g", "shutdown", RestartIntensity(10, 60.0), 0.0)
    assert decision == ExitDecision("restart" if start else "keep_down", terminate, start), rules


def test_multiple_restarts_policy() -> None:
    """supervisor_SUITE multiple_restarts: intensity 1, period 1; a child killed four times,
    2.1 s apart, is restarted every time (never more than 1 restart within 1 s)."""
    clock = ManualClock()
    intensity = RestartIntensity(1, 1.0)
    for _ in range(4):
        assert decide_exit("one_for_one", [("child1", "permanent")], "child1", "killed by SIGKILL",
                           intensity, clock()).action == "restart"
        clock.advance(2.1)


def test_one_for_one_intensity_policy() -> None:
    """supervisor_SUITE one_for_one: intensity 2 in 3600 s; the third abnormal exit within
    the period makes the supervisor give up."""
    clock = ManualClock()
    intensity = RestartIntensity(2, 3600.0)
    children = [("child1", "permanent"), ("child2", "permanent")]
    actions = [decide_exit("one_for_one", children, name, "exit code 1", intensity,
                           clock.advance(1.0)).action for name in ("child1", "child2", "child2")]
    assert actions == ["restart", "restart", "give_up"]


# -- the table on real nodes ----------------------------------------------------------------
FAST = {"heartbeat_interval": 0.1, "max_busy": 0.4, "shutdown": 1.0, "warm_standby": False}
RAISES = {"stop": None, "raise": HandlerError}


def _chaos(name: str, restart: str = "permanent", **extra: Any) -> dict[str, Any]:
    return {"name": name, "actor": "chaos", "restart": restart, **FAST, **extra}


def _rows(conn: Any) -> dict[str, Any]:
    return {r.name: r for r in conn.status().actors}


def _tree_states(tree: dict[str, Any]) -> dict[str, str]:
    out = {tree["name"]: tree["state"]}
    for child in tree.get("children", []):
        out.update(_tree_states(child))
    return out


def _make_exit(conn: Any, name: str, how: str) -> None:
    """Make child ``name`` exit by ``how``; its in-flight ask fails as it should."""
    error = RAISES.get(how, ActorCrashed)
    if error is None:
        assert conn.ask(name, Fail(how=how), timeout=5.0) == "stopping"
    else:
        with pytest.raises(error, match=repr(name)):
            conn.ask(name, Fail(how=how), timeout=5.0)


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_table_on_a_real_node(start_node, row: Row) -> None:
    """f exits on a real node: each child restarted (new pid, incarnation 2), stopped for
    good (no pid, shown stopped in status and tree) or untouched, as the row says; the
    bystanders stop in the row's order and the restarted children start in its order."""
    node: RunningNode = start_node({"strategy": row.strategy, "max_restarts": 50, "max_seconds": 10,
                                    "children": [_chaos(n, t, on_error="restart")
                                                 for n, t in _layout(row.restart)]})
    expected = _expected(row)
    events = node.event_log()
    try:
        with node.connect() as conn:
            before = _rows(conn)
            _make_exit(conn, "f", row.how)
            for name in row.start:
                events.wait_for("lifecycle.started", name, incarnation=2)
            if not row.start:
                events.wait_for("lifecycle.exited", "f", incarnation=1)
            after = _rows(conn)
            tree = _tree_states(json.loads(node.cli("tree", "--json").stdout))
            for name, fate in expected.items():
                row_after = after[name]
                if fate == "restarted":
                    assert (row_after.state, row_after.incarnation, row_after.restarts) == \
                        ("running", 2, 1), name
                    assert row_after.pid != before[name].pid
                    assert conn.ask_reply(name, Count(), timeout=5.0).incarnation == 2
                elif fate == "down":
                    assert (row_after.state, row_after.pid, row_after.incarnation) == \
                        ("stopped", None, 1), name
                    assert tree[name] == "stopped"
                else:
                    assert (row_after.state, row_after.pid, row_after.incarnation) == \
                        ("running", before[name].pid, 1), name
            assert events.names("lifecycle.exited") == ["f", *row.terminate]
            assert events.names("lifecycle.started") == list(row.start)
    finally:
        events.close()
    assert node.proc.poll() is None


@pytest.mark.parametrize(("strategy", "restart", "terminate", "start", "rules"), NESTED)
def test_sub_supervisor_gives_up_on_a_real_node(start_node, strategy, restart, terminate, start,
                                                rules):
    """Sub-supervisor g (max_restarts 1) gives up when its worker w is killed twice; the
    parent restarts g only if g is permanent, and treats e and z as its strategy says."""
    node = start_node({"strategy": strategy, "max_restarts": 10, "max_seconds": 60, "children": [
        _chaos("e"),
        {"name": "g", "restart": restart, "max_restarts": 1, "max_seconds": 60,
         "children": [_chaos("w")]},
        _chaos("z")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            before = _rows(conn)
            _make_exit(conn, "w", "kill")
            events.wait_for("lifecycle.started", "w", incarnation=2)
            _make_exit(conn, "w", "kill")
            events.wait_for("lifecycle.gave_up", "g")
            if "g" in start:
                events.wait_for("lifecycle.started", "w", incarnation=3)
            for name in [n for n in start if n != "g"]:
                events.wait_for("lifecycle.started", name, incarnation=2)
            if not start:
                events.wait_for("lifecycle.exited", "w", incarnation=2)
            after = _rows(conn)
            tree = _tree_states(json.loads(node.cli("tree", "--json").stdout))
    finally:
        events.close()
    assert node.proc.poll() is None, rules
    if "g" in start:
        assert (after["w"].state, after["w"].incarnation) == ("running", 3)
        assert tree["g"] == "running"
    else:
        assert (after["w"].state, after["w"].pid) == ("stopped", None)
        assert tree["g"] == "stopped"
    for name in ("e", "z"):
        if name in start:
            assert (after[name].incarnation, after[name].state) == (2, "running")
        else:
            assert (after[name].pid, after[name].incarnation) == (before[name].pid, 1)
    assert events.names("lifecycle.exited") == ["w", "w", *terminate]


# -- supervisor_SUITE cases that apply -----------------------------------------------------
@pytest.mark.parametrize("strategy", ["one_for_all", "rest_for_one"])
def test_temporary_bystander(start_node, strategy: str) -> None:
    """supervisor_SUITE temporary_bystander: child1 permanent, child2 temporary, intensity
    2 in 300 s; child1 exits normally: child1 is restarted, child2 is terminated and never
    comes back, and the supervisor lives on (TEMPORARY). A second exit of child1 leaves
    child2 down too: a temporary child that ended is no longer the supervisor's."""
    node = start_node({"strategy": strategy, "max_restarts": 2, "max_seconds": 300,
                       "children": [_chaos("child1"), _chaos("child2", "temporary")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            _make_exit(conn, "child1", "stop")
            events.wait_for("lifecycle.started", "child1", incarnation=2)
            _make_exit(conn, "child1", "kill")
            events.wait_for("lifecycle.started", "child1", incarnation=3)
            rows = _rows(conn)
    finally:
        events.close()
    assert node.proc.poll() is None
    assert (rows["child1"].state, rows["child1"].incarnation) == ("running", 3)
    assert (rows["child2"].state, rows["child2"].pid, rows["child2"].incarnation) == \
        ("stopped", None, 1)
    assert events.names("lifecycle.started") == ["child1", "child1"]


def test_transient_normal(start_node) -> None:
    """supervisor_SUITE transient_normal: a transient child that exits normally is not
    restarted; the supervisor keeps it, with no process (TRANSIENT)."""
    node = start_node({"children": [_chaos("child1", "transient")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            _make_exit(conn, "child1", "stop")
            events.wait_for("lifecycle.exited", "child1", incarnation=1, cause="normal")
            row = conn.status("child1").actors[0]
    finally:
        events.close()
    assert (row.state, row.pid, row.incarnation, row.restarts) == ("stopped", None, 1, 0)
    assert node.proc.poll() is None


def _kill_and_wait(conn: Any, events: EventLog, name: str, restarted: list[str]) -> None:
    """SIGKILL ``name`` from outside and wait until each of ``restarted`` started again."""
    rows = _rows(conn)
    want = {n: rows[n].incarnation + 1 for n in restarted}
    os.kill(rows[name].pid, signal.SIGKILL)
    for n, incarnation in want.items():
        events.wait_for("lifecycle.started", n, incarnation=incarnation)


def test_one_for_all(start_node) -> None:
    """supervisor_SUITE one_for_all: intensity 2; killing child1 terminates child2 and
    restarts both (no old pid left); the third restart within the period is one too many:
    the supervisor exits (ONE_FOR_ALL, INTENSITY) — at the root, the node exits 1."""
    node = start_node({"strategy": "one_for_all", "max_restarts": 2, "max_seconds": 3600,
                       "children": [_chaos("child1"), _chaos("child2")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            first = {n: r.pid for n, r in _rows(conn).items()}
            _kill_and_wait(conn, events, "child1", ["child1", "child2"])
            second = {n: r.pid for n, r in _rows(conn).items()}
            assert not set(first.values()) & set(second.values())
            _kill_and_wait(conn, events, "child1", ["child1", "child2"])
            os.kill(_rows(conn)["child1"].pid, signal.SIGKILL)
            assert node.wait_exit(20) == 1
    finally:
        events.close()
    assert "reached_max_restart_intensity" in node.log_text()


def test_rest_for_one(start_node) -> None:
    """supervisor_SUITE rest_for_one: intensity 2; killing child2 takes child3 down with it
    and leaves child1; killing child3 restarts only child3; then killing child2 exceeds
    the intensity and the supervisor exits (REST_FOR_ONE, INTENSITY)."""
    node = start_node({"strategy": "rest_for_one", "max_restarts": 2, "max_seconds": 3600,
                       "children": [_chaos("child1"), _chaos("child2"), _chaos("child3")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            child1 = _rows(conn)["child1"].pid
            _kill_and_wait(conn, events, "child2", ["child2", "child3"])
            _kill_and_wait(conn, events, "child3", ["child3"])
            rows = _rows(conn)
            assert [rows[n].incarnation for n in ("child1", "child2", "child3")] == [1, 2, 3]
            assert rows["child1"].pid == child1
            os.kill(rows["child2"].pid, signal.SIGKILL)
            assert node.wait_exit(20) == 1
    finally:
        events.close()


def test_multiple_restarts_with_fractional_seconds(start_node) -> None:
    """supervisor_SUITE multiple_restarts on a real node, with seconds as floats (this
    project's max_seconds): intensity 1 in 0.3 s; four kills, each more than 0.3 s after
    the last restart, never exhaust it."""
    node = start_node({"max_restarts": 1, "max_seconds": 0.3, "children": [_chaos("child1")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            for _ in range(4):
                _kill_and_wait(conn, events, "child1", ["child1"])
                time.sleep(0.4)  # the premise of the case: time passes beyond the period
            assert _rows(conn)["child1"].incarnation == 5
    finally:
        events.close()
    assert node.proc.poll() is None


def test_tree(start_node) -> None:
    """supervisor_SUITE tree: a one_for_all top (intensity 4) over two one_for_one
    supervisors. Killing child4 restarts only child4; killing child3, whose restarts then
    fail (incarnations 2 to 5), makes supchild2 give up, and the top restarts both
    subtrees: every worker comes back with a new pid (ONE_FOR_ONE, INTENSITY, ONE_FOR_ALL)."""
    node = start_node({"strategy": "one_for_all", "max_restarts": 4, "max_seconds": 3600,
                       "children": [
                           {"name": "supchild1", "max_restarts": 4, "max_seconds": 3600,
                            "children": [_chaos("child1"), _chaos("child2")]},
                           {"name": "supchild2", "max_restarts": 4, "max_seconds": 3600,
                            "children": [_chaos("child3", settings={"fail_on_start_from": 2,
                                                                    "fail_on_start_until": 5}),
                                         _chaos("child4")]}]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            before = {n: r.pid for n, r in _rows(conn).items()}
            _kill_and_wait(conn, events, "child4", ["child4"])
            middle = {n: r.pid for n, r in _rows(conn).items()}
            assert [n for n in before if middle[n] != before[n]] == ["child4"]
            os.kill(middle["child3"], signal.SIGKILL)
            events.wait_for("lifecycle.gave_up", "supchild2")
            for name, incarnation in (("child1", 2), ("child2", 2), ("child3", 6), ("child4", 3)):
                events.wait_for("lifecycle.started", name, incarnation=incarnation)
            after = _rows(conn)
    finally:
        events.close()
    assert all(after[n].state == "running" and after[n].pid not in middle.values() for n in after)
    assert node.proc.poll() is None
    assert events.names("lifecycle.gave_up") == ["supchild2"]


@pytest.mark.parametrize(("strategy", "exited", "started"), [
    ("rest_for_one", ["ch10", "ch5", "ch2"], ["ch10", "ch2", "ch5"]),
    ("one_for_all", ["ch10", "ch5", "ch2", "ch3", "ch7"], ["ch7", "ch3", "ch10", "ch2", "ch5"]),
])
def test_order_of_children(start_node, strategy: str, exited: list[str], started: list[str]) -> None:
    """supervisor_SUITE order_of_children (ids not in alphabetical order): children start
    in list order, a restart terminates in reverse start order and starts in start order,
    and the node's stop terminates in reverse start order (ORDER, and the strategy's rule)."""
    names = ["ch7", "ch3", "ch10", "ch2", "ch5"]
    node = start_node({"strategy": strategy, "max_restarts": 5, "max_seconds": 60,
                       "children": [_chaos(n) for n in names]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            _kill_and_wait(conn, events, "ch10", started)
    finally:
        events.close()
    assert events.names("lifecycle.exited") == exited
    assert events.names("lifecycle.started") == started
    assert node.cli("stop").returncode == 0
    assert node.wait_exit(20) == 0
    log = node.log_text().splitlines()
    boot = [ln.split("'")[1] for ln in log if "started actor '" in ln and "incarnation 1 " in ln]
    stop = [ln.split("'")[1] for ln in log if "exited: shutdown" in ln]
    assert boot == names
    assert stop[-len(names):] == list(reversed(names))


def test_events_lists_children_terminated_and_not_restarted(start_node) -> None:
    """A temporary bystander's end is visible: a lifecycle.exited with cause shutdown, and
    no lifecycle.restarting for it (only for the children that do start again)."""
    node = start_node({"strategy": "one_for_all", "max_restarts": 5, "max_seconds": 60,
                       "children": [_chaos("a"), _chaos("t", "temporary"), _chaos("c")]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            _kill_and_wait(conn, events, "a", ["a", "c"])
            assert eventually(lambda: conn.status("t").actors[0].state == "stopped", timeout=5)
    finally:
        events.close()
    assert events.wait_for("lifecycle.exited", "t", incarnation=1)["cause"] == "shutdown"
    assert events.names("lifecycle.restarting") == ["a", "c"]
