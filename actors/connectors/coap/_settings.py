"""Settings of the CoAP actor (aiocoap): resources it serves, devices it may ask."""

from __future__ import annotations

from typing import Any

import attrs

from actors.connectors import Encoding
from messages import positive_seconds


def _path(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value.strip("/") or " " in value:
        raise ValueError(f"{attribute.name}: expected a resource path such as 'sensors/temp', "
                         f"got {value!r}")


@attrs.frozen(kw_only=True)
class CoapResource:
    """One resource the actor serves and the actor behind it.

    A GET asks ``target`` the message type ``get`` with the query as its body (``?n=3&t=x``
    → ``{"n": 3, "t": "x"}``: values read as JSON, else as strings); a POST asks type
    ``post`` with the payload, decoded as ``payload`` says, as its body. The answer is the
    response's payload, encoded the same way. A method with no type is 4.05.
    """

    path: str = attrs.field(validator=_path)
    target: str
    get: str | None = None
    post: str | None = None
    payload: Encoding = "json"
    timeout: float = attrs.field(default=5.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        if self.get is None and self.post is None:
            raise ValueError(f"resource {self.path!r}: name a message type for get, post or both")

    @property
    def segments(self) -> tuple[str, ...]:
        """The path as URI path segments."""
        return tuple(part for part in self.path.split("/") if part)


@attrs.frozen(kw_only=True)
class CoapSettings:
    """Where the CoAP server listens (``port`` 0: no server), what it serves, what it may ask.

    ``request`` lists the URIs ``coap.request`` may reach, as shell-style patterns
    (``coap://10.0.0.*/sensors/*``; empty: none). Each device (host and port) is a breaker
    resource ``<actor>:<host:port>`` of the node's ``breaker`` actor (None: unguarded).
    """

    host: str = "127.0.0.1"
    port: int = 5683
    resources: list[CoapResource] = attrs.field(factory=list)
    request: list[str] = attrs.field(factory=list)
    request_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    breaker: str | None = "breaker"
