"""The asyncio client's reply reading: one reader per DEALER, on the event loop itself.

Awaiting ``recv`` on a ``zmq.asyncio`` socket costs a future and its callbacks per reply.
Instead the loop watches the socket's descriptor, and each wake-up takes every reply
already queued (non-blocking receives while ZMQ_EVENTS says there is one), handing each
to the future waiting on its correlation id. ZeroMQ's descriptor signals only changes:
after a send (which may take the signal) the reader looks again, once per loop pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import zmq

from messages import Envelope, ProtocolError, decode

# plain ints: no enum work per reply
_EVENTS, _POLLIN, _NOBLOCK, _FD = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.NOBLOCK), int(zmq.FD)


class ReplyReader:
    """Reads the replies arriving on one socket and passes each to ``deliver``."""

    def __init__(self, socket: zmq.Socket[bytes], loop: asyncio.AbstractEventLoop,
                 deliver: Callable[[Envelope], None], max_bytes: int) -> None:
        self.socket = socket
        self._loop = loop
        self._deliver = deliver
        self._max_bytes = max_bytes
        self._fd = cast(int, socket.getsockopt(_FD))
        self._looking = False
        loop.add_reader(self._fd, self.drain)

    def sent(self) -> None:
        """A send happened on the socket: look for replies on the next loop pass."""
        if not self._looking:
            self._looking = True
            self._loop.call_soon(self.drain)

    def drain(self) -> None:
        """Deliver every reply queued now; undecodable frames are dropped."""
        self._looking = False
        socket, deliver, max_bytes = self.socket, self._deliver, self._max_bytes
        while cast(int, socket.getsockopt(_EVENTS)) & _POLLIN:
            try:
                frame = socket.recv(_NOBLOCK, False)
                while frame.more:  # of several frames, the last is the payload
                    frame = socket.recv(_NOBLOCK, False)
            except zmq.Again:
                return
            try:
                env = decode(frame.bytes, max_bytes=max_bytes)
            except ProtocolError:
                continue
            deliver(env)

    def close(self) -> None:
        """Stop watching the socket (closing it is the owner's)."""
        self._loop.remove_reader(self._fd)
