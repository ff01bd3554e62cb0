"""The NATS adapter: one nats-py connection per session, core subscriptions and JetStream
pull consumers on the bridge's loop.

nats-py's own reconnection is off (``allow_reconnect=False``): a lost connection closes
the client, and the core's session opens a new one and subscribes again. JetStream
consumers are pulled in batches no larger than the room left under ``max_in_flight``, so
the bridge never holds more unacknowledged messages than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from typing import Any

try:
    import nats
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the NATS bridge needs nats-py: pip install 'agent-cellphone[nats]'") from exc
from nats.aio.client import Client as NatsConnection
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from actors.connectors import (
    BrokerUnavailable,
    Delivery,
    PublishRefused,
    Sink,
    content_id,
    nats_matches,
)

from ._settings import NatsSettings, NatsSubscription

log = logging.getLogger("actors.connectors")
ID_HEADER = "Nats-Msg-Id"
"""The header JetStream deduplicates on; set on every publish, read on every message."""
FETCH_WAIT = 1.0
"""Seconds one JetStream pull waits for messages before it asks again."""


class NatsClient:
    """:class:`~actors.connectors.BrokerClient` for NATS over nats-py."""

    protocol = "nats"

    def __init__(self, name: str, settings: NatsSettings) -> None:
        self.name = name
        self.settings = settings
        self.address = f"{settings.host}:{settings.port}"
        self._nc: NatsConnection | None = None
        self._lost: asyncio.Future[str] | None = None
        self._pullers: list[asyncio.Task[None]] = []
        self._room = asyncio.Semaphore(settings.max_in_flight)

    def sources(self) -> list[str]:
        return [s.subject for s in self.settings.subscriptions]

    def allows(self, pattern: str, topic: str) -> bool:
        return nats_matches(pattern, topic)

    async def connect(self, sink: Sink) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        lost = self._lost = loop.create_future()

        async def closed() -> None:
            if not lost.done():
                lost.set_result(f"connection closed: {nc.last_error or 'by the server'}")

        async def quiet(exc: Exception) -> None:
            log.debug("bridge %r: nats-py reports %s", self.name, exc)

        nc = NatsConnection()
        await nc.connect(servers=[f"nats://{s.host}:{s.port}"], user=s.username, password=s.password,
                         token=s.token, name=f"agentcell-{self.name}", allow_reconnect=False,
                         connect_timeout=max(1, math.ceil(s.connect_timeout)), closed_cb=closed,
                         disconnected_cb=closed, error_cb=quiet)
        self._nc = nc
        for index, sub in enumerate(s.subscriptions, start=1):
            if sub.stream is None:
                await nc.subscribe(sub.subject, queue=sub.queue, cb=self._core_handler(sub, sink))
            else:  # a missing stream fails the connection: the session tries again later
                pulled = await self._consumer(nc, index, sub)
                self._pullers.append(loop.create_task(self._pull(pulled, sub, sink, lost)))
        await nc.flush()

    async def closed(self) -> str:
        assert self._lost is not None
        return await asyncio.shield(self._lost)

    async def close(self) -> None:
        for task in self._pullers:
            task.cancel()
        await asyncio.gather(*self._pullers, return_exceptions=True)
        self._pullers = []
        nc, self._nc = self._nc, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await nc.close()

    # -- inbound ---------------------------------------------------------------------
    def _core_handler(self, sub: NatsSubscription, sink: Sink) -> Any:
        async def handle(msg: Msg) -> None:
            headers = dict(msg.headers or {})
            data = msg.data
            message_id = headers.pop(ID_HEADER, "") or content_id(msg.subject, data)
            sink(Delivery(sub, sub.subject, msg.subject, data, message_id, False,
                          reply_to=msg.reply or "", headers=headers))
        return handle

    async def _consumer(self, nc: NatsConnection, index: int, sub: NatsSubscription) -> Any:
        """The durable pull consumer of a JetStream subscription (created if missing)."""
        durable = sub.durable or f"agentcell-{self.name}-{index}"
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                                ack_wait=sub.ack_wait, max_ack_pending=self.settings.max_in_flight)
        return await nc.jetstream().pull_subscribe(sub.subject, durable=durable, stream=sub.stream,
                                                   config=config)

    async def _pull(self, pulled: Any, sub: NatsSubscription, sink: Sink,
                    lost: asyncio.Future[str]) -> None:
        """Fetch, never more than there is room for; a failing consumer ends the connection."""
        try:
            while True:
                await self._room.acquire()
                room = 1
                while room < self.settings.max_in_flight and not self._room.locked():
                    await self._room.acquire()
                    room += 1
                messages: list[Msg] = []
                try:
                    messages = await pulled.fetch(room, timeout=FETCH_WAIT)
                except nats.errors.TimeoutError:
                    pass
                finally:
                    for _ in range(room - len(messages)):  # room not taken by a message
                        self._room.release()
                for msg in messages:
                    headers = dict(msg.headers or {})
                    meta = msg.metadata
                    message_id = headers.pop(ID_HEADER, "") or f"{sub.stream}:{meta.sequence.stream}"
                    sink(Delivery(sub, sub.subject, msg.subject, msg.data, message_id, True,
                                  redelivered=meta.num_delivered > 1, headers=headers, handle=msg))
        except Exception as exc:
            if not lost.done():
                lost.set_result(f"JetStream consumer on {sub.stream!r} failed: "
                                f"{type(exc).__name__}: {exc}")

    # -- settling --------------------------------------------------------------------
    async def ack(self, delivery: Delivery) -> None:
        await self._settle(delivery, "ack")

    async def reject(self, delivery: Delivery) -> None:
        await self._settle(delivery, "term")

    async def release(self, delivery: Delivery) -> None:
        await self._settle(delivery, "nak")

    async def extend(self, delivery: Delivery) -> None:
        msg = delivery.handle
        if msg is not None:
            await msg.in_progress()

    async def _settle(self, delivery: Delivery, how: str) -> None:
        msg = delivery.handle
        if msg is None:
            return  # core NATS: nothing to settle
        self._room.release()
        await getattr(msg, how)()

    # -- outbound --------------------------------------------------------------------
    async def publish(self, topic: str, data: bytes, *, qos: int | None, message_id: str,
                      reply_to: str, correlation: bytes | None, headers: dict[str, str]) -> bool:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise BrokerUnavailable(f"NATS server {self.address} not connected; {topic!r} not published")
        all_headers = {**headers, ID_HEADER: message_id} if message_id else dict(headers)
        try:
            if self.settings.publish_jetstream and not reply_to:
                await nc.jetstream().publish(topic, data, headers=all_headers or None)
                return True
            await nc.publish(topic, data, reply=reply_to, headers=all_headers or None)
        except (nats.errors.BadSubjectError, nats.errors.MaxPayloadError,
                nats.errors.BadHeaderError) as exc:
            raise PublishRefused(f"NATS cannot publish to {topic!r}: {type(exc).__name__}: "
                                 f"{exc}") from None
        except nats.errors.Error as exc:  # closed, stale, buffer full, no JetStream ack
            raise BrokerUnavailable(f"NATS server {self.address}: publish to {topic!r} failed "
                                    f"({type(exc).__name__}: {exc}); it may or may not have "
                                    "been taken") from None
        return False
