"""An in-process stand-in for a node connection, for tests and benchmarks of the helper.

:class:`LocalConnection` answers ``ask`` by calling a :class:`BreakerActor`'s handlers
directly, passing bodies through the wire form (``to_wire``/``from_wire``) so that
validation runs as it would on a node. Errors come back as ``HandlerError`` like remote
ones. It has no event stream: use ``BreakerClient(..., subscribe=False)``.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

from actors import ActorContext, Reply
from messages import HandlerError, ProtocolError, from_wire, is_registered, message_class, to_wire

from ._actor import BreakerActor
from ._messages import BreakerSettings


class LocalConnection:
    """Delivers asks to one in-process BreakerActor (thread-safe: one lock per ask)."""

    def __init__(self, settings: BreakerSettings | None = None, *, name: str = "breaker",
                 forward: Any = None) -> None:
        context = ActorContext(name, 1, settings or BreakerSettings(), "inproc://local",
                               connection=forward)
        self.actor = BreakerActor(context)
        self.actor.on_start()
        self.name = name
        self.asks = 0
        self._lock = threading.Lock()
        self._handlers = BreakerActor.handled_types()

    def ask(self, target: str, message: Any, body: Any = None, *, timeout: float | None = None) -> Any:
        """Run the handler for ``message`` and return its reply as a client would see it."""
        if target != self.name:
            raise LookupError(f"LocalConnection serves only {self.name!r}, not {target!r}")
        if isinstance(message, str):
            tag, payload = message, body or {}
        else:
            tag, payload = message.__message_type__, to_wire(message)
        cls, method = self._handlers[tag]
        with self._lock:
            self.asks += 1
            msg = from_wire(cls, payload)
            try:
                result = getattr(self.actor, method)(msg)
            except ProtocolError:
                raise
            except Exception as exc:
                raise HandlerError(f"actor {self.name!r} failed handling {tag!r}: "
                                   f"{type(exc).__name__}: {exc}",
                                   details={"exception": type(exc).__name__}) from exc
        if isinstance(result, concurrent.futures.Future):
            try:
                result = result.result(timeout)
            except Exception as exc:
                raise HandlerError(f"actor {self.name!r} failed handling {tag!r}: "
                                   f"{type(exc).__name__}: {exc}",
                                   details={"exception": type(exc).__name__}) from exc
        if isinstance(result, Reply):  # another actor's answer, passed on as it came
            reply_tag, body = result.type, to_wire(result.value)
        else:
            reply_tag, body = getattr(result, "__message_type__", "value"), to_wire(result)
        if is_registered(reply_tag):
            return from_wire(message_class(reply_tag), body)
        return body

    def about(self, *, timeout: float | None = None) -> Any:
        """No event stream in process."""
        raise RuntimeError("LocalConnection has no event stream")

    def close(self) -> None:
        """Stop the actor."""
        self.actor.on_stop()
        self.actor.context.close()
