"""Supervision with real processes: crash visibility, retries, tells while down, snapshots,
escalation, start errors, shutdown order and grace, run-time commands, events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from actors.examples import Count, Fail, Ping, Save
from messages import ActorCrashed, HandlerError
from tests.nodes import ROOT, RunningNode, eventually, free_port, wait_gone

FAST = {"heartbeat_interval": 0.1, "max_busy": 0.5, "shutdown": 1.0}


def _chaos_node(start_node, **child):
    return start_node({"max_restarts": 20, "max_seconds": 10, "children": [
        {"name": "echo", "actor": "echo"}, {"name": "chaos", "actor": "chaos", **FAST, **child}]})


def _pid(conn, name: str) -> int:
    return conn.status(name).actors[0].pid


def test_inflight_ask_fails_at_once_when_actor_is_killed(start_node):
    """SIGKILL from outside while an ask is in flight: ActorCrashed long before the timeout."""
    node = _chaos_node(start_node, max_busy=None)
    with node.connect() as conn:
        pid = _pid(conn, "chaos")
        outcome: dict = {}

        def asker() -> None:
            try:
                conn.ask("chaos", Fail(how="sleep", seconds=30), timeout=20.0)
            except ActorCrashed as exc:
                outcome["error"], outcome["at"] = exc, time.monotonic()

        thread = threading.Thread(target=asker)
        thread.start()
        assert eventually(lambda: conn.status("chaos").actors[0].handled == 0, timeout=2)
        time.sleep(0.2)  # let the ask reach the handler: ordering, not synchronisation
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        thread.join(20)
    assert "error" in outcome
    assert outcome["at"] - killed_at < 2.0  # not the 20 s timeout
    assert "killed by SIGKILL" in str(outcome["error"]) and "incarnation 1" in str(outcome["error"])


def test_retries_resend_to_the_next_incarnation(start_node):
    """An idempotent ask with retries=1 survives one crash; the reply says 2 attempts."""
    node = _chaos_node(start_node)
    with node.connect() as conn:
        reply = conn.ask_reply("chaos", Fail(how="kill_once"), timeout=10.0, retries=1)
        assert (reply.value, reply.attempts, reply.incarnation) == \
            ("survived in incarnation 2", 2, 2)
        with pytest.raises(ActorCrashed, match="gave up after 2 attempts"):
            conn.ask("chaos", Fail(how="kill"), timeout=10.0, retries=1)


async def test_async_ask_fails_on_crash_and_retries(start_node):
    """The asyncio client also fails crashed asks at once and re-sends with retries."""
    import actors

    node = _chaos_node(start_node)
    async with actors.connect_async(node.endpoint) as conn:
        with pytest.raises(ActorCrashed):
            await conn.ask("chaos", Fail(how="kill"), timeout=10.0)
        assert await conn.ask("echo", Ping(n=3), timeout=5.0)
    node2 = _chaos_node(start_node)
    async with actors.connect_async(node2.endpoint) as conn:
        reply = await conn.ask_reply("chaos", Fail(how="kill_once"), timeout=10.0, retries=1)
        assert reply.attempts == 2 and reply.incarnation == 2


def test_tells_while_down_reach_the_next_incarnation(start_node):
    """Tells sent while an actor is stopped are kept and delivered when it starts again."""
    node = _chaos_node(start_node)
    with node.connect() as conn:
        assert node.cli("stop-child", "chaos").returncode == 0
        assert conn.status("chaos").actors[0].state == "stopped"
        for _ in range(5):
            conn.tell("chaos", Count())
        result = node.cli("start-child", "chaos")
        assert result.returncode == 0 and "incarnation 2" in result.stdout
        assert conn.ask("chaos", Count(), timeout=5.0) == 6


def test_tells_past_the_bound_are_counted_as_dropped(start_node):
    """Past the queue bound, a tell raises ActorOverloaded and is counted, never lost silently."""
    from messages import ActorOverloaded

    node = _chaos_node(start_node)
    with node.connect(send_hwm=20) as conn:
        node.cli("stop-child", "chaos")
        conn.resolve("chaos")
        sent = 0
        with pytest.raises(ActorOverloaded):
            for _ in range(10_000):
                conn.tell("chaos", Count())
                sent += 1
        assert sent >= 20 and conn.statistics().dropped_tells == 1


def test_snapshot_handover(start_node):
    """State saved through the node is where the next incarnation starts."""
    node = _chaos_node(start_node)
    with node.connect() as conn:
        for _ in range(3):
            conn.ask("chaos", Count(), timeout=5.0)
        assert conn.ask("chaos", Save(), timeout=5.0) == 3  # returns once the node holds it
        with pytest.raises(ActorCrashed):
            conn.ask("chaos", Fail(how="kill"), timeout=10.0)
        reply = conn.ask_reply("chaos", Count(), timeout=10.0)
    assert (reply.value, reply.incarnation) == (4, 2)


def test_escalation_two_levels_then_node_exits_nonzero(start_node):
    """A crash loop exhausts leaf, then middle, then root: the node exits 1 naming the child."""
    node = start_node({"max_restarts": 1, "max_seconds": 60, "children": [
        {"name": "mid", "max_restarts": 1, "max_seconds": 60, "children": [
            {"name": "leaf", "max_restarts": 1, "max_seconds": 60, "children": [
                {"name": "chaos", "actor": "chaos", **FAST}]}]}]})
    events = node.event_log()
    try:
        crashes = 0
        with node.connect() as conn:
            while node.proc.poll() is None and crashes < 12:
                try:
                    conn.ask("chaos", Fail(how="kill"), timeout=10.0)
                except (ActorCrashed, TimeoutError):
                    crashes += 1
                eventually(lambda: _exited_or_running(node, conn), timeout=10)
        assert node.wait_exit(20) == 1
        assert crashes == 8  # leaf 1, mid 1, leaf 1, mid 2 -> root 1, ..., root 2 -> give up
        gave_up = [e["name"] for e in events.events if e["topic"] == "lifecycle.gave_up"]
        assert gave_up[:2] == ["leaf", "leaf"] and "mid" in gave_up and gave_up[-1] == "root"
        log = node.log_text()
        assert "supervisor 'root' gave up" in log and "child 'mid'" in log
        assert "exiting with code 1" in log
    finally:
        events.close()


def _exited_or_running(node, conn) -> bool:
    if node.proc.poll() is not None:
        return True
    try:
        return conn.status("chaos", timeout=0.5).actors[0].state == "running"
    except TimeoutError:
        return node.proc.poll() is not None


def test_crash_in_on_start_at_boot_fails_the_node(tmp_path):
    """A child whose on_start raises at boot is a start_error: the node exits 1 and says why."""
    config = tmp_path / "node.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path), "children": [
        {"name": "echo", "actor": "echo"},
        {"name": "bad", "actor": "chaos", "settings": {"fail_on_start": True}}]}))
    result = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "--config", str(config),
                             "--endpoint", f"tcp://127.0.0.1:{free_port()}"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT, check=False)
    assert result.returncode == 1
    assert "ready" not in result.stdout
    assert "context=start_error" in result.stderr and "offender='bad'" in result.stderr
    assert "configured to fail in on_start" in result.stderr
    assert "actor 'echo' incarnation 1 exited: shutdown" in result.stderr  # started, then stopped


def test_crash_in_on_start_on_restart_counts_as_failure(start_node):
    """A restart whose on_start raises is a start_error and counts toward intensity."""
    node = start_node({"max_restarts": 2, "max_seconds": 60, "children": [
        {"name": "chaos", "actor": "chaos", "settings": {"fail_on_start_from": 2}, **FAST}]})
    with node.connect() as conn, pytest.raises(ActorCrashed):
        conn.ask("chaos", Fail(how="kill"), timeout=10.0)
    assert node.wait_exit(20) == 1
    log = node.log_text()
    assert log.count("context=start_error") >= 2 and "supervisor 'root' gave up" in log


def test_hung_handler_is_killed_and_restarted(start_node):
    """A handler that never returns past max_busy is killed; the ask fails as crashed."""
    node = _chaos_node(start_node)
    events = node.event_log()
    try:
        with node.connect() as conn, pytest.raises(ActorCrashed, match="hung"):
            conn.ask("chaos", Fail(how="hang"), timeout=10.0)
        exited = events.wait_for("lifecycle.exited", "chaos", incarnation=1)
        assert "max_busy" in exited["cause"]
        events.wait_for("lifecycle.started", "chaos", incarnation=2)
    finally:
        events.close()


def test_busy_handler_is_not_a_hang_when_allowed(start_node):
    """With max_busy null, a long handler is left alone while heartbeats continue."""
    node = _chaos_node(start_node, max_busy=None)
    with node.connect() as conn:
        assert conn.ask("chaos", Fail(how="sleep", seconds=1.0), timeout=5.0) == "slept"
        assert conn.status("chaos").actors[0].incarnation == 1


def test_frozen_process_misses_heartbeats_and_is_replaced(start_node):
    """A host that stops sending heartbeats (SIGSTOP) is killed and restarted."""
    node = _chaos_node(start_node)
    with node.connect() as conn:
        pid = _pid(conn, "chaos")
        os.kill(pid, signal.SIGSTOP)
        assert eventually(lambda: conn.status("chaos").actors[0].incarnation == 2 and
                          conn.status("chaos").actors[0].state == "running", timeout=10)
        assert "no heartbeat" in node.log_text()
        assert conn.ask("chaos", Count(), timeout=5.0) == 1
    wait_gone({pid})


def test_child_ignoring_shutdown_is_killed_after_grace(start_node):
    """A child busy past its grace period at shutdown is killed, and the log says so."""
    node = start_node({"children": [{"name": "chaos", "actor": "chaos", "shutdown": 0.5,
                                     "max_busy": None}]})
    with node.connect() as conn:
        conn.tell("chaos", Fail(how="sleep", seconds=30))
    children = node.descendants()
    started = time.monotonic()
    assert node.cli("stop").returncode == 0
    assert node.wait_exit(20) == 0
    assert time.monotonic() - started < 10
    assert "context=shutdown_error" in node.log_text()
    assert wait_gone(children) == set()


def test_brutal_kill_and_reverse_stop_order(start_node):
    """Children stop in reverse start order; brutal_kill skips the grace period."""
    node = start_node({"children": [
        {"name": "first", "actor": "echo"}, {"name": "second", "actor": "echo"},
        {"name": "third", "actor": "chaos", "shutdown": "brutal_kill"}]})
    node.proc.send_signal(signal.SIGTERM)
    assert node.wait_exit(20) == 0
    lines = [ln for ln in node.log_text().splitlines() if "exited: shutdown" in ln]
    assert [ln.split("'")[1] for ln in lines] == ["third", "second", "first"]
    assert "exit code -9" in lines[0]


def test_ten_children_killed_at_once(start_node):
    """Ten actors SIGKILLed together all come back with new pids and serve."""
    node = start_node({"max_restarts": 20, "max_seconds": 10, "children": [
        {"name": f"c{i}", "actor": "chaos", **FAST} for i in range(10)]})
    with node.connect() as conn:
        before = {r.name: r.pid for r in conn.status().actors}
        for pid in before.values():
            os.kill(pid, signal.SIGKILL)
        assert eventually(lambda: all(r.incarnation == 2 and r.state == "running"
                                      for r in conn.status().actors), timeout=15)
        after = {r.name: r.pid for r in conn.status().actors}
        assert all(after[n] != before[n] for n in before)
        assert [conn.ask(n, Count(), timeout=5.0) for n in sorted(before)] == [1] * 10
    wait_gone(set(before.values()))


def test_backoff_delays_the_restart(start_node):
    """With backoff, the restart waits: the child is 'restarting' first, then serves."""
    node = _chaos_node(start_node, backoff={"initial": 0.8, "jitter": 0})
    events = node.event_log()
    try:
        with node.connect() as conn:
            with pytest.raises(ActorCrashed):
                conn.ask("chaos", Fail(how="kill"), timeout=10.0)
            restarting = events.wait_for("lifecycle.restarting", "chaos")
            assert restarting["delay"] == pytest.approx(0.8)
            started = events.wait_for("lifecycle.started", "chaos", incarnation=2)
            assert started["at"] - restarting["at"] >= 0.7
    finally:
        events.close()


@pytest.mark.parametrize(("directive", "state"), [("stop", "stopped"), ("resume", "running")])
def test_on_error_directives(start_node, directive, state):
    """on_error resume keeps the incarnation; stop leaves the child down; both reply an error."""
    node = _chaos_node(start_node, on_error=directive)
    with node.connect() as conn:
        with pytest.raises(HandlerError):
            conn.ask("chaos", Fail(how="raise"), timeout=5.0)
        assert eventually(lambda: conn.status("chaos").actors[0].state == state, timeout=5)
        assert conn.status("chaos").actors[0].incarnation == 1


def test_on_error_escalate_restarts_the_supervisor(start_node):
    """on_error escalate fails the child's supervisor, whose parent restarts the subtree."""
    node = start_node({"max_restarts": 5, "max_seconds": 10, "children": [
        {"name": "team", "max_restarts": 5, "max_seconds": 10, "children": [
            {"name": "peer", "actor": "echo"},
            {"name": "chaos", "actor": "chaos", "on_error": "escalate", **FAST}]}]})
    with node.connect() as conn:
        with pytest.raises(HandlerError):
            conn.ask("chaos", Fail(how="raise"), timeout=5.0)
        assert eventually(lambda: {r.name: r.incarnation for r in conn.status().actors if
                                   r.state == "running"} == {"peer": 2, "chaos": 2}, timeout=10)
    assert "supervisor 'team' gave up" in node.log_text()


