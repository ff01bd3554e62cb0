"""Error classification: turn an exception into the class name breakers and retries use.

Classes are plain strings. The built-in ones are ``timeout``, ``connection``,
``overloaded``, ``crashed`` (all transient by default), ``not_found``, ``invalid`` and
``permanent``; anything else is the exception's type name, which a policy may list as
transient or ignored. A remote handler's exception is known by its name only: builtin
names, and those of the built-in pool's errors, map to the classes above. An exception
carrying its own verdict (``transient = True/False``) is classified by it.

:func:`error_types` gives the names a breaker's ``ignored`` and ``recorded`` lists match
besides the class: the exception's classes, most derived first (a remote handler's
exception by the names its host sent).
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


def error_types(exc: BaseException) -> list[str]:
    """Names of ``exc``'s classes, most derived first, without ``object`` (see module doc).

    For a remote handler's error, the classes of the exception the handler raised, as its
    host named them (``exception_mro``, else just ``exception``) — not HandlerError's own.
    """
    if isinstance(exc, HandlerError):
        mro = exc.details.get("exception_mro")
        if isinstance(mro, list) and mro and all(isinstance(n, str) for n in mro):
            return list(mro)
        name = exc.details.get("exception")
        if isinstance(name, str) and name:
            return [name]
    return [c.__name__ for c in type(exc).__mro__ if c is not object]
