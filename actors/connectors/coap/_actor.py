"""The CoAP actor (built-in name ``coap``): a CoAP server in front of actors, and a client
for CoAP devices, on one aiocoap context driven by its own event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable
from typing import ClassVar

try:
    import aiocoap
    import aiocoap.resource
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the CoAP actor needs aiocoap: pip install 'agent-cellphone[coap]'") from exc

from actors import Actor, AsyncConnection, connect_async, handler
from actors.breaker import CircuitOpenError
from actors.connectors import BrokerGuard, ConnectorError, LoopThread
from actors.profiler import default_recorder

from ._messages import CoapRequest, CoapResponse, CoapStatistics
from ._requests import RequestCounters, Requester
from ._server import ActorResource, ServedCounters
from ._settings import CoapSettings

log = logging.getLogger("actors.connectors")
START_TIMEOUT = 10.0
"""Seconds ``on_start`` waits for the server to bind (a port in use is a failed start)."""


class CoapActor(Actor):
    """Serves ``settings.resources`` over CoAP and answers ``coap.request`` (see the settings)."""

    settings_class = CoapSettings
    expected_errors: ClassVar[tuple[type[Exception], ...]] = (ConnectorError, CircuitOpenError)

    def on_start(self) -> None:
        s: CoapSettings = self.context.settings
        record = default_recorder().record
        self._served = ServedCounters()
        self._asked = RequestCounters()
        self._guard = BrokerGuard(self.context.connection(), s.breaker, self.name)
        self._requester = Requester(self.name, s, self._guard, self._asked, record)
        self._connection: AsyncConnection | None = None
        self._server: aiocoap.Context | None = None
        self._endpoint = ""
        self._loop = LoopThread(f"{self.name}-loop")
        try:
            self._loop.run(self._open(record), START_TIMEOUT)
        except BaseException:
            self._loop.close()
            raise

    async def _open(self, record: Callable[[str, float, bool], None]) -> None:
        s: CoapSettings = self.context.settings
        self._connection = connect_async(self.context.node_endpoint)
        if s.port:
            site = aiocoap.resource.Site()
            for config in s.resources:
                site.add_resource(config.segments, ActorResource(
                    config, lambda: self._require(self._connection), self._served, record))
            self._server = await aiocoap.Context.create_server_context(site, bind=(s.host, s.port))
            self._endpoint = f"coap://{s.host}:{s.port}"
            log.info("CoAP actor %r serving %d resource(s) at %s", self.name, len(s.resources),
                     self._endpoint)
            self._requester.context = self._server
        else:
            self._requester.context = await aiocoap.Context.create_client_context()
        self._attach = asyncio.get_running_loop().create_task(self._guard.attach())

    @staticmethod
    def _require(connection: AsyncConnection | None) -> AsyncConnection:
        assert connection is not None
        return connection

    def on_stop(self) -> None:
        try:
            self._loop.run(self._close(), START_TIMEOUT)
        finally:
            self._loop.close()
            self._guard.close()

    async def _close(self) -> None:
        self._attach.cancel()
        context = self._requester.context
        if context is not None:
            with contextlib.suppress(Exception):
                await context.shutdown()
        if self._connection is not None:
            await self._connection.close()


    @handler
    def on_request(self, msg: CoapRequest) -> concurrent.futures.Future[CoapResponse]:
        data = self._requester.check(msg)
        return self._loop.submit(self._requester.request(msg, data, self.context.deadline))

    def statistics(self) -> CoapStatistics:
        served, asked = self._served, self._asked
        return CoapStatistics(
            endpoint=self._endpoint, availability=1.0,
            resources=[r.path for r in self.context.settings.resources], served=served.served,
            answered=served.answered, bad_requests=served.bad_requests, failed=served.failed,
            requests=asked.requests, responses=asked.responses, unreachable=asked.unreachable,
            by_code=dict(asked.by_code))
