"""One HTTP resource: its httpx client (keep-alive pool), its budget and its call loop."""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from actors.connectors import (
    BadPayload,
    BrokerGuard,
    PublishRefused,
    Redactor,
    ServiceCaller,
    ServiceTimeout,
    ServiceUnavailable,
    load_secret,
    retry_after_seconds,
)

from ._clients import Clients, out_of_streams
from ._messages import HttpRequest, HttpResponse
from ._settings import HttpResource

HTTP2 = importlib.util.find_spec("h2") is not None
"""Whether the ``h2`` package is installed (httpx speaks HTTP/2 only with it)."""


def _trust(where: str, ca_file: str | None) -> ssl.SSLContext | bool:
    """What httpx verifies servers with: the CAs in ``ca_file``, or the system's (True).

    A file that cannot be read or holds no certificate is a ``ValueError`` naming the
    setting and the path (a failed start, not a failure of every request later)."""
    if not ca_file:
        return True
    try:
        return ssl.create_default_context(cafile=os.path.expanduser(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"{where}.ca_file: cannot load CA certificates from {ca_file!r}: "
                         f"{getattr(exc, 'strerror', None) or exc}") from None


class Requester:
    """Sends one resource's requests (see :class:`HttpResource`); runs on the actor's loop."""

    def __init__(self, actor: str, name: str, settings: HttpResource, guard: BrokerGuard,
                 redactor: Redactor, record: Callable[[str, float, bool], None]) -> None:
        self.actor = actor
        self.name = name
        self.settings = settings
        self.redactor = redactor
        self.base = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
        headers = dict(settings.headers)
        secret = load_secret(f"resources.{name}", settings.api_key_env, settings.api_key_file)
        redactor.add(secret)
        if secret is not None:
            scheme = settings.auth_scheme
            headers[settings.auth_header] = f"{scheme} {secret.value}" if scheme else secret.value
        self.http2 = settings.http2 and HTTP2
        verify = _trust(f"resources.{name}", settings.ca_file)
        self.clients = Clients(lambda: httpx.AsyncClient(
            base_url=self.base, headers=headers, http2=self.http2, verify=verify,
            follow_redirects=settings.follow_redirects,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=settings.max_connections,
                                max_keepalive_connections=settings.max_keepalive)),
            linger=settings.timeout)
        self.caller = ServiceCaller(f"{actor}:{name}", settings, guard, record)
        self.by_status: dict[str, int] = {}

    def owns(self, url: str) -> bool:
        """Whether ``url`` is a full URL under this resource's base URL."""
        return url.startswith(self.base) or url + "/" == self.base

    def check(self, msg: HttpRequest) -> str:
        """The method, upper-cased, if ``msg`` may be sent; PublishRefused or BadPayload if not."""
        method = msg.method.upper()
        allowed = self.settings.methods
        if allowed and method not in {m.upper() for m in allowed}:
            raise PublishRefused(f"HTTP actor {self.actor!r}: resource {self.name!r} does not allow "
                                 f"{method}; its settings.methods allow: {', '.join(allowed)}")
        if "://" in msg.url and not self.owns(msg.url):
            raise PublishRefused(f"HTTP actor {self.actor!r}: {self.redactor.clean(msg.url)!r} is not "
                                 f"under resource {self.name!r} ({self.base})")
        if msg.json is not None and msg.body is not None:
            raise BadPayload("http.request: give json or body, not both")
        return method

    async def send(self, msg: HttpRequest, method: str, deadline: float | None) -> HttpResponse:
        """Send ``msg`` through the resource's limiter, breaker and retry policy."""
        url = msg.url[len(self.base):] if self.owns(msg.url) else msg.url.lstrip("/")
        content = msg.body
        headers = dict(msg.headers)
        if msg.json is not None:
            content = json.dumps(msg.json, separators=(",", ":")).encode()
            headers.setdefault("content-type", "application/json")
        request_timeout = msg.timeout or self.settings.timeout
        where = f"{method} {self.base}{urlsplit(url).path}"

        async def attempt(timeout: float) -> httpx.Response:
            limit = min(timeout, request_timeout)
            client = self.clients.current
            try:
                return await client.request(
                    method, url, params=msg.params or None, headers=headers, content=content,
                    timeout=httpx.Timeout(limit, connect=min(limit, self.settings.connect_timeout)))
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise ServiceUnavailable(self._text(f"cannot connect for {where}", exc),
                                         sent=False) from None
            except httpx.TimeoutException as exc:
                raise ServiceTimeout(self._text(f"no answer within {limit:.3g} s to {where}; it "
                                                "may have acted on it", exc)) from None
            except httpx.TransportError as exc:
                if out_of_streams(exc):  # refused before sending: see _clients
                    self.clients.replace(client, f"HTTP actor {self.actor!r} resource {self.name!r}")
                    raise ServiceUnavailable(self._text(f"no HTTP/2 stream left for {where} (not "
                                                        "sent; a new connection is opened)", exc),
                                             sent=False) from None
                raise ServiceUnavailable(self._text(f"connection lost during {where}; it may have "
                                                    "acted on it", exc), sent=True) from None

        started = time.perf_counter()
        response, attempts = await self.caller.call(
            f"{self.actor}:{self.name}:{method}", attempt, deadline=deadline,
            idempotent=msg.is_idempotent(), judge=lambda r: self._judge(r, where))
        return self._answer(response, attempts, time.perf_counter() - started)

    def _judge(self, response: httpx.Response, where: str) -> ServiceUnavailable | None:
        """A 429 or 5xx is the service's failure (retried if allowed); anything else is an
        answer. A 429 was not acted on (RFC 6585 §4), so any method may be sent again."""
        code = str(response.status_code)
        self.by_status[code] = self.by_status.get(code, 0) + 1
        status = response.status_code
        if status != 429 and status < 500:
            return None
        after = retry_after_seconds(response.headers.get("retry-after"), time.time()) \
            if status in (429, 503) else None
        return ServiceUnavailable(self.redactor.clean(
            f"resource {self.name!r} answered {status} {response.reason_phrase} to {where}"),
            sent=status != 429, status=status, retry_after=after)

    def _answer(self, response: httpx.Response, attempts: int, seconds: float) -> HttpResponse:
        content = response.content
        decoded: Any = None
        if "json" in response.headers.get("content-type", "") and content:
            try:
                decoded = json.loads(content)
            except ValueError:
                decoded = None
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return HttpResponse(response.status_code, headers, content, decoded,
                            response.http_version, self.redactor.clean(str(response.url)),
                            attempts, round(seconds, 6))

    def _text(self, what: str, exc: BaseException) -> str:
        return self.redactor.clean(f"resource {self.name!r}: {what} ({type(exc).__name__}: {exc})")

    def statistics(self) -> dict[str, Any]:
        """This resource's counters and state, plain values."""
        return {"base_url": self.base, **self.caller.statistics(), "by_status": dict(self.by_status),
                "connections_replaced": self.clients.replaced}

    async def close(self) -> None:
        """Close the connection pools."""
        await self.clients.close()
