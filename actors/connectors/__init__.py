"""Connectors: message brokers, devices, HTTP APIs and cloud services reached from actors.

One package per protocol, each behind its own extra — :mod:`actors.connectors.mqtt`
(``mqtt``), :mod:`~actors.connectors.amqp` (``amqp``), :mod:`~actors.connectors.nats`
(``nats``), :mod:`~actors.connectors.coap` (``coap``) — on a shared core: a
:class:`BrokerBridge` actor runs its broker client on an event loop of its own, turns each
broker message into an ask to a target actor and acknowledges it only after the answer,
reconnects with backoff, dead-letters what cannot be delivered, times every message with
the profiler, reports its connection to health and guards the broker with a breaker.

Request/response services (:mod:`~actors.connectors.http`, :mod:`~actors.connectors.openai`,
:mod:`~actors.connectors.aws`) share :class:`ServiceCaller`: a :class:`Limiter` per
resource (rate, concurrency, ``Retry-After`` pauses) for every agent of the node, the
breaker guard, the resource's retry policy and profiler timing; keys come from the
environment or a file (:func:`load_secret`) and never reach a log or a reply
(:class:`Redactor`). This front door holds what every connector shares and imports no
broker or service client.
"""

from ._actor import BrokerBridge
from ._client import BrokerClient, Delivery, Sink
from ._core import BridgeCore
from ._errors import (
    BadPayload,
    BrokerUnavailable,
    ConnectorError,
    DeviceUnavailable,
    PublishRefused,
    RateLimited,
    RequestRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from ._guard import BrokerGuard
from ._limits import Limiter, RateLimit, TokenBucket, retry_after_seconds
from ._loop import LoopThread
from ._match import amqp_matches, nats_matches
from ._messages import STATE_TOPIC, BridgeStatistics, BrokerMessage, Publish, Published
from ._payload import ENCODINGS, Encoding, content_id, decode_payload, encode_payload
from ._secrets import Redactor, Secret, load_secret
from ._service import ApiSettings, ServiceCaller, ServiceSettings
from ._service_actor import ServiceActor
from ._settings import BridgeSettings, Route

__all__ = [
    "ENCODINGS",
    "STATE_TOPIC",
    "ApiSettings",
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
    "Limiter",
    "LoopThread",
    "Publish",
    "PublishRefused",
    "Published",
    "RateLimit",
    "RateLimited",
    "Redactor",
    "RequestRejected",
    "Route",
    "Secret",
    "ServiceActor",
    "ServiceCaller",
    "ServiceSettings",
    "ServiceTimeout",
    "ServiceUnavailable",
    "Sink",
    "TokenBucket",
    "amqp_matches",
    "content_id",
    "decode_payload",
    "encode_payload",
    "load_secret",
    "nats_matches",
    "retry_after_seconds",
]
