"""The node's event stream: one XPUB socket that carries lifecycle events, the hosts'
published events and ``node.welcome``, each ``[topic, envelope]`` through the codec."""

from __future__ import annotations

from typing import Any

import zmq

from actors import ServerKeys, bind_socket, bound_endpoint
from messages import KIND_EVENT, Envelope, Welcome, encode, to_wire, type_tag


class EventStream:
    """Publishes the node's events; confirms each new subscription with a welcome."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str,
                 keys: ServerKeys | None) -> None:
        self.socket = bind_socket(ctx, zmq.XPUB, endpoint, xpub_verbose=1, security=keys)
        """Polled by the node loop (subscriptions arrive on it); closed with the context."""
        self.endpoint = bound_endpoint(self.socket)

    def publish(self, event: Any) -> None:
        """Put one of the node's own events (a registered message with a ``name``) out."""
        self.publish_body(type_tag(event), event.name, to_wire(event))

    def publish_body(self, topic: str, name: str, body: dict[str, Any]) -> None:
        """Put one event on the stream: ``[topic, envelope]``, from ``name``."""
        env = Envelope(KIND_EVENT, 0, name, topic, body)
        self.socket.send_multipart([topic.encode(), encode(env)])

    def welcome_subscribers(self) -> None:
        """Answer each new subscription with ``node.welcome``: a subscriber that sees it
        knows its earlier subscriptions are in place (no slow-joiner gap)."""
        while True:
            try:
                frame = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frame[:1] == b"\x01":
                self.publish(Welcome(frame[1:].decode(errors="replace")))
