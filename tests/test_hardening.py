"""Regression tests of issue 11: inputs that once killed the node, silenced an actor, or
timed out instead of failing, each sent over real sockets; after each, the same node and
the same incarnation answer a well-formed ask."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from actors import connect
from actors.examples import Count, Fail, Ping
from actors.pool import Execute
from messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ActorCrashed,
    AskTimeout,
    Envelope,
    RemoteError,
    RemoteProtocolError,
    decode,
    encode,
)
from tests.nodes import RunningNode, eventually
from tests.raw_peer import RawPeer
from tests.wire_strategies import nested

POOL = "actors.pool:PoolActor"


@pytest.fixture
def raw(echo_node: RunningNode) -> Iterator[RawPeer]:
    """Raw sockets to echo_node's front door and its echo actor."""
    peer = RawPeer(echo_node, "echo")
    yield peer
    peer.close()


def serves_on(raw: RawPeer, node: RunningNode) -> None:
    """The node and echo's first incarnation still answer, and nothing restarted."""
    pong = raw.ask(raw.front, {"v": 1, "kind": "ask", "id": 7, "to": "node", "type": "actor.ping",
                               "body": {}})
    assert pong["type"] == "actor.pong", pong
    echo = raw.ask(raw.actor, {"v": 1, "kind": "ask", "id": 8, "to": "echo", "type": "echo.ping",
                               "body": {"n": 5}})
    assert echo["type"] == "echo.pong" and echo["incarnation"] == 1, echo
    assert node.proc.poll() is None
    with node.connect() as conn:
        row = conn.status("echo").actors[0]
        assert (row.state, row.incarnation, row.restarts) == ("running", 1, 0)


def test_unhashable_kind_is_malformed_at_front_door_and_actor(raw: RawPeer, echo_node: RunningNode):
    """Case 1: a 49-byte frame whose kind is a list no longer kills the node or the actor."""
    for sock, to in ((raw.front, "node"), (raw.actor, "echo")):
        frame = msgpack.packb({"v": 1, "kind": ["ask"], "id": 1, "to": to, "type": "node.status",
                               "body": {}})
        reply = raw.ask(sock, frame)
        assert reply["kind"] == "error" and reply["body"]["code"] == "malformed", reply
        assert "envelope.kind" in reply["body"]["message"]
    serves_on(raw, echo_node)


@pytest.mark.parametrize("where", ["body field", "id", "v"])
def test_map_nested_1000_deep_is_refused(raw: RawPeer, echo_node: RunningNode, where: str):
    """Case 2: a map ~1,000 deep in a body field, the id or v is refused, never a RecursionError."""
    envelope: dict[str, Any] = {"v": 1, "kind": "ask", "id": 1, "type": "echo.ping",
                                "body": {"n": 1}}
    if where == "body field":
        envelope["body"] = {"n": nested(1000, kind="map")}
    else:
        envelope[where] = nested(1000, kind="map")
    for sock, to in ((raw.front, "node"), (raw.actor, "echo")):
        reply = raw.ask(sock, msgpack.packb({**envelope, "to": to}))
        assert reply["body"]["code"] == "malformed", reply
        assert "deep" in reply["body"]["message"]
    serves_on(raw, echo_node)


def test_nesting_just_under_the_limit_is_checked_with_a_short_message(raw: RawPeer, echo_node: RunningNode):
    """Nesting the limit allows reaches the validator, whose message quotes a bounded summary."""
    reply = raw.ask(raw.actor, {"v": 1, "kind": "ask", "id": 1, "to": "echo", "type": "echo.ping",
                                "body": {"n": nested(97, kind="list")}})
    assert reply["body"]["code"] == "invalid_body", reply
    assert "Ping.n: expected an integer, got list [[[" in reply["body"]["message"]
    assert len(reply["body"]["message"]) < 200
    serves_on(raw, echo_node)


def test_deep_sql_through_the_cli_then_select_1(start_node):
    """Case 2 from the shell: a deeply nested sql is refused; then `select 1` is answered."""
    node = start_node({"children": [{"name": "pool", "actor": POOL}]})
    deep = "[" * 90 + "1" + "]" * 90
    bad = node.cli("send", "pool", "pool.execute", '{"sql": ' + deep + "}")
    assert bad.returncode != 0 and "Execute.sql: expected a string" in bad.stderr
    good = node.cli("send", "pool", "pool.execute", '{"sql": "select 1"}')
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["rows"] == [[1]]


def test_oversized_pool_result_is_too_large_at_once(start_node):
    """Case 3: a reply over max_message_bytes is a too_large error naming limit and size."""
    node = start_node({"children": [{"name": "pool", "actor": POOL}]})
    with node.connect() as conn:
        started = time.monotonic()
        with pytest.raises(RemoteProtocolError) as caught:
            conn.ask("pool", Execute("select zeroblob(3000000)"), timeout=30.0)
        assert time.monotonic() - started < 10, "waited out a timeout instead of failing at once"
        details = caught.value.details
        assert details["code"] == "too_large"
        assert details["limit"] == DEFAULT_MAX_MESSAGE_BYTES and details["size"] > 3_000_000
        assert str(DEFAULT_MAX_MESSAGE_BYTES) in str(caught.value)
        assert conn.ask("pool", Execute("select 1")).rows == [[1]]


