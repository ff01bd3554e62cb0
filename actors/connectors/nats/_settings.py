"""Settings of the NATS bridge (nats-py 2.x, core NATS and JetStream)."""

from __future__ import annotations

from typing import Any

import attrs

from actors.connectors import BridgeSettings, Route
from messages import positive_seconds


def _subject(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value or " " in value:
        raise ValueError(f"{attribute.name}: expected a NATS subject (wildcards * and >), "
                         f"got {value!r}")


@attrs.frozen(kw_only=True)
class NatsSubscription(Route):
    """One subject (``*`` and ``>`` wildcards) and where its messages go.

    Without ``stream`` it is a core NATS subscription: at most once, in queue group
    ``queue`` if one is named, answered on the request's reply subject. With ``stream`` it
    is a durable JetStream pull consumer (``durable``, default ``agentcell-<bridge>-<n>``):
    at least once, each message acknowledged after its target answered, held by
    ``in_progress`` while it is retried, redelivered by the server after ``ack_wait`` if
    the bridge went away with it.
    """

    subject: str = attrs.field(validator=_subject)
    queue: str = ""
    stream: str | None = None
    durable: str = ""
    ack_wait: float = attrs.field(default=30.0, validator=positive_seconds)


@attrs.frozen(kw_only=True)
class NatsSettings(BridgeSettings):
    """Server, credentials and subscriptions of one NATS bridge.

    ``token`` authenticates by token (else ``username``/``password``). With
    ``publish_jetstream`` publishes go through JetStream: confirmed by the stream and
    deduplicated by their ``Nats-Msg-Id``; else they are core NATS (sent, not confirmed).
    """

    port: int = 4222
    subscriptions: list[NatsSubscription] = attrs.field(factory=list)
    token: str | None = None
    publish_jetstream: bool = False
