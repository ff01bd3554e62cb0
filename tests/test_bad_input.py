"""Bad input over real sockets: each gets an error reply where possible, is counted, and
the next good message is answered. Nothing crashes an actor or the node."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgpack
import pytest
import zmq

from actors.examples import Count, Fail, Ping
from messages import ActorOverloaded, Envelope, MessageTooLarge, decode, encode
from tests.nodes import RunningNode, eventually


@pytest.fixture
def raw(echo_node: RunningNode) -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """(DEALER to the echo actor, DEALER to the front door), closed afterwards."""
    with echo_node.connect() as conn:
        endpoint = conn.resolve("echo").endpoint
    ctx = zmq.Context()
    actor, front = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
    for sock, where in ((actor, endpoint), (front, echo_node.endpoint)):
        sock.linger = 0
        sock.connect(where)
    yield actor, front
    actor.close()
    front.close()
    ctx.term()


def _reply(sock: zmq.Socket[bytes]) -> Envelope:
    assert sock.poll(3000), "no reply within 3 s"
    return decode(sock.recv_multipart()[-1])


def _good(sock: zmq.Socket[bytes], to: str = "echo") -> Envelope:
    kind_type = "echo.ping" if to == "echo" else "actor.ping"
    sock.send(encode(Envelope("ask", 99, to, kind_type, {"n": 1} if to == "echo" else {})))
    return _reply(sock)


BAD_PAYLOADS = {
    "not msgpack": b"\xc1\xc1\xc1 not msgpack",
    "truncated msgpack": encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1}))[:-3],
    "not a map": msgpack.packb([1, 2, 3]),
    "wrong version": msgpack.packb({"v": 99, "kind": "ask", "id": 1, "to": "echo", "type": "echo.ping"}),
    "missing type": msgpack.packb({"v": 1, "kind": "ask", "id": 1, "to": "echo"}),
    "bad kind": msgpack.packb({"v": 1, "kind": "shout", "id": 1, "to": "echo", "type": "echo.ping"}),
    "unknown envelope key": msgpack.packb({"v": 1, "kind": "ask", "id": 1, "to": "echo",
                                           "type": "echo.ping", "body": {"n": 1}, "extra": 1}),
    "unknown type": encode(Envelope("ask", 1, "echo", "echo.nope", {})),
    "missing field": encode(Envelope("ask", 1, "echo", "echo.ping", {})),
    "wrong field type": encode(Envelope("ask", 1, "echo", "echo.ping", {"n": "1"})),
    "unexpected field": encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1, "m": 2})),
    "body not a map": encode(Envelope("ask", 1, "echo", "echo.ping", [1])),
    "wrong target": encode(Envelope("ask", 1, "relay", "echo.ping", {"n": 1})),
    "expired deadline": encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1}, time.time() - 5)),
    "oversized": encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1, "text": "x" * (2 << 20)})),
}
EXPECTED_CODE = {
    "not msgpack": "malformed", "truncated msgpack": "malformed", "not a map": "malformed",
    "wrong version": "malformed", "missing type": "malformed", "bad kind": "malformed",
    "unknown envelope key": "malformed", "unknown type": "unknown_type",
    "missing field": "invalid_body", "wrong field type": "invalid_body",
    "unexpected field": "invalid_body", "body not a map": "invalid_body",
    "wrong target": "not_found", "expired deadline": "deadline_expired", "oversized": "too_large",
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_actor_refuses_bad_payload_and_serves_on(raw, echo_node: RunningNode, case: str):
    """Each kind of bad payload gets an error reply with its code; then echo answers."""
    actor, _ = raw
    actor.send(BAD_PAYLOADS[case])
    env = _reply(actor)
    assert env.kind == "error"
    assert env.body["code"] == EXPECTED_CODE[case], env.body
    assert env.body["message"]
    assert _good(actor).body == {"n": 1, "text": "", "incarnation": 1}
    with echo_node.connect() as conn:
        assert eventually(lambda: conn.status("echo").actors[0].bad_input >= 1)
        assert conn.status("echo").actors[0].incarnation == 1


def test_extra_frames_refused(raw):
    """A multipart message with extra frames is refused as malformed."""
    actor, front = raw
    for sock in (actor, front):
        sock.send_multipart([b"a", b"b", encode(Envelope("ask", 1, "echo", "echo.ping", {"n": 1}))])
        env = _reply(sock)
        assert env.body["code"] == "malformed" and "frames" in env.body["message"]
    assert _good(actor).kind == "reply"


@pytest.mark.parametrize("case", ["not msgpack", "truncated msgpack", "missing type", "oversized"])
def test_front_door_refuses_bad_payload_and_serves_on(raw, echo_node: RunningNode, case: str):
    """The node's front door answers bad input with an error and keeps serving."""
    _, front = raw
    front.send(BAD_PAYLOADS[case])
    assert _reply(front).body["code"] == EXPECTED_CODE[case]
    assert _good(front, "node").type == "actor.pong"
    with echo_node.connect() as conn:
        assert conn.status().node_bad_input >= 1


def test_front_door_unknown_command_and_wrong_fields(raw):
    """Unknown node commands and badly typed fields name the problem."""
    _, front = raw
    front.send(encode(Envelope("ask", 1, "node", "node.explode", {})))
    env = _reply(front)
    assert env.body["code"] == "unknown_type" and "node.resolve" in env.body["message"]
    front.send(encode(Envelope("ask", 2, "node", "node.resolve", {"name": 5})))
    env = _reply(front)
    assert env.body["code"] == "invalid_body" and "name" in env.body["message"]


def test_burst_of_garbage_from_one_peer(raw, echo_node: RunningNode):
    """A thousand garbage frames are each refused and counted; echo still answers."""
    actor, _ = raw
    for i in range(1000):
        actor.send(b"garbage %d" % i)
    replies = [_reply(actor) for _ in range(1000)]
    assert all(r.body["code"] == "malformed" for r in replies)
    assert _good(actor).kind == "reply"
    with echo_node.connect() as conn:
        assert eventually(lambda: conn.status("echo").actors[0].bad_input >= 1000)


def test_oversized_message_refused_locally(echo_node: RunningNode):
    """The client refuses to send a message over the limit, before it leaves the process."""
    with echo_node.connect() as conn, pytest.raises(MessageTooLarge):
        conn.ask("echo", Ping(n=1, text="x" * (2 << 20)), timeout=2.0)


def test_full_mailbox_fails_fast_with_overload(start_node):
    """When an actor's mailbox is full, a send fails at once with ActorOverloaded."""
    node = start_node({"children": [
        {"name": "chaos", "actor": "chaos", "mailbox_size": 10, "max_busy": None}]})
    with node.connect(send_hwm=10) as conn:
        conn.tell("chaos", Fail(how="sleep", seconds=3.0))
        started = time.monotonic()
        with pytest.raises(ActorOverloaded):
            for _ in range(500_000):
                conn.tell("chaos", Count())
        assert time.monotonic() - started < 2.5
        assert conn.statistics().dropped_tells == 1
