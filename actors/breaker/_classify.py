"""Error classification: turn an exception into the class name breakers and retries use.

Classes are plain strings. The built-in ones are ``timeout``, ``connection``,
``overloaded``, ``crashed`` (all transient by default), ``not_found``, ``invalid`` and
``permanent``; anything else is the exception's type name, which a policy may list as
transient or ignored. A remote handler's exception is known by its name only: builtin
names, and those of the built-in pool's errors, map to the classes above. An exception
carrying its own verdict (``transient = True/False``) is classified by it.
"""

from __future__ import annotations

from messages import (
    ActorCrashed,
    ActorNotFound,
    ActorOverloaded,
    HandlerError,
    ProtocolError,
    RemoteProtocolError,
)

_BY_NAME = {
    "TimeoutError": "timeout",
    "AskTimeout": "timeout",
    "DeadlineExpired": "timeout",
    "ConnectionError": "connection",
    "ConnectionRefusedError": "connection",
    "ConnectionResetError": "connection",
    "BrokenPipeError": "connection",
    # The built-in pool's errors, seen across the wire only by name: it cannot connect to its
    # backend (a ConnectionError), or no connection freed up in time (a TimeoutError). Its
    # OperationFailed stays permanent here: the pool has already retried what was safe to.
    "BackendUnavailable": "connection",
    "AcquireTimeout": "timeout",
}


def classify(exc: BaseException) -> str:
    """The error class of ``exc`` (see module doc)."""
    verdict = getattr(exc, "transient", None)
    if isinstance(verdict, bool):
        return "transient" if verdict else "permanent"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ActorCrashed):
        return "crashed"
    if isinstance(exc, ActorOverloaded):
        return "overloaded"
    if isinstance(exc, ActorNotFound):
        return "not_found"
    if isinstance(exc, (ProtocolError, RemoteProtocolError)):
        return "invalid"
    if isinstance(exc, HandlerError):
        name = str(exc.details.get("exception", "")) or "HandlerError"
        return _BY_NAME.get(name, name)
    if isinstance(exc, ConnectionError):
        return "connection"
    return _BY_NAME.get(type(exc).__name__, type(exc).__name__)
