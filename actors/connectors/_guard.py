"""The broker as a circuit-breaker resource: connection attempts and publishes are its calls.

The bridge records each connection attempt and each ``bridge.publish`` with the node's
breaker actor (through :class:`~actors.breaker.BreakerClient`, whose check is local), so
``run_node.py breakers`` shows the broker's state, and while its circuit is open a
publish fails at once with ``CircuitOpenError`` instead of waiting on a dead broker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.breaker import CLOSED, BreakerClient, classify, error_types
from messages import ActorNotFound

log = logging.getLogger("actors.connectors")

ATTACH_TIMEOUT = 30.0
"""Seconds a bridge waits for the node to say whether it has a breaker actor."""


class BrokerGuard:
    """One bridge's breaker resource (a connector talking to many devices names one per
    device); unguarded until :meth:`attach` finds the breaker actor."""

    def __init__(self, connection: Any, breaker: str | None, resource: str) -> None:
        self.connection = connection
        self.breaker = breaker
        self.resource = resource
        self.client: BreakerClient | None = None

    async def attach(self) -> None:
        """Find the breaker actor (on a worker thread: the node may be busy starting us) and
        guard with it; if the node has none, stay unguarded and say so once."""
        if self.breaker is None:
            return
        loop = asyncio.get_running_loop()
        try:
            self.client = await loop.run_in_executor(None, self._open, self.breaker)
        except (ActorNotFound, TimeoutError) as exc:
            log.info("bridge %r: no breaker actor %r on this node (%s); the broker is unguarded",
                     self.resource, self.breaker, type(exc).__name__)

    def _open(self, breaker: str) -> BreakerClient:
        """Resolve the breaker actor, then open a client (which reads the states at once)."""
        self.connection.resolve(breaker, timeout=ATTACH_TIMEOUT)
        return BreakerClient(self.connection, breaker)

    async def check(self, resource: str | None = None) -> int:
        """Raise CircuitOpenError while the circuit of ``resource`` (default: the broker) is
        open; else a trial permit (or 0).

        A closed circuit is a dict lookup; any other state may ask the breaker actor, which
        is done on a worker thread so the event loop never blocks on it.
        """
        client = self.client
        name = resource or self.resource
        if client is None or client.state(name) == CLOSED:
            return 0
        return await asyncio.get_running_loop().run_in_executor(None, client.check, name)

    def record(self, ok: bool, seconds: float, error: BaseException | None = None,
               permit: int = 0, resource: str | None = None) -> None:
        """Account one call's outcome with the breaker (batched by the client)."""
        if self.client is None:
            return
        name = resource or self.resource
        if error is None:
            self.client.record(name, True, seconds, permit=permit)
        else:
            self.client.record(name, False, seconds, classify(error), message=str(error),
                               permit=permit, error_types=error_types(error))

    def close(self) -> None:
        """Ship what is left and stop the client's thread."""
        if self.client is not None:
            self.client.close()
