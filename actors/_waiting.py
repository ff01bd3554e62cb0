"""Waiting for one reply in the caller's thread: the reply, the actor's death, or the deadline.

The caller waits on its reply socket alone, in slices; between slices it looks at the
connection's :class:`~actors._deaths.DeathWatch`. A death of the incarnation an ask went to
means that ask will never be answered; a death seen before the ask was sent only means
the ask goes to the next incarnation.
"""

from __future__ import annotations

import time

import zmq

from messages import Envelope, ProtocolError, decode

from ._deaths import DeathWatch
from ._sockets import Lane
from ._wire import IncarnationCache

# plain ints: no enum work per ask
_RCVTIMEO = int(zmq.RCVTIMEO)
# (replies are read as Frames: a Frame's ``more`` is read without the option lookup that
# getsockopt(RCVMORE) does)
FIRST_SLICE_MS = 5
"""How long a wait blocks on the reply socket before it first looks for a death (ms)..."""
LONGEST_SLICE_MS = 50
"""...doubling up to this: a death is noticed within about this long, and a long wait
costs a few wake-ups a second."""

Outcome = Envelope | tuple[int, str] | None
"""A reply; (incarnation, cause) of a death; or None when the deadline passed."""


class Waiter:
    """Reply waiting for one connection; counts replies that came too late."""

    def __init__(self, cache: IncarnationCache, max_message_bytes: int) -> None:
        self.cache = cache
        self.max_message_bytes = max_message_bytes
        self.late = 0

    def incarnation_before_send(self, deaths: DeathWatch, target: str,
                                incarnation: int | None) -> int | None:
        """The incarnation a message sent now will reach, as far as the events tell.

        A death seen before sending means the message waits for the next incarnation; it
        is not a failure of this ask.
        """
        seen = deaths.death(target, incarnation)
        if seen is not None:
            incarnation = seen[0] + 1
        cached = self.cache.get(target)
        if cached is not None and incarnation is not None and cached.incarnation > incarnation:
            incarnation = cached.incarnation
        return incarnation

    def wait(self, lane: Lane, id_: int | None, target: str, incarnation: int | None,
             deadline: float) -> Outcome:
        """The reply with ``id_`` (any reply if None), a death of ``incarnation``, or None."""
        socket, deaths, slice_ms = lane.socket, lane.deaths, FIRST_SLICE_MS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait_ms = min(slice_ms, max(1, int(remaining * 1000)))
            if wait_ms != lane.rcvtimeo:
                socket.setsockopt(_RCVTIMEO, wait_ms)
                lane.rcvtimeo = wait_ms
            try:
                frame = socket.recv(0, False)
                while frame.more:  # of several frames, the last is the payload
                    frame = socket.recv(0, False)
            except zmq.Again:
                slice_ms = min(2 * slice_ms, LONGEST_SLICE_MS)
            else:
                try:
                    env = decode(frame.bytes, max_bytes=self.max_message_bytes)
                except ProtocolError:  # a peer's bad reply: dropped, the wait goes on
                    self.late += 1
                else:
                    if id_ is None or env.id == id_:
                        return env
                    self.late += 1
            crash = deaths.death(target, incarnation) if deaths is not None else None
            if crash is not None:
                return crash

    def recv(self, socket: zmq.Socket[bytes], flags: int = 0) -> Envelope | None:
        """The next reply on ``socket`` (None if it does not decode, or none is queued);
        of a message of several frames, the last is the payload."""
        try:
            frame = socket.recv(flags, False)
            while frame.more:
                frame = socket.recv(flags, False)
        except zmq.Again:
            return None
        return self.decode(frame.bytes)

    def decode(self, data: bytes) -> Envelope | None:
        """The reply in ``data``; None if it does not decode (a peer's bad reply is dropped
        and the wait goes on: the ask ends at its deadline, or on the actor's death)."""
        try:
            return decode(data, max_bytes=self.max_message_bytes)
        except ProtocolError:
            return None
