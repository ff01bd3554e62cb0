"""Messages of the HTTP actor: a request as an asker sends it, a response as it came."""

from __future__ import annotations

from typing import Any

import attrs

from messages import message

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""RFC 9110 §9.2.2: methods whose intended effect is the same however often they are sent."""


@message("http.request")
class HttpRequest:
    """Ask the HTTP actor to send ``method`` to ``url`` on one of its resources.

    ``url`` is a path on the resource's ``base_url`` (``"items/7"``, ``"/items?x=1"``) or a
    full URL under it; ``resource`` names the resource ("" when the actor has only one, or
    when ``url`` is a full URL under one). The body is ``json`` (any JSON value) or ``body``
    (bytes), not both. ``timeout`` caps one attempt (the asker's deadline caps the whole).
    ``idempotent`` says whether the request may be sent again after it may have reached the
    service (None: by its method, RFC 9110 §9.2.2 — GET, HEAD, OPTIONS, TRACE, PUT, DELETE).
    """

    url: str
    method: str = "GET"
    resource: str = ""
    params: dict[str, Any] = attrs.field(factory=dict)
    headers: dict[str, str] = attrs.field(factory=dict)
    json: Any = None
    body: bytes | None = None
    timeout: float | None = None
    idempotent: bool | None = None

    def is_idempotent(self) -> bool:
        """``idempotent`` if given, else whether the method is idempotent."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in IDEMPOTENT_METHODS


@message("http.response")
class HttpResponse:
    """The service's answer, whatever its status: ``json`` holds the body decoded when its
    content type is JSON (else None); header names are lower case, repeated ones joined
    with ``", "``. ``attempts`` counts the tries (retries included)."""

    status: int
    headers: dict[str, str]
    body: bytes
    json: Any = None
    http_version: str = "HTTP/1.1"
    url: str = ""
    attempts: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


@message("http.statistics")
class HttpStatistics:
    """The HTTP actor's resources and counters (its ``actor.statistics`` answer).

    ``availability`` is the share of resources whose circuit is not open, so a service
    the breaker has given up on shows as a health alert. Per resource: ``base_url``, the
    circuit ``state``, ``calls``, ``failures``, ``retries``, ``in_flight``, ``waiting``,
    ``paused_for`` (seconds of a Retry-After pause left), ``pauses``, ``throttled``,
    ``refused``, ``by_status`` (responses per status code) and ``connections_replaced``
    (HTTP/2 connections given up because cut-off requests held all their streams).
    """

    availability: float
    requests: int
    errors: int
    http2: bool
    resources: dict[str, dict[str, Any]] = attrs.field(factory=dict)
