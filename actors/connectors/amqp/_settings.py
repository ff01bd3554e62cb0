"""Settings of the AMQP bridge (aio-pika, AMQP 0-9-1 as RabbitMQ speaks it)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from actors.connectors import BridgeSettings, Route


def _queue(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name}: expected a queue name, got {value!r}")


@attrs.frozen(kw_only=True)
class AmqpSubscription(Route):
    """One queue and where its messages go.

    ``ack`` ``manual`` (the default) is at least once: each message is acknowledged after
    its target answered, and requeued by the broker if the bridge goes away with it;
    ``auto`` lets the broker forget each message as it sends it (at most once). With
    ``declare`` the queue is declared durable if missing; with ``exchange`` it is bound
    to that (existing) exchange with ``routing_key`` (AMQP topic wildcards ``*`` and ``#``).
    """

    queue: str = attrs.field(validator=_queue)
    ack: Literal["manual", "auto"] = "manual"
    declare: bool = True
    exchange: str = ""
    routing_key: str = "#"


@attrs.frozen(kw_only=True)
class AmqpSettings(BridgeSettings):
    """Broker, credentials and subscriptions of one AMQP bridge.

    Publishes go to ``exchange`` ("" is the default exchange, where a routing key names a
    queue) with publisher confirms, as persistent messages; ``max_in_flight`` is the
    channel's prefetch count. With no ``dead_letter``, a bad or failed message is rejected
    without requeueing, so the queue's own dead-letter exchange gets it if it has one.
    """

    port: int = 5672
    username: str | None = "guest"
    password: str | None = "guest"
    virtual_host: str = "/"
    subscriptions: list[AmqpSubscription] = attrs.field(factory=list)
    exchange: str = ""
    tls: bool = False
