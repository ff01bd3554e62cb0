"""What an actor host sends back on its ROUTER socket: replies, error replies, refusals.

Kept apart from dispatch (:mod:`._bridge`) so the wire shape of every answer an actor
gives is decided in one place. Used on the actor thread only (it owns the socket).
Every reply is checked where it is made: one that cannot be encoded is a
``handler_error``, one over ``max_message_bytes`` a ``too_large`` error naming the limit
and the size, sent to the asker at once (the asker would drop the oversized reply and
wait out its timeout).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import zmq
import zmq.backend

from messages import (
    KIND_ASK,
    KIND_REPLY,
    Envelope,
    encode,
    encode_fields,
    exception_summary,
    is_registered,
    to_wire,
)

from ._client import Reply

if TYPE_CHECKING:
    from ._bridge import HostCounters

log = logging.getLogger("actors.host")

_SNDMORE = int(zmq.SNDMORE)  # a plain int: no enum arithmetic per reply
_send = zmq.backend.Socket.send
"""libzmq's send as pyzmq's Cython layer has it: the Python ``Socket.send`` above it only
adds the ``routing_id``/``group`` options (draft sockets), which a reply never uses."""
WARN_EVERY = 10.0
"""Seconds between log lines about refused messages (the rest are only counted)."""


def list_tag(result: Any) -> str:
    """``<tag>[]`` for a non-empty list of messages of one registered class, else ``value``.

    The body stays the list of field maps; the tag lets a client rebuild typed objects."""
    if type(result) is list and result:
        kind = type(result[0])
        tag = getattr(kind, "__message_type__", "")
        if tag and is_registered(tag) and all(type(item) is kind for item in result):
            return f"{tag}[]"
    return "value"


class Replies:
    """Encodes and sends one actor's answers, counting what the heartbeat reports."""

    def __init__(self, socket: zmq.Socket[bytes], name: str, incarnation: int,
                 counters: HostCounters, max_bytes: int) -> None:
        self.socket = socket
        self.name = name
        self.incarnation = incarnation
        self.counters = counters
        self.max_bytes = max_bytes
        self._warned_at = 0.0

    def value(self, route: list[bytes], env: Envelope, result: Any) -> None:
        """Reply to ``env`` with a handler's result (a message object or a plain value).

        A :class:`Reply` (another actor's answer) goes out as it came: its type tag, its body.
        """
        try:
            tag = getattr(result, "__message_type__", None)  # a message's (see type_tag)
            if type(tag) is str and is_registered(tag):
                body = to_wire(result)
            elif isinstance(result, Reply):
                tag, body = result.type, to_wire(result.value)
            else:
                tag, body = list_tag(result), to_wire(result)
            data = encode_fields(KIND_REPLY, env.id, env.to, tag, body, None, self.incarnation)
        except Exception as exc:  # unencodable, too deep for msgpack, a cycle: the handler's fault
            self.counters.errors += 1
            self.error(route, env, "handler_error",
                       f"actor {self.name!r}, message {env.type!r}: reply cannot be encoded: "
                       f"{exception_summary(exc)}",
                       actor=self.name, type=env.type, exception=type(exc).__name__)
            return
        if len(data) > self.max_bytes:
            self.counters.errors += 1
            text = (f"actor {self.name!r}, message {env.type!r}: the reply is {len(data)} bytes, "
                    f"over the limit of {self.max_bytes} bytes (max_message_bytes); ask for "
                    "less, or raise max_message_bytes in the node config")
            self._warn(text)
            self.error(route, env, "too_large", text, limit=self.max_bytes, size=len(data))
            return
        self._send(route, data)

    def error(self, route: list[bytes], env: Envelope, code: str, text: str, **details: Any) -> None:
        """Reply to ``env`` with an error (asks only; a tell gets no answer)."""
        if env.kind == KIND_ASK:
            self._send(route, encode(env.error(code, text, incarnation=self.incarnation, **details)))

    def refuse(self, route: list[bytes], env: Envelope | None, code: str, text: str) -> None:
        """Refuse bad input: count it, log it now and then, answer it if it was an ask."""
        self.counters.bad_input += 1
        self._warn(f"actor {self.name!r} refused a message: {text}")
        self.error(route, env or Envelope(KIND_ASK, "", self.name, "error"), code, text)

    def _send(self, route: list[bytes], data: bytes) -> None:
        """Send ``data`` back along ``route`` (the ROUTER's identity frames): what
        ``send_multipart`` does, without its enum arithmetic and checks per frame."""
        socket = self.socket
        for frame in route:
            _send(socket, frame, _SNDMORE)
        _send(socket, data, 0)

    def _warn(self, text: str) -> None:
        """Log ``text`` unless a warning went out less than WARN_EVERY seconds ago."""
        now = time.monotonic()
        if now - self._warned_at > WARN_EVERY:
            self._warned_at = now
            log.warning("%s (further warnings for %g s are only counted)", text, WARN_EVERY)
