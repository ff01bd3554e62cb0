"""The breaker actor on a real node: shared state, forwarding, events, helper, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from actors import connect_async
from actors.breaker import (
    Acquire,
    BreakerClient,
    BreakerPolicy,
    Call,
    CircuitOpenError,
    Configure,
    ForceOpen,
    Record,
    Reset,
    RetryOverride,
    States,
    Stats,
)
from actors.examples import Ping, Pong
from messages import HandlerError, RemoteError
from tests.breaker_target import Answer, BusinessError, DbTimeoutError, Question
from tests.nodes import ROOT, RunningNode, eventually

BREAKER = "actors.breaker:BreakerActor"


@pytest.fixture
def node(start_node: Any) -> RunningNode:
    """A node with the breaker (strict default policy), echo and chaos."""
    node: RunningNode = start_node({
        "max_restarts": 20, "max_seconds": 10,
        "children": [
            {"name": "breaker", "actor": BREAKER, "settings": {
                "default": {"consecutive_failures": 3, "open_seconds": 0.5, "half_open_permits": 1},
                "retry": {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05}}},
            {"name": "echo", "actor": "echo"},
            {"name": "chaos", "actor": "chaos", "heartbeat_interval": 0.1, "max_busy": 5.0},
            {"name": "target", "actor": "tests.breaker_target:Target"},
        ],
    })
    return node


def test_one_agent_opens_the_breaker_for_all(node: RunningNode) -> None:
    """Failures recorded by one connection make the breaker reject another's acquire."""
    with node.connect() as a, node.connect() as b:
        for _ in range(3):
            a.ask("breaker", Record("pg", False, 0.1, "timeout", "no route"), timeout=2.0)
        reply = b.ask("breaker", Acquire("pg"), timeout=2.0)
        assert not reply.permitted and reply.state == "open"
        eventually(lambda: b.ask("breaker", Acquire("pg"), timeout=2.0).permitted, timeout=3.0)
        assert b.ask("breaker", States(["pg"]), timeout=2.0).states[0].state == "half_open"


def test_call_forwards_to_another_actor(node: RunningNode) -> None:
    """breaker.call asks echo through the breaker and returns echo's reply, typed."""
    with node.connect() as conn:
        pong = conn.ask("breaker", Call("echo-res", "echo", "echo.ping", {"n": 5, "text": "x"}),
                        timeout=5.0)
        assert isinstance(pong, Pong) and (pong.n, pong.text) == (5, "x")
        assert conn.ask("breaker", Call.of("echo-res", "echo", Ping(6)), timeout=5.0).n == 6
        stats = conn.ask("breaker", Stats("echo-res"), timeout=2.0).resources[0]
        assert stats.successes == 2 and stats.mean_seconds > 0


def test_call_permanent_error_not_retried_and_timeouts_hit_the_deadline(node: RunningNode) -> None:
    """A handler exception fails once; a hung target ends in a deadline error in budget."""
    with node.connect() as conn:
        with pytest.raises(HandlerError, match=r"permanent error.*RuntimeError"):
            conn.ask("breaker", Call("chaos-res", "chaos", "chaos.fail", {"how": "raise"}),
                     timeout=5.0)
        started = time.monotonic()
        with pytest.raises(HandlerError, match=r"CallDeadlineExceeded|time budget"):
            conn.ask("breaker", Call("slow-res", "chaos", "chaos.fail",
                                     {"how": "sleep", "seconds": 1.0},
                                     RetryOverride(max_attempts=5), timeout=0.4), timeout=5.0)
        assert time.monotonic() - started < 1.5
        stats = conn.ask("breaker", Stats("chaos-res"), timeout=2.0).resources[0]
        assert stats.errors_by_class == {"RuntimeError": 1}


def test_crashed_target_is_retried_until_its_restart_answers(node: RunningNode) -> None:
    """An ask lost to a crash is transient: the retry reaches the next incarnation."""
    with node.connect() as conn:
        conn.ask("chaos", "chaos.count", {}, timeout=2.0)
        with pytest.raises(HandlerError):  # exit kills chaos; each retry kills it again
            conn.ask("breaker", Call("crash-res", "chaos", "chaos.fail", {"how": "exit"},
                                     RetryOverride(max_attempts=2, base_delay=0.2, max_delay=0.2),
                                     timeout=5.0), timeout=8.0)
        stats = conn.ask("breaker", Stats("crash-res"), timeout=2.0).resources[0]
        assert stats.errors_by_class.get("crashed", 0) >= 1
        value = eventually(lambda: conn.ask("breaker", Call("count-res", "chaos", "chaos.count",
                                                            {}), timeout=5.0), timeout=10.0)
        assert isinstance(value, int)


