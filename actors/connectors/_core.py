"""One bridge's parts on its event loop: session, deliverer, publisher, guard, counters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from actors import connect_async
from actors.profiler import default_recorder

from ._client import BrokerClient
from ._counters import Counters
from ._delivery import Deliverer
from ._guard import BrokerGuard
from ._messages import STATE_TOPIC, BridgeStatistics, Publish, Published
from ._publisher import Publisher
from ._session import Session
from ._settings import BridgeSettings

log = logging.getLogger("actors.connectors")


class BridgeCore:
    """Wires a :class:`BrokerClient` to the actor world (built on the actor thread, run on the loop).

    ``publish_event`` puts an event on the node's stream (``bridge.state`` on every change
    of connection state); ``node_endpoint`` is where the target actors are asked.
    """

    def __init__(self, name: str, client: BrokerClient, settings: BridgeSettings, guard: BrokerGuard,
                 node_endpoint: str, publish_event: Callable[[str, Any], None]) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.guard = guard
        self.node_endpoint = node_endpoint
        self.counters = Counters()
        self._publish_event = publish_event
        record = default_recorder().record
        self.deliverer = Deliverer(name, client, settings, self.counters, record)
        self._sink = self.deliverer.accept
        self.session: Session | None = None
        self.publisher: Publisher | None = None
        self._record = record
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the connection to the node and start the connection loop (returns at once)."""
        self.deliverer.connection = connect_async(self.node_endpoint)
        self.session = Session(self.name, self.client, self.settings, self.counters, self.guard,
                               self._sink, self._announce)
        self.publisher = Publisher(self.name, self.client, self.settings, self.counters,
                                   self.session, self.guard, self._record)
        self._task = asyncio.get_running_loop().create_task(self._run(self.session))

    async def _run(self, session: Session) -> None:
        await self.guard.attach()  # first, so that the first connection attempt is accounted
        await session.run()

    async def publish(self, msg: Publish, data: bytes, deadline: float | None) -> Published:
        """``bridge.publish``, on the loop."""
        assert self.publisher is not None
        return await self.publisher.publish(msg, data, deadline)

    async def stop(self) -> None:
        """Finish what is in flight (up to ``drain_timeout``), then close everything."""
        left = await self.deliverer.drain(self.settings.drain_timeout)
        if left:
            log.info("bridge %r stops with %d message(s) unsettled; the broker keeps them", self.name,
                     left)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.close()
        self.counters.state = "stopped"
        if self.deliverer.connection is not None:
            await self.deliverer.connection.close()

    def statistics(self) -> BridgeStatistics:
        """Counters and state, readable from any thread."""
        return self.counters.statistics(self.client.protocol, self.client.address,
                                        self.client.sources())

    def _announce(self, state: str, why: str) -> None:
        self._publish_event(STATE_TOPIC, {"bridge": self.name, "protocol": self.client.protocol,
                                          "broker": self.client.address, "state": state,
                                          "reason": why})
