"""A pykka inbox whose messages come from a ZeroMQ ROUTER socket and from local threads.

The actor thread is the socket's only owner: it blocks in :meth:`SocketInbox.get`, which
returns wire frames straight from the socket, so a message from an agent reaches its
handler without crossing a thread, and the handler's reply leaves from the same thread.
Other threads (worker futures, ``stop``) put local envelopes; an eventfd wakes the poll.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import zmq

_POLL_MS = 1000


class WireFrames:
    """Frames received on the actor's ROUTER socket: ``[identity, *payload]``."""

    __slots__ = ("frames",)

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames


class _WireEnvelope:
    """Duck-typed pykka envelope for wire frames: nobody local waits on a reply."""

    __slots__ = ("message", "reply_to")

    def __init__(self, frames: list[bytes]) -> None:
        self.message = WireFrames(frames)
        self.reply_to = None


class SocketInbox:
    """pykka ``ActorInbox`` over a ROUTER socket plus a local deque (see module doc)."""

    def __init__(self) -> None:
        self._local: collections.deque[Any] = collections.deque()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._socket: zmq.Socket[bytes] | None = None
        self._poller = zmq.Poller()
        self._poller.register(self._wake, zmq.POLLIN)

    def attach(self, socket: zmq.Socket[bytes]) -> None:
        """Give the inbox its socket, before the actor thread starts (then never again)."""
        self._socket = socket
        self._poller.register(socket, zmq.POLLIN)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue a local envelope and wake the actor thread (any thread may call this)."""
        self._local.append(item)
        os.eventfd_write(self._wake, 1)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Next local envelope, else next wire message; blocks until there is one."""
        socket = self._socket
        while True:
            if self._local:
                return self._local.popleft()
            if socket is not None:
                try:
                    return _WireEnvelope(socket.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    pass
            for item, _ in self._poller.poll(_POLL_MS):
                if item == self._wake:
                    try:
                        os.eventfd_read(self._wake)
                    except BlockingIOError:
                        pass

    def empty(self) -> bool:
        """Whether no local envelope waits (wire messages are not drained at stop)."""
        return not self._local

    def close(self) -> None:
        """Release the wake descriptor."""
        os.close(self._wake)
