"""The base of connector actors that answer asks by calling out (CoAP devices, HTTP APIs,
model APIs, cloud services): an event loop of their own, a breaker guard, a redactor.

A subclass opens its clients on the loop in :meth:`ServiceActor.open_clients` and closes
them in :meth:`ServiceActor.close_clients`; its handlers hand coroutines to
:attr:`ServiceActor.loop` and return the futures, so the actor thread stays free while
requests are under way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from actors import Actor
from actors.breaker import CircuitOpenError
from actors.profiler import default_recorder

from ._errors import ConnectorError
from ._guard import BrokerGuard
from ._loop import LoopThread
from ._secrets import Redactor

START_TIMEOUT = 10.0
"""Seconds ``on_start`` and ``on_stop`` wait for the loop to open or close the clients."""


class ServiceActor(Actor):
    """See module doc. Settings must have a ``breaker`` field (the breaker actor's name, or
    None for no breaker)."""

    expected_errors: ClassVar[tuple[type[Exception], ...]] = (ConnectorError, CircuitOpenError)
    quiet_loggers: ClassVar[tuple[str, ...]] = ()
    """Libraries whose INFO lines would repeat every request (URLs, headers): WARNING and up."""

    def on_start(self) -> None:
        for noisy in self.quiet_loggers:
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self.redactor = Redactor()
        self.record = default_recorder().record
        self.guard = BrokerGuard(self.context.connection(), self.context.settings.breaker, self.name)
        self.loop = LoopThread(f"{self.name}-loop")
        try:
            self.loop.run(self._start(), START_TIMEOUT)
        except BaseException:
            self.loop.close()
            raise

    async def _start(self) -> None:
        await self.open_clients()
        self._attach: asyncio.Task[Any] = asyncio.get_running_loop().create_task(self.guard.attach())

    async def open_clients(self) -> None:
        """Open the service clients (on the loop; raising here is a failed start)."""

    async def close_clients(self) -> None:
        """Close them (on the loop, at a normal stop)."""

    def on_stop(self) -> None:
        try:
            self.loop.run(self._stop(), START_TIMEOUT)
        finally:
            self.loop.close()
            self.guard.close()

    async def _stop(self) -> None:
        self._attach.cancel()
        await self.close_clients()
