"""Errors of Agent Cellphone.

Each subclasses the builtin a caller already catches::

    CellphoneError (Exception)
    ├── ProtocolError (ValueError)          bytes or fields that break the wire protocol
    │   ├── MalformedMessage                not msgpack, wrong frame count, bad envelope
    │   ├── UnknownMessageType              no message class for the type tag
    │   ├── InvalidBody                     missing, unexpected or wrongly typed field
    │   └── MessageTooLarge                 over the configured size limit
    ├── ConfigError (ValueError)            a node config or child spec that cannot run
    └── RemoteError                         an error reply from an actor or the node
        ├── ActorNotFound (LookupError)     no actor of that name on the node
        ├── HandlerError (RuntimeError)     the actor's handler raised
        ├── ActorCrashed (ConnectionError)  the incarnation died with the ask in flight
        ├── ActorOverloaded (BufferError)   the actor's mailbox is full
        ├── DeadlineExpired (TimeoutError)  the deadline passed before the actor got to it
        ├── Forbidden (PermissionError)     the client's key may not send that command
        └── AskTimeout (TimeoutError)       no reply within the ask's timeout

Error replies travel as ``{"code", "message", ...}``; :func:`error_from_wire` maps a code
back to its class so that a remote failure raises the same type as a local one.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ._summary import summary


class CellphoneError(Exception):
    """Root of every error this project raises."""


class ProtocolError(CellphoneError, ValueError):
    """Bytes or fields that break the wire protocol (see PROTOCOL.md).

    When :func:`messages.decode` refuses a frame it sets ``envelope_kind`` and
    ``envelope_id`` to what it could still read, so that the refusal answers the right ask
    (and a refused tell, reply, error or event gets no answer at all).
    """

    code: ClassVar[str] = "protocol_error"
    envelope_kind: str | None = None
    """The refused envelope's kind, if it could be read as one of the protocol's kinds."""
    envelope_id: int | str = ""
    """The refused envelope's id, if it could be read; ``""`` otherwise."""


class MalformedMessage(ProtocolError):
    """Not msgpack, a wrong number of frames, or an envelope missing its keys."""

    code = "malformed"


class UnknownMessageType(ProtocolError):
    """The type tag names no message class that the receiver knows."""

    code = "unknown_type"


class InvalidBody(ProtocolError):
    """A body field is missing, unexpected, or of the wrong type."""

    code = "invalid_body"


class MessageTooLarge(ProtocolError):
    """The encoded message is over the receiver's size limit."""

    code = "too_large"


class ConfigError(CellphoneError, ValueError):
    """A node config, child spec or actor setting that cannot run; names the key."""


class RemoteError(CellphoneError):
    """An error reply from an actor or from the node's front door."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details or {}


class ActorNotFound(RemoteError, LookupError):
    """No actor of that name runs on the node."""

    code = "not_found"


class HandlerError(RemoteError, RuntimeError):
    """The actor's handler raised; the message names actor, type and exception."""

    code = "handler_error"


class ActorCrashed(RemoteError, ConnectionError):
    """The actor incarnation that held the ask died before replying."""

    code = "crashed"


class ActorOverloaded(RemoteError, BufferError):
    """The actor's mailbox is full; retry later or slow down."""

    code = "overloaded"


class DeadlineExpired(RemoteError, TimeoutError):
    """The ask's deadline had passed when the actor reached it, so it was skipped."""

    code = "deadline_expired"


class Forbidden(RemoteError, PermissionError):
    """The node refused a command the client's role may not send (an ``agent`` key
    sending ``node.stop`` or a child command); ask an operator, or use an operator key."""

    code = "forbidden"


class AskTimeout(RemoteError, TimeoutError):
    """No reply arrived within the ask's timeout."""

    code = "timeout"


class RemoteProtocolError(RemoteError, ValueError):
    """The receiver refused the message as a protocol error (see ``details['code']``)."""

    code = "protocol_error"


_REMOTE_BY_CODE: dict[str, type[RemoteError]] = {
    cls.code: cls
    for cls in (
        ActorNotFound,
        HandlerError,
        ActorCrashed,
        ActorOverloaded,
        DeadlineExpired,
        Forbidden,
        AskTimeout,
    )
}
_PROTOCOL_CODES = frozenset(
    c.code
    for c in (ProtocolError, MalformedMessage, UnknownMessageType, InvalidBody, MessageTooLarge)
)


def error_from_wire(body: Any) -> RemoteError:
    """Turn the body of an ``error`` envelope into the matching exception."""
    if not isinstance(body, dict):
        return RemoteError(f"error reply with a body that is not a map: {summary(body)}")
    code = body.get("code")
    code = code if type(code) is str else "error"
    message = body.get("message")
    if type(message) is not str:
        message = "no message" if message is None else summary(message)
    if code in _PROTOCOL_CODES:
        return RemoteProtocolError(message, details=body)
    return _REMOTE_BY_CODE.get(code, RemoteError)(message, details=body)
