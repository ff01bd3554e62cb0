"""AMQP bridge (extra ``amqp``: aio-pika): queues become asks to actors, acknowledged after
the answer; ``bridge.publish`` publishes with publisher confirms.

Configure it as ``{"name": "amqp", "actor": "amqp", "settings": {...}}``; see
:class:`AmqpSettings` and :class:`AmqpSubscription`.
"""

from ._actor import AmqpBridge
from ._client import AmqpClient
from ._settings import AmqpSettings, AmqpSubscription

__all__ = ["AmqpBridge", "AmqpClient", "AmqpSettings", "AmqpSubscription"]