def test_runtime_commands_and_tree(start_node):
    """restart, stop-child, start-child from the shell; tree shows restart counts."""
    node = _chaos_node(start_node)
    restarted = node.cli("restart", "chaos")
    assert restarted.returncode == 0 and "incarnation 2" in restarted.stdout
    assert node.cli("stop-child", "chaos").returncode == 0
    tree = json.loads(node.cli("tree", "--json").stdout)
    chaos = next(c for c in tree["children"] if c["name"] == "chaos")
    assert chaos["state"] == "stopped" and tree["strategy"] == "one_for_one"
    assert node.cli("start-child", "chaos").returncode == 0
    missing = node.cli("restart", "nobody")
    assert missing.returncode != 0 and "no actor named 'nobody'" in missing.stderr
    with node.connect() as conn:
        assert conn.status("chaos").actors[0].incarnation == 3


def test_events_cli_prints_lifecycle_events(start_node):
    """run_node.py events prints each lifecycle event as a JSON line."""
    node = _chaos_node(start_node)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_node.py"), "events", "--count", "3",
                             "--topic", "lifecycle.", "--endpoint", node.endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stderr is not None and "events from" in proc.stderr.readline()
        with node.connect() as conn, pytest.raises(ActorCrashed):
            conn.ask("chaos", Fail(how="kill"), timeout=10.0)
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["topic"] for e in events] == ["lifecycle.exited", "lifecycle.restarting",
                                            "lifecycle.started"]
    assert all(e["name"] == "chaos" for e in events)
    assert events[0]["incarnation"] == 1 and events[2]["incarnation"] == 2


