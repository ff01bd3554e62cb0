"""What a protocol adapter gives the shared core, and what it hands in for each message.

An adapter (:class:`BrokerClient`) wraps one ecosystem client (paho-mqtt, aio-pika,
nats-py) for one connection at a time. The core's :class:`~._session.Session` calls
:meth:`~BrokerClient.connect` again after every loss, so adapters hold no reconnect logic
of their own; they turn each broker message into a :class:`Delivery` and settle it when
the core says how its delivery went.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import attrs

from ._settings import Route


@attrs.define(slots=True)
class Delivery:
    """One broker message on its way to an actor; ``handle`` is the adapter's own."""

    route: Route
    source: str
    topic: str
    data: bytes
    message_id: str
    reliable: bool
    """At least once: settled (acked) only after the target answered."""
    redelivered: bool = False
    qos: int | None = None
    """MQTT's QoS of the message (its answer is published with the same); None elsewhere."""
    reply_to: str = ""
    correlation: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    handle: Any = None


Sink = Callable[[Delivery], None]
"""Where an adapter hands each message in (called on the bridge's event loop)."""


class BrokerClient(Protocol):
    """One broker connection at a time, on the bridge's event loop."""

    protocol: str
    """Short name used in op names and logs: ``mqtt``, ``amqp``, ``nats``."""
    address: str
    """Where the broker is, for logs and statistics (``127.0.0.1:1883``)."""

    def sources(self) -> list[str]:
        """The subscriptions, as the profiler and statistics name them."""

    def allows(self, pattern: str, topic: str) -> bool:
        """Whether ``topic`` matches publish permission ``pattern`` (protocol wildcards)."""

    async def connect(self, sink: Sink) -> None:
        """Open a connection and subscribe; raise if either fails."""

    async def closed(self) -> str:
        """Wait until the connection is lost; say why."""

    async def close(self) -> None:
        """Close the connection (unsettled messages go back to the broker)."""

    async def publish(self, topic: str, data: bytes, *, qos: int | None, message_id: str,
                      reply_to: str, correlation: bytes | None, headers: dict[str, str]) -> bool:
        """Publish; True once the broker confirmed it, False if it was only sent."""

    async def ack(self, delivery: Delivery) -> None:
        """The message was handled: the broker may forget it."""

    async def reject(self, delivery: Delivery) -> None:
        """The message was dead-lettered or dropped: the broker must not send it again."""

    async def release(self, delivery: Delivery) -> None:
        """The message was not handled (the bridge is stopping): the broker may send it again."""

    async def extend(self, delivery: Delivery) -> None:
        """Delivery is still being retried: keep the broker from redelivering meanwhile."""
