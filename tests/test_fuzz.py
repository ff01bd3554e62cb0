"""Property-based fuzzing over real sockets: envelopes and bodies of every type, nesting,
size, unicode and numeric edge, sent with raw pyzmq to the node's front door and to an
actor. After every example a well-formed ask must be answered by the same node process
and the same actor incarnation.

CI runs Hypothesis' default number of examples per test; the long run is
``python -m pytest tests/test_fuzz.py tests/test_codec_limits.py --hypothesis-profile=fuzz-long``
(profile registered in ``tests/conftest.py``; results in bench/RESULTS.md).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.nodes import RunningNode, start_node_process
from tests.wire_strategies import (
    broken_string_frames,
    deep_frames,
    envelope_maps,
    msgpack_values,
    utf8_chars,
)

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
NODE_COMMANDS = ("actor.ping", "node.resolve", "node.info", "node.status", "node.tree")
"""Front door commands a fuzzer may send with any body (never stop, restart, stop_child)."""
ECHO_TYPES = ("echo.ping", "actor.ping", "actor.statistics")
PROBE_TIMEOUT = 10.0
"""Seconds the well-formed ask after an example may take (the node is shared with others)."""


class Peer:
    """A foreign agent: DEALERs to the front door and to ``echo``, and a probe per example."""

    def __init__(self, node: RunningNode) -> None:
        self.node = node
        self.ctx = zmq.Context()
        self.front = self._dealer(node.endpoint)
        self._ids = itertools.count()
        resolved = self._probe(self.front, "node.resolve", {"name": "echo"})
        self.actor = self._dealer(resolved["body"]["endpoint"])

    def _dealer(self, endpoint: str) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        return sock

    def _probe(self, sock: zmq.Socket[bytes], type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Ask a well-formed question; skip the answers to fuzz input until its reply."""
        id_ = f"probe-{next(self._ids)}"
        to = "node" if sock is self.front else "echo"
        sock.send(msgpack.packb({"v": 1, "kind": "ask", "id": id_, "to": to, "type": type_,
                                 "body": body}))
        deadline = time.monotonic() + PROBE_TIMEOUT
        while True:
            if not sock.poll(100):
                assert self.node.proc.poll() is None, "the node process died"
                assert time.monotonic() < deadline, f"no answer to a well-formed {type_}"
                continue
            frames = sock.recv_multipart()
            answer = msgpack.unpackb(frames[-1], raw=False, strict_map_key=False)
            if answer.get("id") == id_:
                assert answer["kind"] == "reply", answer
                return answer

    def still_serving(self) -> None:
        """The same node process answers, and echo's first incarnation answers."""
        about = self._probe(self.front, "node.info", {})
        assert about["body"]["pid"] == self.node.pid
        pong = self._probe(self.actor, "echo.ping", {"n": 1})
        assert pong["incarnation"] == 1 and pong["body"]["incarnation"] == 1, pong

    def close(self) -> None:
        self.front.close()
        self.actor.close()
        self.ctx.term()


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    """One node (echo only) for every example of this module, and a raw peer of it."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    node = start_node_process(tmp, {"children": [{"name": "echo", "actor": "echo"}]})
    agent = Peer(node)
    yield agent
    agent.close()
    node.stop()


def _send(sock: zmq.Socket[bytes], payload: Any) -> None:
    sock.send(payload if isinstance(payload, bytes) else msgpack.packb(payload))


def _bodies(field_names: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Bodies that are maps of the right field names with any values, or anything at all."""
    fields = {name: msgpack_values(10) for name in field_names}
    return st.fixed_dictionaries({}, optional=fields) | msgpack_values(10)


front_envelopes = envelope_maps("node", st.sampled_from(NODE_COMMANDS) | st.text(utf8_chars, max_size=20),
                                _bodies(("name",)))
actor_envelopes = envelope_maps("echo", st.sampled_from(ECHO_TYPES) | st.text(utf8_chars, max_size=20),
                                _bodies(("n", "text")))
WELL_FORMED = {"v": 1, "kind": "ask", "id": 1, "type": "echo.ping", "body": {"n": 1}}


def _harmless(envelope: dict[Any, Any]) -> bool:
    """Never let a fuzzer stop or restart what it is fuzzing."""
    return envelope.get("type") not in ("node.stop", "node.restart", "node.stop_child")


@FUZZ
@given(envelope=front_envelopes.filter(_harmless))
def test_front_door_survives_any_envelope(peer: Peer, envelope: dict[Any, Any]):
    """Any envelope map at the front door: an answer or silence, and the node serves on."""
    _send(peer.front, envelope)
    peer.still_serving()


@FUZZ
@given(envelope=actor_envelopes)
def test_actor_survives_any_envelope(peer: Peer, envelope: dict[Any, Any]):
    """Any envelope map at an actor: an answer or silence, and the same incarnation serves on."""
    _send(peer.actor, envelope)
    peer.still_serving()


@FUZZ
@given(where=st.sampled_from(["front", "actor"]),
       frames=st.lists(st.binary(max_size=200) | msgpack_values(10).map(msgpack.packb)
                       | broken_string_frames({**WELL_FORMED, "to": "echo"}), min_size=1, max_size=4))
def test_any_frames_anywhere(peer: Peer, where: str, frames: list[bytes]):
    """Random bytes, random msgpack values and envelopes with strings that are not UTF-8,
    in one to four frames, to either socket."""
    (peer.front if where == "front" else peer.actor).send_multipart(frames)
    peer.still_serving()


@FUZZ
@given(where=st.sampled_from(["front", "actor"]),
       frame=deep_frames({**WELL_FORMED, "to": "echo"}) | deep_frames({**WELL_FORMED, "to": "node"}),
       size=st.sampled_from([0, 1 << 19, (1 << 20) - 300, 1 << 20, (1 << 20) + 1]))
def test_deep_and_large_envelopes(peer: Peer, where: str, frame: bytes, size: int):
    """Envelopes nested up to 1,500 deep in any field, and bodies around the size limit."""
    sock = peer.front if where == "front" else peer.actor
    sock.send(frame)
    if size:
        _send(sock, {**WELL_FORMED, "to": "echo" if where == "actor" else "node",
                     "body": {"n": 1, "text": "\u00e9" * (size // 2)}})
    peer.still_serving()
