"""A real node: start, ask, tell, status, CLI, shutdown without orphans."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

import actors
from actors.examples import Count, Fail, Forward, Ping, Pong
from messages import ActorNotFound, ActorPong, AskTimeout, DeadlineExpired, HandlerError
from tests.nodes import ROOT, RunningNode, eventually, free_port, wait_gone


def test_default_node_answers_echo_and_ping(start_node):
    """The embedded default config serves echo; every actor answers actor.ping."""
    node = start_node(None)
    assert f"ready at {node.endpoint}" in node.ready_line
    with node.connect() as conn:
        assert conn.ask("echo", Ping(n=1, text="hi"), timeout=2.0) == Pong(1, "hi", 1)
        pong = conn.ask("echo", "actor.ping", {}, timeout=2.0)
        assert pong == ActorPong("echo", 1)


def test_tell_is_handled(echo_node: RunningNode):
    """A tell reaches the actor: the next ask sees its effect."""
    with echo_node.connect() as conn:
        conn.tell("chaos", Count())
        conn.tell("chaos", Count())
        assert conn.ask("chaos", Count(), timeout=2.0) == 3


def test_relay_asks_another_actor(echo_node: RunningNode):
    """An actor can ask another actor on its node."""
    with echo_node.connect() as conn:
        reply = conn.ask("relay", Forward(n=7), timeout=5.0)
    assert reply == Pong(7, "via relay", 1)


def test_handler_exception_reaches_asker_and_actor_keeps_serving(echo_node: RunningNode):
    """The error names actor, message type and exception; the same incarnation serves on."""
    with echo_node.connect() as conn:
        with pytest.raises(HandlerError) as info:
            conn.ask("chaos", Fail(how="raise"), timeout=2.0)
        text = str(info.value)
        assert "'chaos'" in text and "chaos.fail" in text and "RuntimeError" in text
        assert conn.ask_reply("chaos", Count(), timeout=2.0).incarnation == 1
        row = conn.status("chaos").actors[0]
    assert row.incarnation == 1


def test_unknown_actor_fails_at_once(echo_node: RunningNode):
    """An ask to a name the node does not have fails fast, naming it."""
    with echo_node.connect() as conn:
        started = time.monotonic()
        with pytest.raises(ActorNotFound, match="nobody"):
            conn.ask("nobody", Ping(n=1), timeout=5.0)
        assert time.monotonic() - started < 1.0


def test_ask_timeout_is_finite_and_late_reply_dropped(echo_node: RunningNode):
    """An ask that outlives its timeout raises AskTimeout; its late reply is dropped."""
    with echo_node.connect() as conn:
        with pytest.raises(AskTimeout):
            conn.ask("chaos", Fail(how="sleep", seconds=0.5), timeout=0.2)
        assert conn.ask("chaos", Count(), timeout=3.0) == 1
        assert conn.statistics().late_replies == 1


def test_expired_deadline_is_skipped(echo_node: RunningNode):
    """Work whose deadline passed while queued is skipped, and counted in status."""
    with echo_node.connect() as conn:
        conn.tell("chaos", Fail(how="sleep", seconds=0.6))  # same socket: handled first
        with pytest.raises(AskTimeout):
            conn.ask("chaos", Count(), timeout=0.2)
        skipped = eventually(lambda: conn.status("chaos").actors[0].bad_input >= 1, timeout=5)
        assert conn.ask("chaos", Count(), timeout=3.0) == 1  # the skipped Count never ran
    assert skipped


def test_deadline_error_type(echo_node: RunningNode):
    """An envelope whose deadline is already past gets a deadline_expired error."""
    import zmq

    from actors import close_context, connect_socket, new_context
    from messages import Envelope, decode, encode
    with echo_node.connect() as conn:
        endpoint = conn.resolve("echo").endpoint
    ctx = new_context()
    sock = connect_socket(ctx, zmq.DEALER, endpoint)
    sock.send(encode(Envelope("ask", 5, "echo", "echo.ping", {"n": 1}, time.time() - 1)))
    assert sock.poll(3000)
    env = decode(sock.recv())
    close_context(ctx)
    assert env.kind == "error" and env.body["code"] == "deadline_expired"
    with pytest.raises(DeadlineExpired):
        from messages import error_from_wire
        raise error_from_wire(env.body)


def test_many_threads_each_get_their_own_reply(echo_node: RunningNode):
    """Eight threads asking at once over one connection each get their own replies."""
    errors: list[str] = []
    with echo_node.connect() as conn:
        def worker(k: int) -> None:
            for i in range(50):
                reply = conn.ask("echo", Ping(n=k * 1000 + i), timeout=5.0)
                if reply.n != k * 1000 + i:
                    errors.append(f"thread {k} got {reply.n}")
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []


def test_one_lifecycle_watcher_per_connection_ends_with_close(echo_node: RunningNode):
    """Threads asking over one connection share one thread reading deaths (not one
    lifecycle socket each), and close() ends it: no thread is left behind."""
    before = set(threading.enumerate())
    conn = echo_node.connect()
    threads = [threading.Thread(target=lambda: conn.ask("echo", Ping(n=1), timeout=5.0))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    watchers = [t for t in threading.enumerate()
                if t not in before and t.name == "agentcell-lifecycle"]
    assert len(watchers) == 1, watchers
    conn.close()
    assert not watchers[0].is_alive()


def test_many_agent_processes_ask_at_once(echo_node: RunningNode):
    """Four agent processes ask concurrently; each checks its own replies."""
    script = (
        "import sys\nfrom actors import connect\nfrom actors.examples import Ping\n"
        "k = int(sys.argv[2])\n"
        "with connect(sys.argv[1]) as c:\n"
        "    for i in range(100):\n"
        "        assert c.ask('echo', Ping(n=k * 1000 + i), timeout=5).n == k * 1000 + i\n"
        "print('ok', k)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, echo_node.endpoint, str(k)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT) for k in range(4)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outputs == [f"ok {k}" for k in range(4)]


async def test_asyncio_client_concurrent_tasks(echo_node: RunningNode):
    """Many asyncio tasks ask at once; each gets its own reply."""
    async with actors.connect_async(echo_node.endpoint) as conn:
        replies = await asyncio.gather(*(conn.ask("echo", Ping(n=i), timeout=5.0) for i in range(200)))
        assert [r.n for r in replies] == list(range(200))
        with pytest.raises(HandlerError):
            await conn.ask("chaos", Fail(how="raise"), timeout=2.0)
        status = await conn.status()
    assert {row.name for row in status.actors} == {"echo", "relay", "chaos"}


async def test_asyncio_client_timeout_says_what_to_check(echo_node: RunningNode):
    """An asyncio ask past its timeout raises AskTimeout naming the actor, the message and
    what to check, as the sync client's does."""
    async with actors.connect_async(echo_node.endpoint) as conn:
        with pytest.raises(AskTimeout, match=r"no reply from 'chaos' to 'chaos.fail' within "
                                             r"0.2 s; pass a longer timeout="):
            await conn.ask("chaos", Fail(how="sleep", seconds=0.5), timeout=0.2)


