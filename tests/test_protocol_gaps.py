"""Issue 18: where the node and PROTOCOL.md disagreed, the node now does what the document
says, as a foreign agent (pyzmq and msgpack only) sees it. Replies on one DEALER come in
the order the actor took the messages, so "no answer to X" is checked by asking Y after X
and getting Y's answer first."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest

from messages import DEFAULT_MAX_MESSAGE_BYTES
from tests.nodes import RunningNode, eventually
from tests.raw_peer import RawPeer


@pytest.fixture
def peer(echo_node: RunningNode) -> Iterator[RawPeer]:
    """Raw sockets to echo_node's front door and its chaos actor."""
    raw = RawPeer(echo_node, "chaos")
    yield raw
    raw.close()


def ask(id_: Any, to: str, type_: str, body: Any = None, **extra: Any) -> dict[str, Any]:
    return {"v": 1, "kind": "ask", "id": id_, "to": to, "type": type_, "body": body or {}, **extra}


def test_a_tell_needs_no_id_and_gets_no_answer(peer: RawPeer, echo_node: RunningNode):
    """Point 1: a tell without an id is handled and never answered; an ask without one is
    malformed."""
    peer.actor.send(msgpack.packb({"v": 1, "kind": "tell", "to": "chaos", "type": "chaos.count"}))
    count = peer.ask(peer.actor, ask(2, "chaos", "chaos.count"))
    assert (count["id"], count["body"]) == (2, 2), count
    no_id = peer.ask(peer.actor, {"v": 1, "kind": "ask", "to": "chaos", "type": "chaos.count"})
    assert no_id["body"]["code"] == "malformed" and "an ask needs one" in no_id["body"]["message"]
    with echo_node.connect() as conn:
        assert eventually(lambda: conn.status("chaos").actors[0].bad_input == 1)


@pytest.mark.parametrize(("id_", "bad"), [
    (777, {"v": 2}), (778, {"extra": 1}), (779, {"deadline": "soon"}), ("str-id", {"incarnation": 1.5}),
])
def test_refusals_echo_a_readable_id(peer: RawPeer, id_: Any, bad: dict[str, Any]):
    """Point 2: malformed envelopes whose id could be read are refused under that id, at the
    actor and at the front door."""
    for sock, to in ((peer.actor, "chaos"), (peer.front, "node")):
        refused = peer.ask(sock, {**ask(id_, to, "actor.ping"), **bad})
        assert refused["body"]["code"] == "malformed", refused
        assert refused["id"] == id_


def test_too_large_echoes_the_id_that_precedes_the_body(peer: RawPeer):
    """Point 2: a message over the limit is refused under its id when the id comes before
    the body (the first max_message_bytes are read for it)."""
    big = ask(901, "chaos", "chaos.count", {"pad": "x" * DEFAULT_MAX_MESSAGE_BYTES})
    for sock in (peer.actor, peer.front):
        refused = peer.ask(sock, big)
        assert (refused["body"]["code"], refused["id"]) == ("too_large", 901), refused["body"]


def test_refused_tells_and_replies_get_no_answer(peer: RawPeer):
    """Points 2 and 9: a malformed tell, and a reply or event sent by a client, are only
    counted: the next ask's answer is the first to come back."""
    for kind in ("tell", "reply", "event"):
        for sock, to in ((peer.actor, "chaos"), (peer.front, "node")):
            sock.send(msgpack.packb({**ask(5, to, "actor.ping"), "kind": kind, "v": 2}))
            sock.send(msgpack.packb({**ask(5, to, "actor.ping"), "kind": kind}))
            pong = peer.ask(sock, ask(6, to, "actor.ping"))
            assert (pong["id"], pong["type"]) == (6, "actor.pong"), (kind, pong)


def test_front_door_honours_the_deadline(peer: RawPeer):
    """Point 3: an ask whose deadline has passed is skipped by the front door too."""
    late = peer.ask(peer.front, ask(3, "node", "node.status", deadline=time.time() - 5))
    assert late["body"]["code"] == "deadline_expired", late
    assert late["id"] == 3


def test_actor_ping_and_statistics_check_their_bodies(peer: RawPeer):
    """Point 3: actor.ping and actor.statistics take `{}` at an actor, as node.resolve takes
    only its fields at the front door; nil or {} are fine."""
    for type_ in ("actor.ping", "actor.statistics"):
        refused = peer.ask(peer.actor, ask(1, "chaos", type_, {"extra": 1}))
        assert refused["body"]["code"] == "invalid_body", refused
        assert peer.ask(peer.actor, {**ask(2, "chaos", type_), "body": None})["kind"] == "reply"
    refused = peer.ask(peer.front, ask(3, "node", "actor.ping", {"extra": 1}))
    assert refused["body"]["code"] == "invalid_body"


def test_replies_name_who_answered_in_to(peer: RawPeer):
    """Point 3, as documented: a reply's `to` is the name of the actor that answered."""
    assert peer.ask(peer.actor, ask(1, "chaos", "actor.ping"))["to"] == "chaos"
    assert peer.ask(peer.front, ask(2, "node", "actor.ping"))["to"] == "node"


def test_the_req_shape_from_a_dealer_and_frame_counts(peer: RawPeer):
    """Point 4: a DEALER may send the REQ shape [empty, envelope] and gets [empty, reply];
    other shapes are malformed, counting only the frames the client sent."""
    for sock, to in ((peer.actor, "chaos"), (peer.front, "node")):
        sock.send_multipart([b"", msgpack.packb(ask(1, to, "actor.ping"))])
        assert sock.poll(5000)
        frames = sock.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"", frames
        sock.send_multipart([b"a", b"b", msgpack.packb(ask(2, to, "actor.ping"))])
        refused = msgpack.unpackb(sock.recv_multipart()[-1]) if sock.poll(5000) else None
        assert refused is not None and "got 3 frames" in refused["body"]["message"], refused


def test_node_about_gives_protocol_and_software_versions(peer: RawPeer):
    """Point 11: node.about says which protocol the node speaks and which release it runs."""
    about = peer.ask(peer.front, ask(1, "node", "node.info"))["body"]
    assert about["protocol"] == about["version"] == 1
    assert about["software"] == importlib.metadata.version("agent-cellphone")
