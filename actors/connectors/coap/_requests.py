"""The client side: ``coap.request`` sends one request to a device, guarded and timed."""

from __future__ import annotations

import asyncio
import fnmatch
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiocoap

from actors.connectors import (
    BadPayload,
    BrokerGuard,
    DeviceUnavailable,
    PublishRefused,
    decode_payload,
    encode_payload,
)

from ._messages import CoapRequest, CoapResponse
from ._settings import CoapSettings

_METHODS = {"GET": aiocoap.GET, "POST": aiocoap.POST, "PUT": aiocoap.PUT, "DELETE": aiocoap.DELETE}


class RequestCounters:
    """What the client side has done; written on the loop only."""

    __slots__ = ("by_code", "requests", "responses", "unreachable")

    def __init__(self) -> None:
        self.requests = self.responses = self.unreachable = 0
        self.by_code: dict[str, int] = {}


class Requester:
    """Sends ``coap.request`` on one aiocoap context (see module doc)."""

    def __init__(self, name: str, settings: CoapSettings, guard: BrokerGuard,
                 counters: RequestCounters, record: Callable[[str, float, bool], None]) -> None:
        self.name = name
        self.settings = settings
        self.guard = guard
        self.counters = counters
        self.record = record
        self.context: aiocoap.Context | None = None

    def check(self, msg: CoapRequest) -> bytes:
        """The encoded payload if ``msg.uri`` may be asked; PublishRefused or BadPayload if not."""
        uri = msg.uri
        if not any(fnmatch.fnmatchcase(uri, pattern) for pattern in self.settings.request):
            allowed = ", ".join(repr(p) for p in self.settings.request) or "none (settings.request is empty)"
            raise PublishRefused(f"CoAP actor {self.name!r} may not request {uri!r}; its "
                                 f"settings.request allows: {allowed}")
        if urllib.parse.urlsplit(uri).scheme != "coap":
            raise PublishRefused(f"CoAP actor {self.name!r}: {uri!r} is not a coap:// URI")
        return b"" if msg.payload is None else encode_payload(msg.payload, msg.encoding)

    async def request(self, msg: CoapRequest, data: bytes, deadline: float | None) -> CoapResponse:
        """Send ``msg`` and wait for the answer, no longer than its timeout or the deadline."""
        assert self.context is not None
        parts = urllib.parse.urlsplit(msg.uri)
        device = f"{self.name}:{parts.hostname}:{parts.port or aiocoap.COAP_PORT}"
        op = f"coap:request:{parts.hostname}:{parts.port or aiocoap.COAP_PORT}{parts.path}"
        timeout = msg.timeout or self.settings.request_timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.time() - 0.05)
        c = self.counters
        c.requests += 1
        permit = await self.guard.check(device)
        started = time.perf_counter()
        try:
            response = await asyncio.wait_for(self.context.request(aiocoap.Message(
                code=_METHODS[msg.method], uri=msg.uri, payload=data)).response, max(timeout, 0.001))
        except (TimeoutError, aiocoap.error.Error, OSError) as exc:
            c.unreachable += 1
            failure = DeviceUnavailable(f"CoAP device {parts.netloc} did not answer {msg.method} "
                                        f"{parts.path or '/'} within {timeout:.3g} s"
                                        if isinstance(exc, TimeoutError) else
                                        f"CoAP device {parts.netloc} unreachable: {type(exc).__name__}: "
                                        f"{exc}")
            self.guard.record(False, time.perf_counter() - started, failure, permit, device)
            self.record(op, time.perf_counter() - started, False)
            raise failure from None
        seconds = time.perf_counter() - started
        code = str(response.code.dotted)
        c.responses += 1
        c.by_code[code] = c.by_code.get(code, 0) + 1
        ok = response.code.is_successful()
        server_fault = response.code.class_ == 5
        self.guard.record(not server_fault, seconds, None if not server_fault else
                          DeviceUnavailable(f"CoAP device {parts.netloc} answered {code}"), permit, device)
        self.record(op, seconds, ok)
        return CoapResponse(code, ok, _decoded(response.payload, msg.encoding),
                            response.opt.content_format)


def _decoded(payload: bytes, encoding: Any) -> Any:
    if not payload:
        return None
    try:
        return decode_payload(payload, encoding)
    except BadPayload:
        return bytes(payload)
