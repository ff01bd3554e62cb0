"""The AMQP bridge actor (built-in name ``amqp``)."""

from __future__ import annotations

from actors.connectors import BrokerBridge, BrokerClient

from ._client import AmqpClient
from ._settings import AmqpSettings


class AmqpBridge(BrokerBridge):
    """Bridges an AMQP broker: queues to actors, ``bridge.publish`` to an exchange."""

    settings_class = AmqpSettings

    def make_client(self) -> BrokerClient:
        return AmqpClient(self.name, self.context.settings)
