"""HTTP APIs (extra ``http``: httpx, with h2 for HTTP/2): ``http.request`` from any agent,
through one keep-alive pool per resource, under rate limits, pauses and breakers shared by
the whole node.

Configure it as ``{"name": "http", "actor": "http", "settings": {"resources": {...}}}``;
see :class:`HttpSettings` and :class:`HttpResource`.
"""

from ._actor import HttpActor
from ._messages import IDEMPOTENT_METHODS, HttpRequest, HttpResponse, HttpStatistics
from ._settings import HttpResource, HttpSettings

__all__ = [
    "IDEMPOTENT_METHODS",
    "HttpActor",
    "HttpRequest",
    "HttpResource",
    "HttpResponse",
    "HttpSettings",
    "HttpStatistics",
]
