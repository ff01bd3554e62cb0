"""What an actor host sends back on its ROUTER socket: replies, error replies, refusals.

Kept apart from dispatch (:mod:`._bridge`) so the wire shape of every answer an actor
gives is decided in one place. Used on the actor thread only (it owns the socket).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import zmq

from messages import KIND_ASK, Envelope, encode, is_registered, to_wire, type_tag

from ._client import Reply

if TYPE_CHECKING:
    from ._bridge import HostCounters

log = logging.getLogger("actors.host")

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
                 counters: HostCounters) -> None:
        self.socket = socket
        self.name = name
        self.incarnation = incarnation
        self.counters = counters
        self._warned_at = 0.0

    def value(self, route: list[bytes], env: Envelope, result: Any) -> None:
        """Reply to ``env`` with a handler's result (a message object or a plain value).

        A :class:`Reply` (another actor's answer) goes out as it came: its type tag, its body.
        """
        if isinstance(result, Reply):
            tag, body = result.type, to_wire(result.value)
        elif result is not None and is_registered(getattr(result, "__message_type__", "")):
            tag, body = type_tag(result), to_wire(result)
        else:
            tag, body = list_tag(result), to_wire(result)
        try:
            data = encode(env.reply(tag, body, incarnation=self.incarnation))
        except TypeError as exc:
            self.counters.errors += 1
            data = encode(env.error("handler_error", f"actor {self.name!r}, message {env.type!r}: "
                                    f"reply cannot be encoded: {exc}", incarnation=self.incarnation))
        self.socket.send_multipart([*route, data])

    def error(self, route: list[bytes], env: Envelope, code: str, text: str, **details: Any) -> None:
        """Reply to ``env`` with an error (asks only; a tell gets no answer)."""
        if env.kind == KIND_ASK:
            self.socket.send_multipart([*route, encode(env.error(
                code, text, incarnation=self.incarnation, **details))])

    def refuse(self, route: list[bytes], env: Envelope | None, code: str, text: str) -> None:
        """Refuse bad input: count it, log it now and then, answer it if it was an ask."""
        self.counters.bad_input += 1
        now = time.monotonic()
        if now - self._warned_at > WARN_EVERY:
            self._warned_at = now
            log.warning("actor %r refused a message: %s (further refusals for %g s are only "
                        "counted)", self.name, text, WARN_EVERY)
        self.error(route, env or Envelope(KIND_ASK, "", self.name, "error"), code, text)