def test_state_changes_are_published(node: RunningNode) -> None:
    """force_open puts a breaker.state event on the node's event stream."""
    with node.connect() as conn, conn.subscribe("breaker.state") as reader:
        conn.ask("breaker", ForceOpen("svc", "drill"), timeout=2.0)
        event = reader.next(5.0)  # the subscription is confirmed: the first change is seen
        assert event is not None
        body = event.body
        assert body["resource"] == "svc" and body["state"] == "open"
        assert body["actor"] == "breaker"


def test_helper_rejects_within_50ms_of_the_actor_opening(node: RunningNode) -> None:
    """A helper subscribed to the events rejects locally soon after another agent opens it."""
    with node.connect() as conn, node.connect() as other, BreakerClient(conn) as client:
        assert client.wait_synced(5)
        with client.protect("api"):
            pass

        def push_path_live() -> bool:  # a SUB subscription takes a moment to reach the PUB
            other.ask("breaker", ForceOpen("warmup"), timeout=2.0)
            other.ask("breaker", Reset("warmup"), timeout=2.0)
            return client.statistics().pushes > 0

        assert eventually(push_path_live, timeout=5.0, interval=0.05)
        started = time.monotonic()
        other.ask("breaker", ForceOpen("api"), timeout=2.0)
        eventually(lambda: client.state("api") == "open", timeout=2.0, interval=0.001)
        elapsed = time.monotonic() - started
        assert elapsed < 0.25, f"took {elapsed * 1000:.1f} ms"
        assert client.statistics().pushes >= 1
        with pytest.raises(ConnectionError, match="circuit 'api' is open"), client.protect("api"):
            pass


AGENT = """
import sys, time
from actors import connect
from actors.breaker import BreakerClient
with connect(sys.argv[1]) as conn, BreakerClient(conn) as client:
    client.wait_synced(5)
    failures = 0
    for _ in range(400):
        try:
            with client.protect("shared"):
                if sys.argv[2] == "bad":
                    raise TimeoutError("dependency down")
        except ConnectionError:
            print("rejected", client.state("shared"), failures, flush=True)
            break
        except TimeoutError:
            failures += 1
        time.sleep(0.005)
    else:
        print("never rejected", failures, flush=True)
"""


