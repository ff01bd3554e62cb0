"""Client-side helpers shared by the sync and asyncio connections (one way to do each)."""

from __future__ import annotations

import math
import time
from typing import Any

from messages import (
    DEFAULT_ASK_TIMEOUT,
    KIND_ERROR,
    KIND_REPLY,
    Envelope,
    LifecycleEvent,
    MessageTooLarge,
    ProtocolError,
    RemoteProtocolError,
    Resolved,
    encode_fields,
    error_from_wire,
    from_wire,
    is_registered,
    message_class,
    to_wire,
    type_tag,
)


def outgoing(message: Any, body: Any) -> tuple[str, Any]:
    """(type tag, wire body) of an attrs message, or of a tag string with a plain body."""
    if isinstance(message, str):
        return message, {} if body is None else body
    if body is not None:
        raise TypeError("pass body= only with a type tag string, not with a message object")
    return type_tag(message), to_wire(message)


def check_timeout(timeout: float | None, default: float = DEFAULT_ASK_TIMEOUT) -> float:
    """A finite positive timeout; ValueError names the parameter otherwise."""
    if timeout is None:
        return default
    if type(timeout) is float and 0.0 < timeout < math.inf:  # the usual case (NaN fails it)
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout) \
            or timeout <= 0 or math.isinf(timeout):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    return float(timeout)


def encode_request(kind: str, id_: int, to: str, type_: str, body: Any, deadline: float | None,
                   max_bytes: int) -> bytes:
    """Encode an ask or tell, refused locally if the receiver would refuse it for size."""
    data = encode_fields(kind, id_, to, type_, body, deadline)
    if len(data) > max_bytes:
        raise MessageTooLarge(f"message {type_!r} to {to!r} is {len(data)} bytes, "
                              f"over the limit of {max_bytes} bytes")
    return data


def reply_value(env: Envelope) -> Any:
    """The value of a reply envelope: a message object if its tag is known here, else the body."""
    if env.kind == KIND_ERROR:
        raise error_from_wire(env.body)
    if env.kind != KIND_REPLY:
        raise error_from_wire({"code": "malformed", "message": f"expected a reply, got {env.kind!r}"})
    try:
        if is_registered(env.type):
            return from_wire(message_class(env.type), env.body, tolerant=True)
        if env.type.endswith("[]") and isinstance(env.body, list) and is_registered(env.type[:-2]):
            cls = message_class(env.type[:-2])  # a list of messages of one type (see _replies)
            return [from_wire(cls, item, tolerant=True) for item in env.body]
    except ProtocolError as exc:  # the replier broke the protocol: its error, not ours
        raise RemoteProtocolError(f"reply {env.type!r} from {env.to!r} does not check: {exc}",
                                  details={"code": exc.code, "message": str(exc)}) from None
    return env.body


class IncarnationCache:
    """Where each resolved actor listens and which incarnation serves it, kept current by
    lifecycle events (shared by the sync and asyncio clients)."""

    def __init__(self) -> None:
        self.resolved: dict[str, Resolved] = {}

    def get(self, name: str) -> Resolved | None:
        """The cached resolution of ``name``, if any."""
        return self.resolved.get(name)

    def put(self, resolved: Resolved) -> Resolved:
        """Remember a resolution; returns it."""
        self.resolved[resolved.name] = resolved
        return resolved

    def learn(self, event: LifecycleEvent) -> None:
        """A ``started`` event moves the cached incarnation forward."""
        cached = self.resolved.get(event.name)
        if event.event == "started" and cached is not None:
            self.resolved[event.name] = Resolved(event.name, cached.endpoint, event.incarnation,
                                                 "running")


def not_sent(target: str, tag: str, queued: int, endpoint: str) -> str:
    """Why an ask could not be queued: a full queue, or no connection to queue it on."""
    return (f"actor {target!r} is overloaded: {queued} messages already queued for it, or it "
            f"cannot be reached (nothing accepts connections at {endpoint}, or a node with "
            f"security refused this client's key); ask {tag!r} not sent")


def no_reply(target: str, tag: str, seconds: float) -> str:
    """Why an ask ended without an answer, and what to check (a secured node answers no
    client whose key it does not allow: the ask just times out, by ZeroMQ's design)."""
    return (f"no reply from {target!r} to {tag!r} within {seconds:g} s; pass a longer timeout= "
            "if the work is slow, check `run_node.py status` for the actor's state, or, if "
            "the node has security, that this client's key is allowed (client_key=, "
            "AGENTCELL_CLIENT_KEY)")


def deadline_after(timeout: float) -> tuple[float, float]:
    """(wall-clock deadline for the envelope, monotonic deadline for local waiting)."""
    return time.time() + timeout, time.monotonic() + timeout
