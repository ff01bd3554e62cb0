"""The MQTT bridge actor (built-in name ``mqtt``)."""

from __future__ import annotations

from actors.connectors import BrokerBridge, BrokerClient

from ._client import MqttClient
from ._settings import MqttSettings


class MqttBridge(BrokerBridge):
    """Bridges an MQTT broker: subscriptions to actors, ``bridge.publish`` to topics."""

    settings_class = MqttSettings

    def make_client(self) -> BrokerClient:
        return MqttClient(self.name, self.context.settings)
