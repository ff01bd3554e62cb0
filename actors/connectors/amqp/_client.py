"""The AMQP adapter: one aio-pika connection and channel per session, on the bridge's loop.

The connection is a plain (not "robust") one: the core's session reconnects, and the
broker requeues what the lost channel held unacknowledged. The channel has publisher
confirms and a prefetch count of ``max_in_flight``, so the broker never hands the bridge
more unacknowledged messages than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote

try:
    import aio_pika
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the AMQP bridge needs aio-pika: pip install 'agent-cellphone[amqp]'") from exc
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from actors.connectors import BrokerUnavailable, Delivery, Sink, amqp_matches, content_id

from ._settings import AmqpSettings, AmqpSubscription

# aiormq logs every lost connection and failed attempt as an error with a traceback; the
# bridge's session reports them itself, counted and at most once per interval.
logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)


class AmqpClient:
    """:class:`~actors.connectors.BrokerClient` for AMQP 0-9-1 over aio-pika."""

    protocol = "amqp"

    def __init__(self, name: str, settings: AmqpSettings) -> None:
        self.name = name
        self.settings = settings
        self.address = f"{settings.host}:{settings.port}"
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._lost: asyncio.Future[str] | None = None

    def sources(self) -> list[str]:
        return [s.queue for s in self.settings.subscriptions]

    def allows(self, pattern: str, topic: str) -> bool:
        return amqp_matches(pattern, topic)

    def url(self) -> str:
        """The broker's AMQP URL (credentials quoted)."""
        s = self.settings
        user = "" if s.username is None else quote(s.username, safe="")
        password = "" if s.password is None else ":" + quote(s.password, safe="")
        scheme = "amqps" if s.tls else "amqp"
        return f"{scheme}://{user}{password}@{s.host}:{s.port}/{quote(s.virtual_host, safe='')}"

    async def connect(self, sink: Sink) -> None:
        s = self.settings
        lost = self._lost = asyncio.get_running_loop().create_future()

        def on_close(_: Any, exc: BaseException | None = None) -> None:
            if not lost.done():
                lost.set_result(f"connection closed: {exc or 'by the broker'}")

        connection = self._connection = await aio_pika.connect(
            self.url(), timeout=s.connect_timeout, client_properties={
                "connection_name": f"agentcell-{self.name}"})
        connection.close_callbacks.add(on_close)
        channel = self._channel = await connection.channel(publisher_confirms=True)
        channel.close_callbacks.add(on_close)
        await channel.set_qos(prefetch_count=s.max_in_flight)
        for sub in s.subscriptions:
            queue = await channel.declare_queue(sub.queue, durable=True, passive=not sub.declare)
            if sub.exchange:
                await queue.bind(sub.exchange, sub.routing_key)
            await queue.consume(self._handler(sub, sink), no_ack=sub.ack == "auto")

    def _handler(self, sub: AmqpSubscription, sink: Sink) -> Any:
        async def handle(msg: AbstractIncomingMessage) -> None:
            data = msg.body
            topic = msg.routing_key or sub.queue
            headers = {str(k): str(v) for k, v in (msg.headers or {}).items()}
            correlation = msg.correlation_id
            sink(Delivery(sub, sub.queue, topic, data, msg.message_id or content_id(topic, data),
                          sub.ack == "manual", redelivered=bool(msg.redelivered),
                          reply_to=msg.reply_to or "",
                          correlation=None if correlation is None else str(correlation).encode(),
                          headers=headers, handle=msg))
        return handle

    async def closed(self) -> str:
        assert self._lost is not None
        return await asyncio.shield(self._lost)

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await connection.close()

    # -- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        if delivery.reliable:
            await delivery.handle.ack()

    async def reject(self, delivery: Delivery) -> None:
        if delivery.reliable:
            await delivery.handle.reject(requeue=False)

    async def release(self, delivery: Delivery) -> None:
        if delivery.reliable:
            await delivery.handle.nack(requeue=True)

    async def extend(self, delivery: Delivery) -> None:
        """A channel's unacknowledged message is never redelivered while the channel lives."""

    # -- outbound --------------------------------------------------------------------
    async def publish(self, topic: str, data: bytes, *, qos: int | None, message_id: str,
                      reply_to: str, correlation: bytes | None, headers: dict[str, str]) -> bool:
        channel = self._channel
        if channel is None or channel.is_closed:
            raise BrokerUnavailable(f"AMQP broker {self.address} not connected; {topic!r} not published")
        exchange = channel.default_exchange if not self.settings.exchange else \
            await channel.get_exchange(self.settings.exchange, ensure=False)
        message = aio_pika.Message(
            data, message_id=message_id or None, reply_to=reply_to or None, headers=dict(headers),
            correlation_id=None if correlation is None else correlation.decode(errors="replace"),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        try:
            await exchange.publish(message, routing_key=topic, mandatory=False)
        except aio_pika.exceptions.AMQPError as exc:
            raise BrokerUnavailable(f"AMQP broker {self.address}: publish to {topic!r} failed "
                                    f"({type(exc).__name__}: {exc}); it may or may not have been "
                                    "taken") from exc
        return True
