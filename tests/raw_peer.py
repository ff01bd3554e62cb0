"""A foreign peer for tests: DEALER sockets made with plain pyzmq, envelopes with plain
msgpack, as PROTOCOL.md tells an agent in another language (exempt, with this reason, from
tests/test_transport.py's rule that only the transport makes sockets)."""

from __future__ import annotations

from typing import Any

import msgpack
import zmq

from tests.nodes import RunningNode


class RawPeer:
    """DEALER sockets of a foreign peer (pyzmq and msgpack only, as PROTOCOL.md says): to
    the front door and to one actor."""

    def __init__(self, node: RunningNode, actor: str) -> None:
        self.ctx = zmq.Context()
        self.front = self._dealer(node.endpoint)
        reply = self.ask(self.front, {"v": 1, "kind": "ask", "id": "where", "to": "node",
                                      "type": "node.resolve", "body": {"name": actor}})
        self.actor = self._dealer(reply["body"]["endpoint"])
        self.name = actor

    def _dealer(self, endpoint: str) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(endpoint)
        return sock

    def ask(self, sock: zmq.Socket[bytes], envelope: dict[str, Any] | bytes,
            timeout_ms: int = 5000) -> dict[str, Any]:
        """Send one frame and return the decoded answer (fails the test without one)."""
        sock.send(envelope if isinstance(envelope, bytes) else msgpack.packb(envelope))
        assert sock.poll(timeout_ms), "no answer"
        return msgpack.unpackb(sock.recv(), raw=False, strict_map_key=False)

    def close(self) -> None:
        for sock in (self.front, self.actor):
            sock.close()
        self.ctx.term()
