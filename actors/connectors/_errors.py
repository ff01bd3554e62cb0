"""Errors of the connectors (brokers, devices, HTTP and cloud services).

Each subclasses the builtin a caller already catches::

    ConnectorError (Exception)
    ├── PublishRefused (PermissionError)     the settings do not allow sending to that topic or URI
    ├── BrokerUnavailable (ConnectionError)  not connected within the asker's deadline, too many
    │                                        publishes already waiting, or the connection was lost
    │                                        before the broker confirmed
    ├── DeviceUnavailable (ConnectionError)  a CoAP device did not answer in time or is unreachable
    ├── ServiceUnavailable (ConnectionError) an HTTP or cloud service could not be reached, or
    │   │                                    answered 5xx or 429 on every attempt allowed
    │   └── RateLimited                      the resource's rate, concurrency or a Retry-After
    │                                        pause leaves no room before the asker's deadline
    ├── ServiceTimeout (TimeoutError)        a service did not answer within the request's timeout
    │                                        or before the asker's deadline
    ├── RequestRejected (ValueError)         the service refused the request itself (a 4xx other
    │                                        than 429): sending it again will not help
    └── BadPayload (ValueError)              a payload is not what its stated encoding says

A service error's ``details`` (in the asker's ``HandlerError.details``) say whether the
request may have reached the service (``may_have_run``), its HTTP ``status`` if one came,
and how many ``attempts`` were made, so an asker knows whether sending it again is safe.

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


class ServiceUnavailable(ConnectorError, ConnectionError):
    """A service could not be reached, or refused the request (5xx, 429) on every attempt.

    ``sent`` is False only when the request certainly never reached the service (the
    connection could not be opened), so that any method may be tried again; ``status`` is
    the HTTP status that came back, if any; ``retry_after`` the seconds the service asked
    for (``Retry-After``), if it did.
    """

    def __init__(self, text: str, *, sent: bool, status: int | None = None,
                 retry_after: float | None = None, attempts: int = 1) -> None:
        super().__init__(text)
        self.sent = sent
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts

    @property
    def details(self) -> dict[str, object]:
        """What the asker's ``HandlerError.details`` carries besides the text."""
        return {"may_have_run": self.sent, "status": self.status, "attempts": self.attempts,
                "retry_after": self.retry_after}


class RateLimited(ServiceUnavailable):
    """The request was not sent: the resource's budget (rate, concurrency, or a pause a
    429/503 ``Retry-After`` started) leaves no room for it before the asker's deadline."""

    def __init__(self, text: str, *, retry_after: float | None = None, attempts: int = 0) -> None:
        super().__init__(text, sent=False, retry_after=retry_after, attempts=attempts)


class ServiceTimeout(ConnectorError, TimeoutError):
    """No answer within the request's timeout or before the asker's deadline: the service
    may have acted on it (``may_have_run`` is True once it was sent)."""

    def __init__(self, text: str, *, sent: bool = True, attempts: int = 1) -> None:
        super().__init__(text)
        self.sent = sent
        self.attempts = attempts

    @property
    def details(self) -> dict[str, object]:
        """What the asker's ``HandlerError.details`` carries besides the text."""
        return {"may_have_run": self.sent, "attempts": self.attempts}


class RequestRejected(ConnectorError, ValueError):
    """The service refused the request itself (bad parameters, an unknown model, a key it
    does not take, an object that is not there: a 4xx other than 429), or it could not be
    made at all; ``status`` is the HTTP status, if one came, and ``code`` the service's own
    name for the error (``NoSuchKey``), if it has one (``error_code`` in the details)."""

    def __init__(self, text: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.code = code

    @property
    def details(self) -> dict[str, object]:
        """What the asker's ``HandlerError.details`` carries besides the text."""
        return {"status": self.status, "error_code": self.code, "may_have_run": False}
