"""The sockets of a sync connection: each thread owns its own, made on first use.

ZeroMQ sockets have one owner thread; giving every calling thread its own DEALERs (front
door, one per actor endpoint) and its own lifecycle SUB means an ask crosses no thread.
"""

from __future__ import annotations

import threading
from typing import Final

import zmq

from ._wire import subscribe_confirmed

RECONNECT_INTERVAL_MS: Final = 2
"""First reconnect attempt to a restarted actor (ZeroMQ's default of 100 ms would dominate
crash-to-serving time); later attempts back off up to RECONNECT_INTERVAL_MAX_MS."""
RECONNECT_INTERVAL_MAX_MS: Final = 10


class _Owned:
    """One thread's sockets."""

    def __init__(self) -> None:
        self.front: zmq.Socket[bytes] | None = None
        self.actors: dict[str, zmq.Socket[bytes]] = {}
        self.events: zmq.Socket[bytes] | None = None
        self.pollers: dict[zmq.Socket[bytes], zmq.Poller] = {}


class ThreadSockets:
    """Per-thread sockets of one connection, all closed together by :meth:`close`."""

    def __init__(self, endpoint: str, send_hwm: int) -> None:
        self.endpoint = endpoint
        self.send_hwm = send_hwm
        self._ctx = zmq.Context()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[zmq.Socket[bytes]] = []
        self._closed = False

    def front(self) -> zmq.Socket[bytes]:
        """This thread's DEALER to the node's front door."""
        owned = self._owned()
        if owned.front is None:
            owned.front = self._new(zmq.DEALER, self.endpoint)
        return owned.front

    def actor(self, endpoint: str) -> zmq.Socket[bytes]:
        """This thread's DEALER to the actor at ``endpoint``."""
        owned = self._owned()
        socket = owned.actors.get(endpoint)
        if socket is None:
            socket = owned.actors[endpoint] = self._new(zmq.DEALER, endpoint)
        return socket

    def events(self, events_endpoint: str) -> zmq.Socket[bytes]:
        """This thread's SUB to the node's lifecycle events, confirmed before first use."""
        owned = self._owned()
        if owned.events is None:
            owned.events = self._new(zmq.SUB, events_endpoint)
            subscribe_confirmed(owned.events, b"lifecycle.")
        return owned.events

    def poller(self, socket: zmq.Socket[bytes], events: zmq.Socket[bytes] | None) -> zmq.Poller:
        """This thread's poller over ``socket`` (and the events), made once."""
        pollers = self._owned().pollers
        poller = pollers.get(socket)
        if poller is None:
            poller = pollers[socket] = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            if events is not None:
                poller.register(events, zmq.POLLIN)
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
        self._ctx.term()

    def _owned(self) -> _Owned:
        owned: _Owned | None = getattr(self._local, "owned", None)
        if owned is None:
            owned = self._local.owned = _Owned()
        return owned

    def _new(self, kind: int, endpoint: str) -> zmq.Socket[bytes]:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"connection to {self.endpoint} is closed")
            socket: zmq.Socket[bytes] = self._ctx.socket(kind)
            socket.linger = 0
            socket.sndhwm = self.send_hwm
            socket.reconnect_ivl = RECONNECT_INTERVAL_MS
            socket.reconnect_ivl_max = RECONNECT_INTERVAL_MAX_MS
            socket.connect(endpoint)
            self._all.append(socket)
        return socket