def test_many_agent_processes_share_one_breaker(node: RunningNode) -> None:
    """One agent process's failures open the breaker and every agent process then rejects."""
    procs = [subprocess.Popen([sys.executable, "-c", AGENT, node.endpoint, kind], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for kind in ("bad", "good", "good")]
    with node.connect() as conn:
        conn.ask("breaker", "breaker.configure",
                 {"resource": "shared", "breaker": {"consecutive_failures": 5, "open_seconds": 60}},
                 timeout=2.0)
    outs = [p.communicate(timeout=30)[0] for p in procs]
    assert all(out.startswith("rejected open") for out in outs), outs


def test_stats_from_the_shell(node: RunningNode) -> None:
    """run_node.py send reaches breaker.stats and prints the analytics as JSON."""
    with node.connect() as conn:
        conn.ask("breaker", Record("cli", False, 0.2, "timeout", "boom"), timeout=2.0)
    done = node.cli("send", "breaker", "breaker.stats", json.dumps({"resource": "cli"}))
    assert done.returncode == 0, done.stderr
    assert '"errors_by_class": {"timeout": 1}' in done.stdout
    forced = node.cli("send", "breaker", "breaker.force_open", json.dumps({"resource": "cli"}))
    assert forced.returncode == 0 and '"forced": true' in forced.stdout


def test_forced_state_survives_a_restart(node: RunningNode) -> None:
    """A breaker forced open stays forced open in the next incarnation (snapshot)."""
    with node.connect() as conn:
        conn.ask("breaker", ForceOpen("db", "maintenance"), timeout=2.0)
        done = node.cli("restart", "breaker")
        assert done.returncode == 0, done.stderr

        def restored() -> Any:
            try:
                reply = conn.ask_reply("breaker", States(["db"]), timeout=2.0)
            except RemoteError:  # the restart is under way (crashed, not found, timeout)
                return False
            states = reply.value.states
            return reply.incarnation == 2 and states and states[0].forced \
                and states[0].state == "open"

        assert eventually(restored, timeout=10.0)
        assert not conn.ask("breaker", Acquire("db"), timeout=2.0).permitted


def test_call_passes_a_reply_type_unknown_to_the_breaker_on_as_it_came(node: RunningNode) -> None:
    """The breaker's host does not know target.answer; the asker still gets an Answer, with
    the same type tag and body as asking the target directly."""
    with node.connect() as conn:
        direct = conn.ask_reply("target", Question(21), timeout=5.0)
        through = conn.ask_reply("breaker", Call.of("target-res", "target", Question(21)),
                                 timeout=5.0)
        assert direct.value == through.value == Answer(42)
        assert direct.type == through.type == "target.answer"
        plain = conn.ask_reply("breaker", Call("count-res", "chaos", "chaos.count", {}),
                               timeout=5.0)
        assert plain.type == "value" and isinstance(plain.value, int)


async def test_async_client_sees_the_passed_on_reply_type(node: RunningNode) -> None:
    """The asyncio client's Reply carries the reply's type tag as well."""
    async with connect_async(node.endpoint) as conn:
        through = await conn.ask_reply("breaker", Call.of("target-res", "target", Question(4)),
                                       timeout=5.0)
        assert (through.type, through.value) == ("target.answer", Answer(8))


def test_call_matches_recorded_and_ignored_errors_by_the_remote_class_names(
        node: RunningNode) -> None:
    """A DbTimeoutError raised in another actor counts under recorded=["DbError"] (its
    subclass) and is ignored under ignored=["DbError"]: the class names travel with the
    error reply (exception_mro). A BusinessError is a success under recorded=["DbError"]."""
    with node.connect() as conn:
        conn.ask("breaker", Configure("db-rec", BreakerPolicy(recorded=["DbError"])), timeout=2.0)
        conn.ask("breaker", Configure("db-ign", BreakerPolicy(ignored=["DbError"])), timeout=2.0)
        for resource, fail in (("db-rec", "db"), ("db-rec", "business"), ("db-ign", "db")):
            with pytest.raises(HandlerError, match="permanent error") as info:
                conn.ask("breaker", Call.of(resource, "target", Question(1, fail)), timeout=5.0)
            assert info.value.details["exception"] == "CallFailed"
        recorded = conn.ask("breaker", Stats("db-rec"), timeout=2.0).resources[0]
        ignored = conn.ask("breaker", Stats("db-ign"), timeout=2.0).resources[0]
        assert (recorded.failures, recorded.successes, recorded.ignored) == (1, 1, 0)
        assert (ignored.failures, ignored.successes, ignored.ignored) == (0, 0, 1)


def test_client_sends_the_exception_classes_so_subclasses_match(node: RunningNode) -> None:
    """A guarded call raising DbTimeoutError opens a breaker that records only DbError."""
    with node.connect() as conn, BreakerClient(conn) as client:
        conn.ask("breaker", Configure("guarded-db", BreakerPolicy(
            recorded=["DbError"], consecutive_failures=2, open_seconds=60)), timeout=2.0)
        with pytest.raises(BusinessError), client.protect("guarded-db"):
            raise BusinessError("not a DbError: a success here")
        for _ in range(2):
            with pytest.raises(DbTimeoutError), client.protect("guarded-db"):
                raise DbTimeoutError("slow query")
        client.flush()
        assert client.state("guarded-db") == "open"
        stats = conn.ask("breaker", Stats("guarded-db"), timeout=2.0).resources[0]
        assert (stats.failures, stats.successes) == (2, 1)


def test_a_new_client_knows_an_open_breaker_before_its_first_call(node: RunningNode) -> None:
    """Issue 22: the first guarded call of a new BreakerClient is checked against the state
    the actor holds, not let through before the first sync."""
    with node.connect() as conn:
        conn.ask("breaker", ForceOpen("down", "drill"), timeout=2.0)
        with BreakerClient(conn) as client:
            with pytest.raises(CircuitOpenError, match="circuit 'down' is open"), \
                    client.protect("down"):
                raise AssertionError("the call went through an open circuit")
            assert client.statistics().rejected_locally == 1
