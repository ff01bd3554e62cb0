"""The CoAP actor (built-in name ``coap``): a CoAP server in front of actors, and a client
for CoAP devices, on one aiocoap context driven by its own event loop."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging

try:
    import aiocoap
    import aiocoap.resource
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the CoAP actor needs aiocoap: pip install 'agent-cellphone[coap]'") from exc

from actors import AsyncConnection, connect_async, handler
from actors.connectors import ServiceActor

from ._messages import CoapRequest, CoapResponse, CoapStatistics
from ._requests import RequestCounters, Requester
from ._server import ActorResource, ServedCounters
from ._settings import CoapSettings

log = logging.getLogger("actors.connectors")


class CoapActor(ServiceActor):
    """Serves ``settings.resources`` over CoAP and answers ``coap.request`` (see the settings)."""

    settings_class = CoapSettings

    async def open_clients(self) -> None:
        s: CoapSettings = self.context.settings
        self._served = ServedCounters()
        self._asked = RequestCounters()
        self._requester = Requester(self.name, s, self.guard, self._asked, self.record)
        self._connection: AsyncConnection | None = connect_async(self.context.node_endpoint)
        self._endpoint = ""
        if s.port:
            site = aiocoap.resource.Site()
            for config in s.resources:
                site.add_resource(config.segments, ActorResource(
                    config, lambda: self._require(self._connection), self._served, self.record))
            server = await aiocoap.Context.create_server_context(site, bind=(s.host, s.port))
            self._endpoint = f"coap://{s.host}:{s.port}"
            log.info("CoAP actor %r serving %d resource(s) at %s", self.name, len(s.resources),
                     self._endpoint)
            self._requester.context = server
        else:
            self._requester.context = await aiocoap.Context.create_client_context()

    @staticmethod
    def _require(connection: AsyncConnection | None) -> AsyncConnection:
        assert connection is not None
        return connection

    async def close_clients(self) -> None:
        context = self._requester.context
        if context is not None:
            with contextlib.suppress(Exception):
                await context.shutdown()
        if self._connection is not None:
            await self._connection.close()

    @handler
    def on_request(self, msg: CoapRequest) -> concurrent.futures.Future[CoapResponse]:
        data = self._requester.check(msg)
        return self.loop.submit(self._requester.request(msg, data, self.context.deadline))

    def statistics(self) -> CoapStatistics:
        served, asked = self._served, self._asked
        return CoapStatistics(
            endpoint=self._endpoint, availability=1.0,
            resources=[r.path for r in self.context.settings.resources], served=served.served,
            answered=served.answered, bad_requests=served.bad_requests, failed=served.failed,
            requests=asked.requests, responses=asked.responses, unreachable=asked.unreachable,
            by_code=dict(asked.by_code))
