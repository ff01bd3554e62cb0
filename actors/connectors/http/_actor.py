"""The HTTP actor (built-in name ``http``): every agent of the node reaches HTTP APIs through
it, so the rate limits, pauses and breakers of each API are shared by all of them."""

from __future__ import annotations

import concurrent.futures

try:
    import httpx  # noqa: F401  (the extra's client; the requester uses it)
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("the HTTP actor needs httpx: pip install 'agent-cellphone[http]'") from exc

from actors import handler
from actors.connectors import PublishRefused, ServiceActor

from ._messages import HttpRequest, HttpResponse, HttpStatistics
from ._requester import HTTP2, Requester
from ._settings import HttpSettings


class HttpActor(ServiceActor):
    """Answers ``http.request`` for its configured resources (see :class:`HttpSettings`)."""

    settings_class = HttpSettings
    quiet_loggers = ("httpx", "httpcore", "hpack")

    async def open_clients(self) -> None:
        s: HttpSettings = self.context.settings
        self._requesters = {name: Requester(self.name, name, resource, self.guard, self.redactor,
                                            self.record)
                            for name, resource in s.resources.items()}

    async def close_clients(self) -> None:
        for requester in self._requesters.values():
            await requester.close()

    def _requester(self, msg: HttpRequest) -> Requester:
        if msg.resource:
            found = self._requesters.get(msg.resource)
            if found is None:
                raise PublishRefused(f"HTTP actor {self.name!r} has no resource {msg.resource!r}; "
                                     f"it has: {', '.join(sorted(self._requesters))}")
            return found
        if "://" in msg.url:
            for requester in self._requesters.values():
                if requester.owns(msg.url):
                    return requester
            raise PublishRefused(f"HTTP actor {self.name!r}: {self.redactor.clean(msg.url)!r} is "
                                 "under none of its resources")
        if len(self._requesters) == 1:
            return next(iter(self._requesters.values()))
        raise PublishRefused(f"HTTP actor {self.name!r} has {len(self._requesters)} resources: name "
                             f"one in 'resource' ({', '.join(sorted(self._requesters))})")

    @handler
    def on_request(self, msg: HttpRequest) -> concurrent.futures.Future[HttpResponse]:
        requester = self._requester(msg)
        method = requester.check(msg)
        return self.loop.submit(requester.send(msg, method, self.context.deadline))

    def statistics(self) -> HttpStatistics:
        resources = {name: r.statistics() for name, r in self._requesters.items()}
        open_ = sum(1 for r in resources.values() if r["state"] == "open")
        return HttpStatistics(
            availability=1.0 - open_ / len(resources), http2=HTTP2,
            requests=sum(r["calls"] for r in resources.values()),
            errors=sum(r["failures"] for r in resources.values()), resources=resources)
