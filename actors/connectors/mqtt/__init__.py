"""MQTT bridge (extra ``mqtt``: paho-mqtt 2.x): subscriptions become asks to actors, and
``bridge.publish`` publishes, over MQTT 5 with a persistent session.

Configure it as ``{"name": "mqtt", "actor": "mqtt", "settings": {...}}``; see
:class:`MqttSettings` and :class:`MqttSubscription`.
"""

from ._acks import OrderedAcks
from ._actor import MqttBridge
from ._client import MqttClient
from ._settings import MqttSettings, MqttSubscription

__all__ = ["MqttBridge", "MqttClient", "MqttSettings", "MqttSubscription", "OrderedAcks"]