def test_echo_just_under_the_limit_gets_too_large_not_a_timeout(echo_node: RunningNode):
    """Case 3: an ask just under the limit whose echo is just over it fails at once."""
    limit = DEFAULT_MAX_MESSAGE_BYTES
    probe = len(encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1, "text": ""}, time.time())))
    text = "x" * (limit - probe - 8)  # the request fits; the pong adds the incarnation
    with echo_node.connect() as conn:
        started = time.monotonic()
        with pytest.raises(RemoteProtocolError) as caught:
            conn.ask("echo", Ping(n=1, text=text), timeout=30.0)
        assert time.monotonic() - started < 10
        assert caught.value.details["code"] == "too_large"
        assert caught.value.details["size"] > limit
        assert conn.ask_reply("echo", Ping(n=2)).incarnation == 1


def test_node_stop_with_an_unexpected_body_is_invalid(raw: RawPeer, echo_node: RunningNode):
    """Case 4: node.stop takes `{}`; a body with fields is refused and the node keeps running."""
    reply = raw.ask(raw.front, {"v": 1, "kind": "ask", "id": 4, "to": "node", "type": "node.stop",
                                "body": {"bogus": [1, 2, 3]}})
    assert reply["body"]["code"] == "invalid_body", reply
    assert "bogus" in reply["body"]["message"]
    serves_on(raw, echo_node)


@pytest.mark.parametrize("how", ["thread", "watch"])
def test_serving_thread_failure_ends_the_host_with_a_cause(echo_node: RunningNode, how: str):
    """A serving thread that dies (SystemExit in a handler) or fails outside any handler
    ends its host with cause host_fault; the supervisor restarts it and it answers."""
    with echo_node.connect() as conn:
        if how == "thread":
            with pytest.raises(ActorCrashed) as caught:
                conn.ask("chaos", Fail(how="thread"), timeout=20.0)
            assert caught.value.details["cause"] == "host_fault"
        else:
            assert conn.ask("chaos", Fail(how="watch")) == "watching"
        assert eventually(lambda: conn.status("chaos").actors[0].incarnation == 2, timeout=10)
        assert conn.ask_reply("chaos", Count(), timeout=10.0, retries=1).incarnation == 2
    log = echo_node.log_text()
    assert "host_fault" in log
    if how == "watch":
        assert "RuntimeError: chaos: a readiness callback failed" in log


def test_malicious_replies_do_not_crash_a_client():
    """A peer posing as a node answers with bad replies: the client raises RemoteError
    subclasses (or waits out its timeout for undecodable bytes), never anything else."""
    ctx = zmq.Context()
    fake = ctx.socket(zmq.ROUTER)
    fake.linger = 0
    port = fake.bind_to_random_port("tcp://127.0.0.1")
    bodies: list[tuple[str, str, Any]] = [
        ("error", "error", [1, 2]),
        ("error", "error", {"code": ["malformed"], "message": nested(50, kind="list")}),
        ("error", "error", {"code": "too_large", "message": 5}),
        ("reply", "node.about", {"endpoint": 1, "events": [], "pid": "x", "version": None}),
        ("reply", "node.resolved", nested(60)),
    ]
    try:
        with connect(f"tcp://127.0.0.1:{port}", timeout=2.0) as conn:
            for kind, type_, body in [*bodies, ("garbage", "", None)]:
                def answer(kind: str = kind, type_: str = type_, body: Any = body) -> None:
                    assert fake.poll(5000)
                    frames = fake.recv_multipart()
                    asked = decode(frames[-1])
                    payload = b"\xc1 not msgpack" if kind == "garbage" else encode(
                        Envelope(kind, asked.id, "node", type_, body))
                    fake.send_multipart([frames[0], payload])

                thread = threading.Thread(target=answer)
                thread.start()
                expected = AskTimeout if kind == "garbage" else RemoteError
                with pytest.raises(expected):
                    conn.ask("node", "node.info", {}, timeout=1.0 if kind == "garbage" else 5.0)
                thread.join(5)
    finally:
        fake.close()
        ctx.term()


def test_error_details_cannot_replace_the_error_bodys_own_keys() -> None:
    """An expected error whose ``details`` name ``code`` or ``message`` keeps the reply's own
    code and text (such a key once made the host fail while replying)."""
    from actors._failures import _answer_details

    class Odd(Exception):
        details = {"code": "mine", "message": "mine", "status": 404}

    assert _answer_details(Odd()) == {"status": 404}
