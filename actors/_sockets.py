"""The sockets of a sync connection: each thread owns its own, made on first use.

ZeroMQ sockets have one owner thread; giving every calling thread its own DEALERs (front
door, one per actor endpoint) and its own lifecycle reader means an ask crosses no thread.
Every socket comes from the transport (:mod:`actors._transport`).
"""

from __future__ import annotations

import threading

import zmq

from ._events import EventReader
from ._security import ClientKeys
from ._transport import close_context, connect_socket, new_context


class _Owned:
    """One thread's sockets."""

    def __init__(self) -> None:
        self.front: zmq.Socket[bytes] | None = None
        self.actors: dict[str, zmq.Socket[bytes]] = {}
        self.events: EventReader | None = None
        self.pollers: dict[zmq.Socket[bytes], zmq.Poller] = {}


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

    def front(self) -> zmq.Socket[bytes]:
        """This thread's DEALER to the node's front door."""
        owned = self._owned()
        if owned.front is None:
            owned.front = self._dealer(self.endpoint)
        return owned.front

    def actor(self, endpoint: str) -> zmq.Socket[bytes]:
        """This thread's DEALER to the actor at ``endpoint``."""
        owned = self._owned()
        socket = owned.actors.get(endpoint)
        if socket is None:
            socket = owned.actors[endpoint] = self._dealer(endpoint)
        return socket

    def events(self, events_endpoint: str) -> EventReader:
        """This thread's reader of the node's lifecycle events, confirmed before first use."""
        owned = self._owned()
        if owned.events is None:
            with self._lock:
                self._check_open()
                reader = EventReader(events_endpoint, "lifecycle.", keys=self.keys, ctx=self._ctx,
                                     max_bytes=self.max_message_bytes)
                self._all.append(reader.socket)
            owned.events = reader
        return owned.events

    def poller(self, socket: zmq.Socket[bytes], events: EventReader | None) -> zmq.Poller:
        """This thread's poller over ``socket`` (and the events), made once."""
        pollers = self._owned().pollers
        poller = pollers.get(socket)
        if poller is None:
            poller = pollers[socket] = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            if events is not None:
                poller.register(events.socket, zmq.POLLIN)
        return poller

    def close(self, linger_ms: int) -> None:
        """Close every thread's sockets and the context (when no thread uses them)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
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
