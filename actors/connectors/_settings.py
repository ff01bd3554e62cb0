"""Settings every bridge shares: where its messages go, how it retries, what it may publish.

Each protocol's settings class extends :class:`BridgeSettings` with its broker options and
its subscription class (which extends :class:`Route` with the topic, queue or subject).
All are frozen attrs classes built from the node's JSON config, so a bad value is refused
before anything starts, with an error naming the key.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from actors.breaker import RetryPolicy
from messages import integer_at_least, positive_seconds

from ._payload import Encoding


def _name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name}: expected a non-empty name, got {value!r}")


def _delivery_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=2.0)


@attrs.frozen(kw_only=True)
class Route:
    """Where one subscription's messages go: actor ``target``, as message ``type``.

    With the default ``type`` (``bridge.message``) the target receives a
    :class:`~actors.connectors.BrokerMessage`; any other type tag makes the decoded
    payload (a map) the body of that message, with the broker's message id in field
    ``id_field`` if one is named. ``mode`` ``ask`` acknowledges the broker message only
    after the target answered (at least once); ``tell`` acknowledges once it is queued for
    the target (at most once to the actor). The answer is published to the message's
    reply address (MQTT 5 response topic, AMQP ``reply_to``, NATS reply subject) or else to
    ``reply_to``, encoded as ``reply_encoding`` (default: as ``payload``).
    """

    target: str = attrs.field(validator=_name)
    type: str = "bridge.message"
    mode: Literal["ask", "tell"] = "ask"
    payload: Encoding = "json"
    reply_encoding: Encoding | None = None
    id_field: str | None = None
    reply_to: str = ""
    timeout: float = attrs.field(default=5.0, validator=positive_seconds)


@attrs.frozen(kw_only=True)
class BridgeSettings:
    """What every bridge takes (see README "Connecting brokers and devices").

    ``publish`` lists the topic patterns ``bridge.publish`` may use (in the protocol's own
    wildcard syntax; empty: none). ``dead_letter`` is where bad payloads and messages
    whose delivery failed ``retry.max_attempts`` times are published (None: dropped and
    counted). ``max_in_flight`` bounds the messages being delivered at once (the broker's
    receive maximum or prefetch). ``breaker`` names the node's breaker actor that guards
    the broker (None: unguarded).
    """

    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=integer_at_least(0))
    username: str | None = None
    password: str | None = None
    publish: list[str] = attrs.field(factory=list)
    publish_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    max_waiting_publishes: int = attrs.field(default=1000, validator=integer_at_least(1))
    dead_letter: str | None = None
    max_in_flight: int = attrs.field(default=100, validator=integer_at_least(1))
    retry: RetryPolicy = attrs.field(factory=_delivery_retry)
    reconnect_min: float = attrs.field(default=0.1, validator=positive_seconds)
    reconnect_max: float = attrs.field(default=5.0, validator=positive_seconds)
    connect_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    drain_timeout: float = attrs.field(default=2.0, validator=positive_seconds)
    breaker: str | None = "breaker"

    def __attrs_post_init__(self) -> None:
        if self.reconnect_max < self.reconnect_min:
            raise ValueError(f"reconnect_max ({self.reconnect_max:g}) must be >= reconnect_min "
                             f"({self.reconnect_min:g})")

    def reconnect_policy(self) -> RetryPolicy:
        """Backoff between connection attempts: full jitter, doubling, capped, never giving up."""
        return RetryPolicy(max_attempts=1, base_delay=self.reconnect_min, max_delay=self.reconnect_max)
