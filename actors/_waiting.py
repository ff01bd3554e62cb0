"""Waiting for one reply in the caller's thread: the reply, the actor's death, or the deadline.

A lifecycle ``exited`` event for the incarnation an ask went to means that ask will never
be answered; events that arrived before the ask was sent only move the cache forward.
"""

from __future__ import annotations

import time
import typing

import zmq

from messages import Envelope, ProtocolError, decode

from ._events import EventReader
from ._wire import IncarnationCache

_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: no enum work per ask

Outcome = Envelope | tuple[int, str] | None
"""A reply; (incarnation, cause) of a death; or None when the deadline passed."""


class Waiter:
    """Reply waiting for one connection; counts replies that came too late."""

    def __init__(self, cache: IncarnationCache, max_message_bytes: int) -> None:
        self.cache = cache
        self.max_message_bytes = max_message_bytes
        self.late = 0

    def incarnation_before_send(self, events: EventReader, target: str,
                                incarnation: int | None) -> int | None:
        """The incarnation a message sent now will reach, after reading queued events.

        An exit seen before sending means the message waits for the next incarnation; it
        is not a failure of this ask.
        """
        if not typing.cast(int, events.socket.getsockopt(_EVENTS)) & _POLLIN:
            return incarnation
        seen = self.crash_of(events, target, incarnation)
        if seen is not None:
            incarnation = seen[0] + 1
        cached = self.cache.get(target)
        if cached is not None and incarnation is not None:
            incarnation = max(incarnation, cached.incarnation)
        return incarnation

    def wait(self, socket: zmq.Socket[bytes], events: EventReader | None,
             poller: zmq.Poller, id_: int | None, target: str, incarnation: int | None,
             deadline: float) -> Outcome:
        """The reply with ``id_`` (any reply if None), a death of ``incarnation``, or None."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready = dict(poller.poll(max(1, int(remaining * 1000))))
            if socket in ready:
                env = self.recv(socket)
                if env is not None and (id_ is None or env.id == id_):
                    return env
                self.late += 1
            if events is not None and events.socket in ready:
                crash = self.crash_of(events, target, incarnation)
                if crash is not None:
                    return crash

    def recv(self, socket: zmq.Socket[bytes], flags: int = 0) -> Envelope | None:
        """The next reply on ``socket`` (None if it does not decode, or none is queued)."""
        try:
            frames = socket.recv_multipart(flags)
        except zmq.Again:
            return None
        try:
            return decode(frames[-1], max_bytes=self.max_message_bytes)
        except ProtocolError:
            return None

    def crash_of(self, events: EventReader, target: str,
                 incarnation: int | None) -> tuple[int, str] | None:
        """Drain lifecycle events; (incarnation, cause) if the one asked has died."""
        crash = None
        for event in events.drain():
            lifecycle = event.lifecycle
            if lifecycle is None:
                continue
            self.cache.learn(lifecycle)
            if lifecycle.name == target and lifecycle.ended and \
                    (incarnation is None or lifecycle.incarnation >= incarnation):
                crash = (lifecycle.incarnation, lifecycle.cause or lifecycle.event)
        return crash