def test_warm_standby_takes_over_and_leaves_nothing_behind(start_node):
    """With warm_standby, a forked host waits; after a kill it becomes the next incarnation,
    a new standby is forked, and stopping or killing the node leaves no process behind."""
    node = _chaos_node(start_node, warm_standby=True)
    with node.connect() as conn:
        first = _pid(conn, "chaos")
        standbys = eventually(lambda: node.descendants() - {first, _pid(conn, "echo")}, timeout=5)
        with pytest.raises(ActorCrashed):
            conn.ask("chaos", Fail(how="kill"), timeout=10.0)
        reply = conn.ask_reply("chaos", Count(), timeout=10.0)
        assert (reply.value, reply.incarnation) == (1, 2)
        second = _pid(conn, "chaos")
        assert second in standbys  # the waiting host became incarnation 2
    children = node.descendants()
    assert len(children) >= 4  # forkserver, echo, chaos, and chaos's next standby
    node.proc.send_signal(signal.SIGKILL)
    node.wait_exit(10)
    assert wait_gone(children, timeout=10) == set()


def test_stopped_warm_standby_is_replaced_by_a_fresh_fork(start_node):
    """A SIGSTOPped standby would take its orders only after SIGCONT: the restart after a
    SIGKILL of the actor forks a fresh host instead (served again well inside the 30 s
    start timeout it waited out before), and the stopped standby is killed and reaped."""
    node = start_node({"children": [{"name": "chaos", "actor": "chaos", **FAST,
                                     "warm_standby": True}]})
    with node.connect() as conn:
        first = _pid(conn, "chaos")
        forkserver = psutil.Process(first).ppid()
        standbys = eventually(lambda: {c.pid for c in psutil.Process(forkserver).children()}
                              - {first}, timeout=5)
        assert len(standbys) == 1
        stopped = standbys.pop()
        node.descendants()  # remembered, so that teardown kills them whatever happens
        os.kill(stopped, signal.SIGSTOP)
        assert eventually(lambda: psutil.Process(stopped).status() == psutil.STATUS_STOPPED)
        events = node.event_log()
        try:
            os.kill(first, signal.SIGKILL)
            started = events.wait_for("lifecycle.started", "chaos", timeout=10.0, incarnation=2)
        finally:
            events.close()
        assert started["pid"] not in (first, stopped)
        assert conn.ask_reply("chaos", Count(), timeout=5.0).incarnation == 2
        assert wait_gone({stopped}) == set()
        assert "the warm standby of actor 'chaos'" in node.log_text()


