"""Errors of the broker and device connectors.

Each subclasses the builtin a caller already catches::

    ConnectorError (Exception)
    ├── PublishRefused (PermissionError)     the settings do not allow sending to that topic or URI
    ├── BrokerUnavailable (ConnectionError)  not connected within the asker's deadline, too many
    │                                        publishes already waiting, or the connection was lost
    │                                        before the broker confirmed
    ├── DeviceUnavailable (ConnectionError)  a CoAP device did not answer in time or is unreachable
    └── BadPayload (ValueError)              a payload is not what its stated encoding says

Across the wire each reaches the asker as ``messages.HandlerError`` whose
``details["exception"]`` is the class name above; the bridges list them as expected
errors, so they are answers (one log line), never faults that restart the bridge.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the errors the connectors raise."""


class PublishRefused(ConnectorError, PermissionError):
    """The connector may not send there: its ``publish`` (or ``request``) patterns do not match."""


class BrokerUnavailable(ConnectorError, ConnectionError):
    """The broker cannot take the publish now; the message says why and whether it may have gone."""


class DeviceUnavailable(ConnectorError, ConnectionError):
    """A device did not answer a request in time, or could not be reached at all."""


class BadPayload(ConnectorError, ValueError):
    """A payload does not decode (or encode) in its stated encoding."""
