"""Settings of the HTTP actor: its resources (HTTP APIs), each with its own budget."""

from __future__ import annotations

from typing import Any

import attrs

from actors.connectors import ApiSettings
from messages import integer_at_least


@attrs.frozen(kw_only=True)
class HttpResource(ApiSettings):
    """One HTTP API (see :class:`~actors.connectors.ApiSettings` for what every service
    takes).

    The key is sent in header ``auth_header`` as ``"<auth_scheme> <key>"`` (``auth_scheme``
    "" sends the key alone, e.g. ``X-Api-Key``). ``headers`` go with every request.
    ``methods`` lists the methods askers may use (empty: any). Connections are kept alive,
    at most ``max_connections`` (``max_keepalive`` of them idle); HTTP/2 is used when
    ``http2`` is set and the ``h2`` package is installed (over TLS, where the server offers
    it by ALPN: then concurrent requests share one connection as streams). ``ca_file`` names
    a PEM file of the certificate authorities to trust for an ``https://`` base URL instead
    of the system's (a private CA, a self-signed service); None: the system's.
    """

    headers: dict[str, str] = attrs.field(factory=dict)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    methods: list[str] = attrs.field(factory=list)
    http2: bool = True
    max_connections: int = attrs.field(default=20, validator=integer_at_least(1))
    max_keepalive: int = attrs.field(default=10, validator=integer_at_least(0))
    follow_redirects: bool = False
    ca_file: str | None = None


def _resources(_: Any, attribute: attrs.Attribute[Any], value: dict[str, HttpResource]) -> None:
    if not value:
        raise ValueError(f"{attribute.name}: name at least one resource, e.g. "
                         '{"api": {"base_url": "https://api.example.com/"}}')
    for name in value:
        if not name.strip() or ":" in name:
            raise ValueError(f"{attribute.name}: resource names are non-empty and have no ':', "
                             f"got {name!r}")


@attrs.frozen(kw_only=True)
class HttpSettings:
    """The HTTP actor's resources by name; ``breaker`` names the node's breaker actor (None:
    unguarded). Each resource is breaker resource ``<actor>:<resource>``."""

    resources: dict[str, HttpResource] = attrs.field(validator=_resources)
    breaker: str | None = "breaker"
