"""Errors of the broker and device connectors.

Each subclasses the builtin a caller already catches::

    ConnectorError (Exception)
    ├── PublishRefused (PermissionError)     the bridge's ``publish`` settings do not allow that topic
    ├── BrokerUnavailable (ConnectionError)  not connected within the asker's deadline, too many
    │                                        publishes already waiting, or the connection was lost
    │                                        before the broker confirmed
    └── BadPayload (ValueError)              a payload is not what its stated encoding says

Across the wire each reaches the asker as ``messages.HandlerError`` whose
``details["exception"]`` is the class name above; the bridges list them as expected
errors, so they are answers (one log line), never faults that restart the bridge.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of the errors the connectors raise."""


class PublishRefused(ConnectorError, PermissionError):
    """The bridge may not publish to this topic: its ``publish`` patterns do not match it."""


class BrokerUnavailable(ConnectorError, ConnectionError):
    """The broker cannot take the publish now; the message says why and whether it may have gone."""


class BadPayload(ConnectorError, ValueError):
    """A payload does not decode (or encode) in its stated encoding."""
