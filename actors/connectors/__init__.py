"""Connectors: message brokers and devices bridged into the actor world.

One package per protocol, each behind its own extra — :mod:`actors.connectors.mqtt`
(``mqtt``), :mod:`~actors.connectors.amqp` (``amqp``), :mod:`~actors.connectors.nats`
(``nats``), :mod:`~actors.connectors.coap` (``coap``) — on a shared core: a
:class:`BrokerBridge` actor runs its broker client on an event loop of its own, turns each
broker message into an ask to a target actor and acknowledges it only after the answer,
reconnects with backoff, dead-letters what cannot be delivered, times every message with
the profiler, reports its connection to health and guards the broker with a breaker.
This front door holds what every connector shares and imports no broker client.
"""

from ._actor import BrokerBridge
from ._client import BrokerClient, Delivery, Sink
from ._core import BridgeCore
from ._errors import BadPayload, BrokerUnavailable, ConnectorError, DeviceUnavailable, PublishRefused
from ._guard import BrokerGuard
from ._loop import LoopThread
from ._match import amqp_matches, nats_matches
from ._messages import STATE_TOPIC, BridgeStatistics, BrokerMessage, Publish, Published
from ._payload import ENCODINGS, Encoding, content_id, decode_payload, encode_payload
from ._settings import BridgeSettings, Route

__all__ = [
    "ENCODINGS",
    "STATE_TOPIC",
    "BadPayload",
    "BridgeCore",
    "BridgeSettings",
    "BridgeStatistics",
    "BrokerBridge",
    "BrokerClient",
    "BrokerGuard",
    "BrokerMessage",
    "BrokerUnavailable",
    "ConnectorError",
    "Delivery",
    "DeviceUnavailable",
    "Encoding",
    "LoopThread",
    "Publish",
    "PublishRefused",
    "Published",
    "Route",
    "Sink",
    "amqp_matches",
    "content_id",
    "decode_payload",
    "encode_payload",
    "nats_matches",
]