def test_warm_standby_is_stopped_with_the_node(start_node):
    """A clean stop also ends the standby processes."""
    node = _chaos_node(start_node, warm_standby=True)
    assert eventually(lambda: len(node.descendants()) >= 4, timeout=5)
    children = node.descendants()
    assert node.cli("stop").returncode == 0
    assert node.wait_exit(20) == 0
    assert wait_gone(children) == set()


def _report_count(conn, op: str) -> int:
    """How many samples of ``op`` the profiler holds since start (0 before the first)."""
    try:
        report = conn.ask("profiler", "profiler.report", {"op": op, "window": "all"}, timeout=5.0)
    except HandlerError as exc:
        assert "no samples of operation" in str(exc)
        return 0
    return int(report["ops"][op]["windows"]["all"]["count"])


def test_default_node_restarts_and_stops_cleanly_keeping_the_profiler_snapshot(start_node):
    """Issue 11: `restart profiler` and `stop` on the default config: the profiler's
    snapshot, saved in on_stop, reaches its next incarnation; the stop ends every actor
    within its grace (exit code 0, nothing killed) and the log holds no ERROR."""
    node = start_node(None)
    with node.connect() as conn:
        for n in range(5):
            conn.ask("echo", Ping(n=n), timeout=5.0)
        assert eventually(lambda: _report_count(conn, "echo:echo.ping") == 5, timeout=10)
        restarted = node.cli("restart", "profiler")
        assert restarted.returncode == 0 and "incarnation 2" in restarted.stdout, restarted.stderr
        statistics = conn.ask("profiler", "actor.statistics", {}, timeout=5.0)
        assert _report_count(conn, "echo:echo.ping") == 5 and statistics["samples"] == 0
    stopped = node.cli("stop")
    assert stopped.returncode == 0
    assert node.wait_exit(20) == 0
    log = node.log_text()
    assert " ERROR " not in log and "Traceback" not in log, log[-3000:]
    assert "actor 'profiler' incarnation 2 exited: shutdown (exit code 0" in log


