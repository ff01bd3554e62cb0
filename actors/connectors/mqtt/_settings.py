"""Settings of the MQTT bridge (paho-mqtt 2.x, MQTT 5)."""

from __future__ import annotations

from typing import Any

import attrs

from actors.connectors import BridgeSettings, Route


def _qos(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if value not in (0, 1, 2) or isinstance(value, bool):
        raise ValueError(f"{attribute.name}: expected an MQTT QoS 0, 1 or 2, got {value!r}")


def _topic(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{attribute.name}: expected a non-empty MQTT topic filter, got {value!r}")


@attrs.frozen(kw_only=True)
class MqttSubscription(Route):
    """One topic filter (``+`` and ``#`` wildcards) and where its messages go.

    QoS 1 and 2 are at least once: each message is acknowledged only after its target
    answered. QoS 0 is at most once (nothing to acknowledge; dropped if the bridge has
    ``max_in_flight`` messages in hand).
    """

    topic: str = attrs.field(validator=_topic)
    qos: int = attrs.field(default=1, validator=_qos)


@attrs.frozen(kw_only=True)
class MqttSettings(BridgeSettings):
    """Broker, session and subscriptions of one MQTT bridge.

    The session is persistent (``clean_start`` false, ``session_expiry`` seconds) under a
    fixed ``client_id`` (default ``agentcell-<actor name>``), so QoS 1 and 2 messages that
    arrive while the bridge restarts wait in the broker for it.
    """

    port: int = 1883
    subscriptions: list[MqttSubscription] = attrs.field(factory=list)
    client_id: str = ""
    clean_start: bool = False
    session_expiry: int = 3600
    keepalive: int = 30
    publish_qos: int = attrs.field(default=1, validator=_qos)
    tls: bool = False
