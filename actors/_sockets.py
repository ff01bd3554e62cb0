"""The sockets of a sync connection: each thread owns its own, made on first use.

ZeroMQ sockets have one owner thread; giving every calling thread its own DEALERs (front
door, one per actor endpoint) means an ask crosses no thread. The lifecycle events are read
once per connection, by its :class:`~actors._deaths.DeathWatch`. Every socket comes from
the transport (:mod:`actors._transport`).
"""

from __future__ import annotations

import threading

import zmq

from ._deaths import DeathWatch
from ._security import ClientKeys
from ._transport import close_context, connect_socket, new_context
from ._wire import IncarnationCache


class Lane:
    """One thread's way to one endpoint: its DEALER, and the watch that tells of the
    actor's death (None for the node's front door)."""

    __slots__ = ("deaths", "rcvtimeo", "socket")

    def __init__(self, socket: zmq.Socket[bytes], deaths: DeathWatch | None) -> None:
        self.socket = socket
        self.deaths = deaths
        self.rcvtimeo = -1
        """The socket's receive timeout now (ms), so that it is set only when it changes."""


class _Owned:
    """One thread's sockets."""

    def __init__(self) -> None:
        self.front: Lane | None = None
        self.actors: dict[str, zmq.Socket[bytes]] = {}
        self.lanes: dict[str, Lane] = {}


class ThreadSockets:
    """Per-thread sockets of one connection, all closed together by :meth:`close`."""

    def __init__(self, endpoint: str, send_hwm: int, keys: ClientKeys | None,
                 max_message_bytes: int) -> None:
        self.endpoint = endpoint
        self.send_hwm = send_hwm
        self.keys = keys
        self.max_message_bytes = max_message_bytes
        self._ctx = new_context()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[zmq.Socket[bytes]] = []
        self._closed = False
        self._deaths: DeathWatch | None = None

    def front(self) -> Lane:
        """This thread's lane to the node's front door (no lifecycle reader)."""
        owned = self._owned()
        if owned.front is None:
            owned.front = Lane(self._dealer(self.endpoint), None)
        return owned.front

    def actor(self, endpoint: str) -> zmq.Socket[bytes]:
        """This thread's DEALER to the actor at ``endpoint``."""
        owned = self._owned()
        socket = owned.actors.get(endpoint)
        if socket is None:
            socket = owned.actors[endpoint] = self._dealer(endpoint)
        return socket

    def lane(self, endpoint: str, events_endpoint: str, cache: IncarnationCache) -> Lane:
        """This thread's lane to the actor at ``endpoint``, watched for the actor's death."""
        owned = self._owned()
        lane = owned.lanes.get(endpoint)
        if lane is None:
            lane = owned.lanes[endpoint] = Lane(self.actor(endpoint), self.deaths(events_endpoint, cache))
        return lane

    def deaths(self, events_endpoint: str, cache: IncarnationCache) -> DeathWatch:
        """The connection's watch on actor deaths, started (and confirmed) on first use."""
        with self._lock:
            self._check_open()
            if self._deaths is None:
                self._deaths = DeathWatch(events_endpoint, cache, keys=self.keys, ctx=self._ctx,
                                          max_bytes=self.max_message_bytes)
            return self._deaths

    def close(self, linger_ms: int) -> None:
        """Close every thread's sockets and the context (when no thread uses them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._deaths is not None:
                self._deaths.close()
            for socket in self._all:
                socket.close(linger=linger_ms)
            self._all.clear()
        close_context(self._ctx, linger_ms=linger_ms)

    def _owned(self) -> _Owned:
        owned: _Owned | None = getattr(self._local, "owned", None)
        if owned is None:
            owned = self._local.owned = _Owned()
        return owned

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"connection to {self.endpoint} is closed")

    def _dealer(self, endpoint: str) -> zmq.Socket[bytes]:
        with self._lock:
            self._check_open()
            socket = connect_socket(self._ctx, zmq.DEALER, endpoint, keys=self.keys, sndhwm=self.send_hwm)
            self._all.append(socket)
        return socket
