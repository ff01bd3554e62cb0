"""Messages of the CoAP actor: requests to devices and what they answered."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from actors.connectors import Encoding
from messages import message


@message("coap.request")
class CoapRequest:
    """Ask the CoAP actor to send ``method`` to device ``uri`` (``coap://host:port/path?q``)
    with ``payload`` encoded as ``encoding``; the answer is decoded the same way."""

    uri: str
    method: Literal["GET", "POST", "PUT", "DELETE"] = "GET"
    payload: Any = None
    encoding: Encoding = "json"
    timeout: float | None = None


@message("coap.response")
class CoapResponse:
    """A device's answer: ``code`` as CoAP writes it (``2.05``), ``success`` for 2.xx codes,
    and the payload decoded (bytes as they came if they do not decode)."""

    code: str
    success: bool
    payload: Any = None
    content_format: int | None = None


@message("coap.statistics")
class CoapStatistics:
    """What the CoAP actor has served and asked (its ``actor.statistics`` answer).

    ``availability`` is 1.0 while the server is bound (or none is configured).
    """

    endpoint: str
    availability: float
    resources: list[str]
    served: int
    answered: int
    bad_requests: int
    failed: int
    requests: int
    responses: int
    unreachable: int
    by_code: dict[str, int] = attrs.field(factory=dict)
