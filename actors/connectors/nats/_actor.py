"""The NATS bridge actor (built-in name ``nats``)."""

from __future__ import annotations

from actors.connectors import BrokerBridge, BrokerClient

from ._client import NatsClient
from ._settings import NatsSettings


class NatsBridge(BrokerBridge):
    """Bridges a NATS server: subjects and JetStream consumers to actors, publishes to subjects."""

    settings_class = NatsSettings

    def make_client(self) -> BrokerClient:
        return NatsClient(self.name, self.context.settings)