def test_status_json_and_send_cli(echo_node: RunningNode):
    """status --json has one object per actor with the documented keys; send prints JSON."""
    result = echo_node.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["echo", "relay", "chaos"]
    for row in rows:
        assert {"name", "state", "pid", "incarnation", "uptime", "handled", "errors"} <= set(row)
        assert row["state"] == "running" and row["incarnation"] == 1 and row["pid"] > 0
    sent = echo_node.cli("send", "echo", "echo.ping", '{"n": 5}', "--timeout", "3")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout) == {"n": 5, "text": "", "incarnation": 1}
    table = echo_node.cli("status")
    assert "echo" in table.stdout and "running" in table.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (("send", "nobody", "echo.ping", '{"n": 1}'), "ActorNotFound"),
    (("send", "echo", "echo.ping", '{"n": "one"}'), "expected an integer"),
    (("send", "echo", "no.such.type", "{}"), "no handler"),
    (("send", "echo", "echo.ping", "{not json"), "not JSON"),
])
def test_send_cli_errors_exit_nonzero(echo_node: RunningNode, args, needle):
    """send exits non-zero with a message that says what went wrong."""
    result = echo_node.cli(*args)
    assert result.returncode != 0
    assert needle in result.stderr


def test_cli_without_node_says_so():
    """A CLI command against an endpoint where no node runs fails clearly, not forever."""
    result = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "status", "--endpoint",
                             f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.5"],
                            capture_output=True, text=True, timeout=30, cwd=ROOT, check=False)
    assert result.returncode == 3
    assert "is a node running" in result.stderr


@pytest.mark.parametrize("how", ["cli", "sigterm", "sigint"])
def test_stop_leaves_no_process_behind(start_node, how):
    """stop, SIGTERM and Ctrl-C stop every actor process and exit 0."""
    node = start_node(None)
    children = node.descendants()
    assert len(children) >= 2  # forkserver and echo at least
    if how == "cli":
        assert node.cli("stop").returncode == 0
    else:
        node.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    assert node.wait_exit(20) == 0
    assert wait_gone(children) == set()
    assert "node stopped (exit code 0)" in node.log_text()


def test_node_sigkill_leaves_no_orphans(start_node):
    """Even when the node is SIGKILLed, its actor processes exit by themselves."""
    node = start_node(None)
    children = node.descendants()
    node.proc.send_signal(signal.SIGKILL)
    node.wait_exit(10)
    assert wait_gone(children, timeout=10) == set()


def test_port_in_use_is_refused_clearly(start_node):
    """A second node on a taken endpoint exits with a message naming the endpoint."""
    node = start_node(None)
    result = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "--endpoint", node.endpoint],
                            capture_output=True, text=True, timeout=30, cwd=ROOT, check=False)
    assert result.returncode == 2
    assert node.endpoint in result.stderr


def test_ask_many_pipelines_in_order(echo_node: RunningNode):
    """ask_many keeps a window of asks in flight and returns replies in message order."""
    with echo_node.connect() as conn:
        replies = conn.ask_many("echo", [Ping(n=i) for i in range(500)], window=50, timeout=20)
        assert [r.n for r in replies] == list(range(500))
        mixed = conn.ask_many("chaos", [Count(), Fail(how="raise"), Count()],
                              return_exceptions=True, timeout=10)
        assert mixed[0] == 1 and isinstance(mixed[1], HandlerError) and mixed[2] == 2
        with pytest.raises(HandlerError):
            conn.ask_many("chaos", [Count(), Fail(how="raise")], timeout=10)
        with pytest.raises(ValueError, match="window"):
            conn.ask_many("echo", [Ping(n=1)], window=0)


def test_ask_many_fails_in_flight_asks_on_crash(echo_node: RunningNode):
    """When the actor dies mid-batch, ask_many raises ActorCrashed instead of waiting."""
    from messages import ActorCrashed

    with echo_node.connect() as conn:
        started = time.monotonic()
        with pytest.raises(ActorCrashed, match="asks in flight"):
            conn.ask_many("chaos", [Count(), Fail(how="kill"), Count()], timeout=20)
        assert time.monotonic() - started < 10
