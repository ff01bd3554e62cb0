"""A pykka inbox whose messages come from a ZeroMQ ROUTER socket and from local threads.

The actor thread is the socket's only owner: it blocks in :meth:`SocketInbox.get`, which
returns wire frames straight from the socket, so a message from an agent reaches its
handler without crossing a thread, and the handler's reply leaves from the same thread.
Other threads (worker futures, ``stop``) put local envelopes; an eventfd wakes the poll.
Descriptors the actor watches (:meth:`SocketInbox.watch`, e.g. a database socket driven
without blocking) are polled beside the socket; their readiness is a message too.
"""

from __future__ import annotations

import collections
import os
import typing
from collections.abc import Callable
from typing import Any

import zmq
from zmq.backend import zmq_poll

_POLL_MS = 1000
# plain ints: no enum work per message
_EVENTS, _POLLIN, _NOBLOCK = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.NOBLOCK)
FAIRNESS = 32
"""Wire messages taken in a row before watched descriptors are polled again, so a busy
socket cannot starve the I/O the actor is driving."""


class WireFrames:
    """Frames received on the actor's ROUTER socket: ``[identity, *payload]``."""

    __slots__ = ("frames",)

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames


class Readable:
    """A watched descriptor is readable: the actor thread runs its callback."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback


class _InboxEnvelope:
    """Duck-typed pykka envelope for what the inbox itself makes (wire frames, readiness):
    nobody local waits on a reply."""

    __slots__ = ("message", "reply_to")

    def __init__(self, message: Any) -> None:
        self.message = message
        self.reply_to = None


class SocketInbox:
    """pykka ``ActorInbox`` over a ROUTER socket plus a local deque (see module doc)."""

    def __init__(self) -> None:
        self._local: collections.deque[Any] = collections.deque()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._socket: zmq.Socket[bytes] | None = None
        self._poller = zmq.Poller()
        self._poller.register(self._wake, zmq.POLLIN)
        self._watched: dict[int, Callable[[], None]] = {}
        self._streak = 0
        self._peak = 0

    def attach(self, socket: zmq.Socket[bytes]) -> None:
        """Give the inbox its socket, before the actor thread starts (then never again)."""
        self._socket = socket
        self._poller.register(socket, zmq.POLLIN)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue a local envelope and wake the actor thread (any thread may call this)."""
        self._local.append(item)
        os.eventfd_write(self._wake, 1)

    def watch(self, fd: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the actor thread while ``fd`` is readable (actor thread only)."""
        if fd in self._watched:
            raise ValueError(f"descriptor {fd} is already watched")
        self._watched[fd] = callback
        self._poller.register(fd, zmq.POLLIN)

    def unwatch(self, fd: int) -> None:
        """Stop watching ``fd`` (actor thread only); unknown descriptors are ignored."""
        if self._watched.pop(fd, None) is not None:
            self._poller.unregister(fd)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Next local envelope, else next wire message; blocks until there is one."""
        socket = self._socket
        readable = False  # the poll below found the socket readable: no EVENTS look first
        while True:
            if self._local:
                return self._local.popleft()
            starving = bool(self._watched) and self._streak >= FAIRNESS
            # EVENTS first: an empty socket costs a flag test, not a raised zmq.Again
            if socket is not None and not starving and \
                    (readable or typing.cast(int, socket.getsockopt(_EVENTS)) & _POLLIN):
                frames = _recv_frames(socket)
                if frames is not None:
                    self._streak += 1
                    if self._streak > self._peak:  # noqa: PLR1730 (no call on the hot path)
                        self._peak = self._streak
                    return _InboxEnvelope(WireFrames(frames))
            self._streak, readable = 0, False
            for item, _ in zmq_poll(self._poller.sockets, 0 if starving else _POLL_MS):
                if item is socket:
                    readable = True
                elif item == self._wake:
                    try:
                        os.eventfd_read(self._wake)
                    except BlockingIOError:
                        pass
                else:
                    callback = self._watched.get(item) if isinstance(item, int) else None
                    if callback is not None:
                        self._local.append(_InboxEnvelope(Readable(callback)))

    def take_waiting(self) -> int:
        """The most wire messages found already waiting, one after another, since the last
        call (0: each arrived to an idle actor); resets it. Any thread may call this: the
        figure is a gauge, so an update lost to a race is lost for one heartbeat only.

        ZeroMQ tells no queue length, so this is the mailbox's use as the actor thread sees
        it: a run of N messages taken without waiting means N - 1 were queued behind one.
        """
        peak, self._peak = self._peak, 0
        return max(0, peak - 1)

    def empty(self) -> bool:
        """Whether no local envelope waits (wire messages are not drained at stop)."""
        return not self._local

    def close(self) -> None:
        """Release the wake descriptor."""
        os.close(self._wake)


def _recv_frames(socket: zmq.Socket[bytes]) -> list[bytes] | None:
    """Every frame of the next message, without waiting (None if none is queued): what
    ``recv_multipart`` does, without its per-call option lookups."""
    try:
        frame = socket.recv(_NOBLOCK, False)
    except zmq.Again:
        return None
    frames = [frame.bytes]
    while frame.more:  # a Frame says so without the option lookup getsockopt(RCVMORE) does
        frame = socket.recv(_NOBLOCK, False)
        frames.append(frame.bytes)
    return frames
