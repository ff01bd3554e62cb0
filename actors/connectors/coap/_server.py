"""The server side: each configured resource is an aiocoap resource whose GET and POST are
asks to an actor; the actor's answer (or its failure) becomes the CoAP response."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import aiocoap
import aiocoap.resource

from actors import AsyncConnection
from actors.breaker import classify
from actors.connectors import BadPayload, decode_payload, encode_payload
from messages import to_wire

from ._settings import CoapResource

CONTENT_FORMATS = {"json": 50, "text": 0, "bytes": 42, "msgpack": 42}
"""CoAP Content-Format numbers (RFC 7252 §12.3): application/json 50, text/plain 0,
application/octet-stream 42 (msgpack has no registered number)."""

# How an ask's failure reads in CoAP (RFC 7252 §5.9): the request's fault is 4.xx, the
# actor's 5.xx; a target that cannot answer now is 5.03, one that ran out of time 5.04.
_CODES = {"invalid": aiocoap.BAD_REQUEST, "not_found": aiocoap.SERVICE_UNAVAILABLE,
          "crashed": aiocoap.SERVICE_UNAVAILABLE, "overloaded": aiocoap.SERVICE_UNAVAILABLE,
          "connection": aiocoap.SERVICE_UNAVAILABLE, "timeout": aiocoap.GATEWAY_TIMEOUT}


class ServedCounters:
    """What the server side has done; written on the loop only."""

    __slots__ = ("answered", "bad_requests", "failed", "served")

    def __init__(self) -> None:
        self.served = self.answered = self.bad_requests = self.failed = 0


class ActorResource(aiocoap.resource.Resource):  # type: ignore[misc]
    """One configured resource: GET and POST become asks to its target actor."""

    def __init__(self, config: CoapResource, connection: Callable[[], AsyncConnection],
                 counters: ServedCounters, record: Callable[[str, float, bool], None]) -> None:
        super().__init__()
        self.config = config
        self._connection = connection
        self._counters = counters
        self._record = record
        self._op = "coap:" + "/".join(config.segments)

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        if self.config.get is None:
            return _error(aiocoap.METHOD_NOT_ALLOWED, f"{self.config.path}: GET is not served")
        return await self._ask(self.config.get, lambda: _query(request.opt.uri_query), aiocoap.CONTENT)

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        if self.config.post is None:
            return _error(aiocoap.METHOD_NOT_ALLOWED, f"{self.config.path}: POST is not served")
        return await self._ask(self.config.post, lambda: self._body(request.payload), aiocoap.CHANGED)

    def _body(self, payload: bytes) -> Any:
        value = decode_payload(payload, self.config.payload) if payload else {}
        if not isinstance(value, dict):
            raise BadPayload(f"{self.config.path}: the payload must be a map of fields, "
                             f"got {type(value).__name__}")
        return value

    async def _ask(self, tag: str, body: Callable[[], Any], code: Any) -> aiocoap.Message:
        c = self._counters
        c.served += 1
        started = time.perf_counter()
        try:
            answer = await self._connection().ask(self.config.target, tag, body(),
                                                  timeout=self.config.timeout)
            payload = encode_payload(to_wire(answer), self.config.payload)
        except Exception as exc:
            self._record(self._op, time.perf_counter() - started, False)
            error_class = "invalid" if isinstance(exc, BadPayload) else classify(exc)
            status = _CODES.get(error_class, aiocoap.INTERNAL_SERVER_ERROR)
            if error_class == "invalid":
                c.bad_requests += 1
            else:
                c.failed += 1
            return _error(status, f"{type(exc).__name__}: {exc}")
        self._record(self._op, time.perf_counter() - started, True)
        c.answered += 1
        return aiocoap.Message(code=code, payload=payload,
                               content_format=CONTENT_FORMATS[self.config.payload])


def _query(options: Any) -> dict[str, Any]:
    """``k=v`` query options as a map; values read as JSON (``3``, ``true``), else strings."""
    out: dict[str, Any] = {}
    for option in options:
        key, _, raw = str(option).partition("=")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _error(code: Any, text: str) -> aiocoap.Message:
    """An error response with a diagnostic payload (RFC 7252 §5.5.2), cut to fit a datagram."""
    return aiocoap.Message(code=code, payload=text.encode()[:512], content_format=0)