def test_snapshot_saved_in_on_stop_reaches_the_next_incarnation(start_node):
    """A child that saves its state in on_stop hands it over on `restart`, and a node stop
    waits for it without killing anyone (the node serves its control channel while it stops)."""
    node = start_node({"children": [{"name": "chaos", "actor": "chaos",
                                     "settings": {"save_on_stop": True}}]})
    with node.connect() as conn:
        for _ in range(3):
            conn.ask("chaos", Count(), timeout=5.0)
        restarted = node.cli("restart", "chaos")
        assert restarted.returncode == 0 and "incarnation 2" in restarted.stdout, restarted.stderr
        reply = conn.ask_reply("chaos", Count(), timeout=5.0)
        assert (reply.value, reply.incarnation) == (4, 2)
    assert node.cli("stop").returncode == 0
    assert node.wait_exit(20) == 0
    log = node.log_text()
    assert "context=shutdown_error" not in log and " ERROR " not in log, log[-3000:]
    assert "actor 'chaos' incarnation 2 exited: shutdown (exit code 0" in log


def test_node_serves_while_a_child_starts(start_node):
    """Issue 12: a child whose on_start takes 5 s does not hold the node up. While it
    starts, status answers (and shows it starting), and a SIGKILLed sibling is restarted
    and serves before the slow one is up."""
    node = start_node({"max_restarts": 10, "max_seconds": 60, "children": [
        {"name": "slow", "actor": "chaos", **FAST,
         "settings": {"start_delay": 5.0, "start_delay_from": 2}},
        {"name": "quick", "actor": "chaos", **FAST}]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            os.kill(_pid(conn, "slow"), signal.SIGKILL)
            assert eventually(lambda: conn.status("slow").actors[0].state == "starting", timeout=5)
            rows = {r.name: r for r in conn.status(timeout=1.0).actors}
            assert (rows["slow"].state, rows["slow"].incarnation) == ("starting", 2)
            os.kill(rows["quick"].pid, signal.SIGKILL)
            quick = events.wait_for("lifecycle.started", "quick", incarnation=2)
            assert conn.ask("quick", Count(), timeout=1.0) == 1
            assert conn.status("slow", timeout=1.0).actors[0].state == "starting"
            slow = events.wait_for("lifecycle.started", "slow", incarnation=2, timeout=20)
    finally:
        events.close()
    assert quick["at"] < slow["at"]


def test_restart_starts_each_child_once_the_one_before_serves(start_node):
    """OTP's order survives asynchronous starts: after quick is killed under one_for_all,
    slow (first in start order) starts again first, and quick is not begun until slow
    serves."""
    node = start_node({"strategy": "one_for_all", "max_restarts": 10, "max_seconds": 60,
                       "children": [
                           {"name": "slow", "actor": "chaos", **FAST,
                            "settings": {"start_delay": 1.0, "start_delay_from": 2}},
                           {"name": "quick", "actor": "chaos", **FAST}]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            os.kill(_pid(conn, "quick"), signal.SIGKILL)
            assert eventually(lambda: conn.status("slow").actors[0].state == "starting", timeout=5)
            quick = conn.status("quick", timeout=1.0).actors[0]
            assert (quick.state, quick.pid, quick.incarnation) == ("stopped", None, 1)
            slow = events.wait_for("lifecycle.started", "slow", incarnation=2, timeout=20)
            started = events.wait_for("lifecycle.started", "quick", incarnation=2, timeout=20)
    finally:
        events.close()
    assert slow["at"] < started["at"]
    assert events.names("lifecycle.started") == ["slow", "quick"]


def test_status_answers_while_the_node_boots(tmp_path):
    """The front door serves from the first moment: during boot, before the ready line, a
    status shows the children started so far running and the slow one starting."""
    config = tmp_path / "node.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path), "children": [
        {"name": "first", "actor": "echo"},
        {"name": "slow", "actor": "chaos", "settings": {"start_delay": 3.0}},
        {"name": "last", "actor": "echo"}]}))
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    log = tmp_path / "node.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen([sys.executable, str(ROOT / "run_node.py"), "--config", str(config),
                                 "--endpoint", endpoint], stdout=subprocess.PIPE,
                                stderr=log_file, text=True, cwd=ROOT)
    node = RunningNode(proc, endpoint, tmp_path, log)
    try:
        with node.connect() as conn:
            def booting() -> dict | None:
                try:
                    rows = {r.name: r.state for r in conn.status(timeout=0.5).actors}
                except TimeoutError:
                    return None
                return rows if rows["slow"] == "starting" else None
            rows = eventually(booting, timeout=20)
            assert rows == {"first": "running", "slow": "starting", "last": "stopped"}
            assert proc.stdout is not None and "ready at" in proc.stdout.readline()
            assert {r.name: r.state for r in conn.status().actors} == \
                {"first": "running", "slow": "running", "last": "running"}
    finally:
        node.stop()
