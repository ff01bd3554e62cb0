"""The MQTT adapter: one paho-mqtt 2.x client per connection, driven by the bridge's loop.

paho's network calls (``loop_read``, ``loop_write``, ``loop_misc``) are run by the asyncio
loop when the socket is ready, as paho documents for external event loops, so paho's
callbacks, the bridge's asks and the acknowledgements all happen on one thread. Only the
blocking TCP connect runs on a worker thread, before the socket is handed to the loop.
paho reconnects nothing itself: the core's session opens a fresh client after a loss,
and the broker's persistent session brings back what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any

try:
    import paho.mqtt.client as mqtt
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the MQTT bridge needs paho-mqtt 2.x: pip install 'agent-cellphone[mqtt]'") \
        from exc
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from actors.connectors import BrokerUnavailable, Delivery, PublishRefused, Sink, content_id

from ._acks import OrderedAcks
from ._settings import MqttSettings, MqttSubscription

MISC_INTERVAL = 1.0
"""Seconds between paho's housekeeping calls (keepalive pings, a silent broker's timeout)."""
ID_PROPERTY = "message_id"
"""MQTT 5 user property carrying a message id (set on every publish, read on every message)."""


class MqttClient:
    """:class:`~actors.connectors.BrokerClient` for MQTT 5 over paho-mqtt."""

    protocol = "mqtt"

    def __init__(self, name: str, settings: MqttSettings) -> None:
        self.name = name
        self.settings = settings
        self.address = f"{settings.host}:{settings.port}"
        self.client_id = settings.client_id or f"agentcell-{name}"
        self._routes = dict(enumerate(settings.subscriptions, start=1))  # subscription identifiers
        self._client: mqtt.Client | None = None
        self._acks: OrderedAcks | None = None
        self._lost: asyncio.Future[str] | None = None
        self._connack: asyncio.Future[None] | None = None
        self._waiting: dict[int, asyncio.Future[Any]] = {}  # mid -> PUBACK or SUBACK
        self._misc: asyncio.Task[None] | None = None
        self._sink: Sink | None = None

    def sources(self) -> list[str]:
        return [s.topic for s in self.settings.subscriptions]

    def allows(self, pattern: str, topic: str) -> bool:
        return bool(mqtt.topic_matches_sub(pattern, topic))

    # -- connection ----------------------------------------------------------------
    async def connect(self, sink: Sink) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set()
        client.max_inflight_messages_set(s.max_in_flight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_ack
        client.on_subscribe = self._on_ack
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = s.session_expiry
        props.ReceiveMaximum = min(s.max_in_flight, 65535)
        self._sink = sink
        self._lost = loop.create_future()
        self._connack = loop.create_future()
        self._acks = OrderedAcks(client.ack)
        await loop.run_in_executor(None, functools.partial(
            client.connect, s.host, s.port, s.keepalive, clean_start=s.clean_start,
            properties=props))
        self._client = client
        self._attach(client, loop)
        await self._connack
        for ident, sub in self._routes.items():
            sub_props = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
            sub_props.SubscriptionIdentifier = ident
            rc, mid = client.subscribe(sub.topic, options=SubscribeOptions(qos=sub.qos),
                                       properties=sub_props)
            _check(rc, f"subscribe to {sub.topic!r}")
            assert mid is not None
            codes: list[ReasonCode] = await self._wait(mid)
            if any(code.is_failure for code in codes):
                raise ConnectionRefusedError(f"broker refused the subscription to {sub.topic!r}: "
                                             f"{', '.join(str(c) for c in codes)}")

    def _attach(self, client: mqtt.Client, loop: asyncio.AbstractEventLoop) -> None:
        """Hand paho's socket to the loop (paho's documented external-loop callbacks)."""
        sock = client.socket()
        assert sock is not None
        client.on_socket_close = lambda c, u, s: _forget(loop, s)
        client.on_socket_register_write = lambda c, u, s: _add_writer(loop, c, s)
        client.on_socket_unregister_write = lambda c, u, s: _remove_writer(loop, s)
        loop.add_reader(sock, client.loop_read)
        if client.want_write():
            loop.add_writer(sock, client.loop_write)
        self._misc = loop.create_task(_housekeeping(client))

    async def closed(self) -> str:
        assert self._lost is not None
        return await asyncio.shield(self._lost)

    async def close(self) -> None:
        client, self._client = self._client, None
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if client is not None:
            client.disconnect()  # paho closes the socket, which takes it off the loop
            sock = client.socket()
            if sock is not None:
                _forget(asyncio.get_running_loop(), sock)
                sock.close()
        self._fail_waiting("the bridge closed the connection")

    # -- paho callbacks (on the loop) ----------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, code: ReasonCode,
                    properties: Any) -> None:
        if self._connack is None or self._connack.done():
            return
        if code.is_failure:
            self._connack.set_exception(ConnectionRefusedError(f"broker refused the connection: {code}"))
        else:
            self._connack.set_result(None)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, code: ReasonCode,
                       properties: Any) -> None:
        if client is not self._client:
            return
        why = f"connection lost: {code}"
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(ConnectionError(why))
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(why)
        self._fail_waiting(why)

    def _on_ack(self, client: mqtt.Client, userdata: Any, mid: int, codes: Any, properties: Any) -> None:
        future = self._waiting.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(codes)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        route = self._route(msg.topic, getattr(props, "SubscriptionIdentifier", None))
        if route is None or self._sink is None or self._acks is None:
            return
        users = dict(getattr(props, "UserProperty", None) or ())
        data = bytes(msg.payload)
        message_id = users.pop(ID_PROPERTY, "") or content_id(msg.topic, data)
        handle = self._acks.add(msg.mid, msg.qos) if msg.qos else None
        self._sink(Delivery(route, route.topic, msg.topic, data, message_id, msg.qos > 0,
                            redelivered=bool(msg.dup), qos=msg.qos,
                            reply_to=getattr(props, "ResponseTopic", "") or "",
                            correlation=getattr(props, "CorrelationData", None),
                            headers=users, handle=(self._acks, handle)))

    def _route(self, topic: str, idents: Any) -> MqttSubscription | None:
        for ident in idents or ():
            route = self._routes.get(ident)
            if route is not None:
                return route
        return next((s for s in self._routes.values() if mqtt.topic_matches_sub(s.topic, topic)), None)

    # -- settling and publishing ---------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        acks, seq = delivery.handle
        if seq is not None:
            acks.done(seq)

    async def reject(self, delivery: Delivery) -> None:
        await self.ack(delivery)  # MQTT has no negative acknowledgement: done with it is done

    async def release(self, delivery: Delivery) -> None:
        """Left unacknowledged: the persistent session sends it again on the next connection."""

    async def extend(self, delivery: Delivery) -> None:
        """MQTT brokers do not redeliver within a connection: nothing to extend."""

    async def publish(self, topic: str, data: bytes, *, qos: int | None, message_id: str,
                      reply_to: str, correlation: bytes | None, headers: dict[str, str]) -> bool:
        client = self._client
        if client is None or not client.is_connected():
            raise BrokerUnavailable(f"MQTT broker {self.address} not connected; {topic!r} not published")
        level = self.settings.publish_qos if qos is None else qos
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        users = [(ID_PROPERTY, message_id)] if message_id else []
        users += headers.items()
        if users:
            props.UserProperty = users
        if reply_to:
            props.ResponseTopic = reply_to
        if correlation:
            props.CorrelationData = correlation
        try:
            info = client.publish(topic, data, level, properties=props)
        except ValueError as exc:  # a topic with wildcards, a payload over MQTT's limit
            raise PublishRefused(f"MQTT cannot publish to {topic!r}: {exc}") from None
        _check(info.rc, f"publish to {topic!r}")
        if level == 0:
            return False
        codes: ReasonCode = await self._wait(info.mid)
        if codes.is_failure:
            raise BrokerUnavailable(f"MQTT broker refused the publish to {topic!r}: {codes}")
        return True

    def _wait(self, mid: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[mid] = future
        return future

    def _fail_waiting(self, why: str) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(BrokerUnavailable(
                    f"MQTT broker {self.address}: {why} before it acknowledged; the message may "
                    "or may not have been taken"))


async def _housekeeping(client: mqtt.Client) -> None:
    while client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:
        await asyncio.sleep(MISC_INTERVAL)


def _add_writer(loop: asyncio.AbstractEventLoop, client: mqtt.Client, sock: Any) -> None:
    loop.add_writer(sock, client.loop_write)


def _remove_writer(loop: asyncio.AbstractEventLoop, sock: Any) -> None:
    loop.remove_writer(sock)


def _forget(loop: asyncio.AbstractEventLoop, sock: Any) -> None:
    if isinstance(sock, socket.socket) and sock.fileno() >= 0:
        loop.remove_reader(sock)
        loop.remove_writer(sock)


def _check(rc: MQTTErrorCode | int, what: str) -> None:
    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        raise BrokerUnavailable(f"MQTT {what} failed: {mqtt.error_string(rc)}")
