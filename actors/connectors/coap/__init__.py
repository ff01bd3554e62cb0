"""CoAP (extra ``coap``: aiocoap): a server that exposes actors as CoAP resources (GET and
POST become asks) and a client for CoAP devices (``coap.request``).

Configure it as ``{"name": "coap", "actor": "coap", "settings": {...}}``; see
:class:`CoapSettings` and :class:`CoapResource`.
"""

from ._actor import CoapActor
from ._messages import CoapRequest, CoapResponse, CoapStatistics
from ._server import CONTENT_FORMATS
from ._settings import CoapResource, CoapSettings

__all__ = [
    "CONTENT_FORMATS",
    "CoapActor",
    "CoapRequest",
    "CoapResource",
    "CoapResponse",
    "CoapSettings",
    "CoapStatistics",
]
