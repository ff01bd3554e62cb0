"""The base of the broker bridge actors: a thin :class:`Actor` over :class:`BridgeCore`.

Each protocol's bridge subclasses it only to name its settings class and build its
adapter (:meth:`BrokerBridge.make_client`); everything else is shared.
"""

from __future__ import annotations

import concurrent.futures
from typing import ClassVar

from actors import Actor, handler
from actors.breaker import CircuitOpenError

from ._client import BrokerClient
from ._core import BridgeCore
from ._errors import ConnectorError
from ._guard import BrokerGuard
from ._loop import LoopThread
from ._messages import BridgeStatistics, Publish, Published

START_TIMEOUT = 5.0
"""Seconds ``on_start`` waits for the bridge's loop to take its parts (not for the broker)."""


class BrokerBridge(Actor):
    """Bridges one broker connection into the node (see :mod:`actors.connectors`)."""

    expected_errors: ClassVar[tuple[type[Exception], ...]] = (ConnectorError, CircuitOpenError)

    def make_client(self) -> BrokerClient:
        """The protocol adapter for this bridge's settings (subclasses build it)."""
        raise NotImplementedError

    def on_start(self) -> None:
        settings = self.context.settings
        guard = BrokerGuard(self.context.connection(), settings.breaker, self.name)
        self._loop = LoopThread(f"{self.name}-loop")
        self._core = BridgeCore(self.name, self.make_client(), settings, guard,
                                self.context.node_endpoint, self.context.publish)
        self._loop.run(self._core.start(), START_TIMEOUT)

    def on_stop(self) -> None:
        try:
            self._loop.run(self._core.stop(), self.context.settings.drain_timeout + START_TIMEOUT)
        finally:
            self._loop.close()
            self._core.guard.close()

    @handler
    def on_publish(self, msg: Publish) -> concurrent.futures.Future[Published]:
        assert self._core.publisher is not None
        data = self._core.publisher.check(msg)
        return self._loop.submit(self._core.publish(msg, data, self.context.deadline))

    def statistics(self) -> BridgeStatistics:
        return self._core.statistics()
