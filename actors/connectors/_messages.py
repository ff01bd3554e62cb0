"""Messages of the broker bridges: what agents send them and what target actors receive."""

from __future__ import annotations

from typing import Any

import attrs

from messages import message

from ._payload import Encoding

STATE_TOPIC = "bridge.state"
"""Event topic on which a bridge announces each change of its broker connection."""


@message("bridge.publish")
class Publish:
    """Ask a bridge to publish ``payload`` to ``topic`` (an MQTT topic, an AMQP routing key,
    a NATS subject), encoded as ``encoding``.

    ``qos`` is MQTT's (None: the bridge's ``publish_qos``); ``message_id`` travels as the
    protocol's message id ("" for a fresh one) so receivers can deduplicate; ``reply_to``
    asks the receiver to answer there. The reply is :class:`Published` once the broker has
    taken the message, or an error: PublishRefused, BrokerUnavailable, BadPayload.
    """

    topic: str
    payload: Any = None
    encoding: Encoding = "json"
    qos: int | None = None
    message_id: str = ""
    reply_to: str = ""
    headers: dict[str, str] = attrs.field(factory=dict)


@message("bridge.published")
class Published:
    """A publish the broker has taken: ``confirmed`` when it acknowledged it (MQTT QoS 1 and
    2, AMQP publisher confirms, JetStream); a QoS 0 or core NATS publish is only sent."""

    topic: str
    message_id: str
    size: int
    confirmed: bool


@message("bridge.message")
class BrokerMessage:
    """A broker message as a target actor receives it (a subscription's default ``type``).

    ``source`` is the subscription (topic filter, queue or subject) and ``topic`` where it
    was published. ``payload`` is decoded per the subscription's ``payload`` encoding.
    Delivery is at least once: the same ``message_id`` may arrive again (``redelivered``
    says the broker knows it sent it before), so handlers that must not act twice keep the
    ids they have handled.
    """

    bridge: str
    source: str
    topic: str
    payload: Any
    message_id: str
    redelivered: bool = False
    reply_to: str = ""
    headers: dict[str, str] = attrs.field(factory=dict)


@message("bridge.statistics")
class BridgeStatistics:
    """A bridge's connection and counters (its ``actor.statistics`` answer).

    ``availability`` is 1.0 while connected and 0.0 otherwise: the health monitor reads it
    as the bridge's availability, so a broker that is down raises a health alert.
    """

    protocol: str
    broker: str
    state: str
    availability: float
    connects: int
    disconnects: int
    last_error: str
    subscriptions: list[str]
    received: int
    acked: int
    """Messages handled by their target and acknowledged (dead letters are counted apart)."""
    replied: int
    redelivered: int
    retries: int
    failed: int
    bad_payloads: int
    dead_lettered: int
    dropped: int
    in_flight: int
    published: int
    publish_errors: int
    publishes_waiting: int
