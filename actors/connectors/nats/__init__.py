"""NATS bridge (extra ``nats``: nats-py): core subjects (at most once) and JetStream
durable consumers (at least once) become asks to actors; ``bridge.publish`` publishes.

Configure it as ``{"name": "nats", "actor": "nats", "settings": {...}}``; see
:class:`NatsSettings` and :class:`NatsSubscription`.
"""

from ._actor import NatsBridge
from ._client import NatsClient
from ._settings import NatsSettings, NatsSubscription

__all__ = ["NatsBridge", "NatsClient", "NatsSettings", "NatsSubscription"]
