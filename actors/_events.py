"""Reading a node's event stream: one reader for every subscriber.

The node publishes ``[topic, envelope]`` on an XPUB socket. :class:`EventReader` (threads)
and :class:`AsyncEventReader` (asyncio) subscribe through the transport, confirm the
subscription (the node answers each one with ``node.welcome``; seeing it means the topics
asked before it are live, so nothing falls into ZeroMQ's slow-joiner gap), decode every
frame with the codec, check the node's own events against their message classes, and
hand out :class:`NodeEvent` objects. Frames that do not decode or check are counted in
``refused`` and skipped; welcomes are never handed out.
"""

from __future__ import annotations

import time
from typing import Any, Final

import attrs
import zmq
import zmq.asyncio

from messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    NODE_EVENTS,
    LifecycleEvent,
    ProtocolError,
    Welcome,
    decode,
    from_wire,
    type_tag,
)

from ._security import ClientKeys
from ._transport import close_context, connect_socket, new_async_context, new_context

WELCOME_TOPIC: Final = type_tag(Welcome)
SUBSCRIBE_TIMEOUT: Final = 2.0
"""Seconds a new subscriber waits for the node to confirm its subscription."""
_LIFECYCLE: Final = {type_tag(cls): cls for cls in NODE_EVENTS}
_WELCOME: Final = WELCOME_TOPIC.encode()
_NOTHING: Final = object()
_SKIPPED: Final = object()


@attrs.frozen
class NodeEvent:
    """One event from a node's stream, decoded and checked."""

    topic: str
    """The envelope's type, e.g. ``lifecycle.exited`` or ``health.alert``."""
    source: str
    """Who it is about: the actor (or supervisor) name, ``node`` for the node's own."""
    body: dict[str, Any]
    """The fields as published (a map; actors' events carry ``name``, the publisher)."""
    lifecycle: LifecycleEvent | None = None
    """The typed event for ``lifecycle.*`` topics (``ActorStarted``, ``ActorExited``...)."""


def read_event(frames: list[bytes], *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> NodeEvent | None:
    """The event in ``[topic, envelope]`` frames; None for a welcome.

    Raises :class:`ProtocolError` if the envelope does not decode, is no event, or a
    lifecycle body does not check against its class.
    """
    env = decode(frames[-1], max_bytes=max_bytes)
    if env.type == WELCOME_TOPIC:
        return None
    if env.kind != "event":
        raise ProtocolError(f"expected an event on the event stream, got a {env.kind!r}")
    body = env.body if isinstance(env.body, dict) else {"value": env.body}
    cls = _LIFECYCLE.get(env.type)
    lifecycle = from_wire(cls, body, tolerant=True) if cls is not None else None
    return NodeEvent(env.type, env.to, body, lifecycle)


def subscribe_confirmed(socket: zmq.Socket[bytes], *topics: bytes) -> bool:
    """Subscribe a connected SUB socket and wait until the node confirms it is in place.

    The node answers every subscription with a ``node.welcome`` event; it is subscribed
    last, so seeing it means the earlier topics are live. False after SUBSCRIBE_TIMEOUT.
    Events that arrive meanwhile on the other topics are dropped.
    """
    for topic in topics:
        socket.subscribe(topic)
    socket.subscribe(_WELCOME)
    deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if socket.poll(max(1, int(remaining * 1000))) and socket.recv_multipart()[0] == _WELCOME:
                return True
        return False
    finally:
        if _WELCOME not in topics:
            socket.unsubscribe(_WELCOME)


class EventReader:
    """A confirmed subscription to a node's events, owned by one thread (see module doc).

    ``topics`` are prefixes (``"lifecycle."``; ``""`` for everything). ``ctx`` is the
    caller's context, else the reader makes (and closes) its own. ``keys`` for a secured
    node; None takes them from AGENTCELL_CLIENT_KEY and AGENTCELL_NODE_KEY, if set.
    """

    def __init__(self, endpoint: str, *topics: str, keys: ClientKeys | None = None,
                 ctx: zmq.Context[zmq.Socket[bytes]] | None = None,
                 max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.endpoint = endpoint
        self.max_bytes = max_bytes
        self.refused = 0
        keys = ClientKeys.resolve() if keys is None else keys
        self._own = ctx is None
        self._ctx = new_context() if ctx is None else ctx
        self.socket: zmq.Socket[bytes] = connect_socket(self._ctx, zmq.SUB, endpoint, keys=keys)
        self.confirmed = subscribe_confirmed(self.socket, *(t.encode() for t in topics or ("",)))
        """Whether the node confirmed the subscription within SUBSCRIBE_TIMEOUT."""

    def next(self, timeout: float) -> NodeEvent | None:
        """The next event, waiting up to ``timeout`` seconds; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            taken = self._take()
            if isinstance(taken, NodeEvent):
                return taken
            if taken is _NOTHING:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.socket.poll(max(1, int(remaining * 1000))):
                    return None

    def drain(self) -> list[NodeEvent]:
        """Every event queued now, without waiting."""
        events = []
        while (taken := self._take()) is not _NOTHING:
            if isinstance(taken, NodeEvent):
                events.append(taken)
        return events

    def close(self) -> None:
        """Close the socket (and the context, if the reader made it)."""
        self.socket.close(linger=0)
        if self._own:
            close_context(self._ctx)

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self) -> NodeEvent | object:
        """The next queued event; _SKIPPED for a welcome or a refused frame, _NOTHING if
        nothing is queued."""
        try:
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return _NOTHING
        try:
            return read_event(frames, max_bytes=self.max_bytes) or _SKIPPED
        except ProtocolError:
            self.refused += 1
            return _SKIPPED


class AsyncEventReader:
    """:class:`EventReader` for asyncio: open it with ``await AsyncEventReader.open(...)``."""

    def __init__(self, socket: zmq.asyncio.Socket, ctx: zmq.asyncio.Context | None,
                 max_bytes: int) -> None:
        self.socket = socket
        self.max_bytes = max_bytes
        self.refused = 0
        self.confirmed = False
        self._ctx = ctx

    @classmethod
    async def open(cls, endpoint: str, *topics: str, keys: ClientKeys | None = None,
                   ctx: zmq.asyncio.Context | None = None,
                   max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> AsyncEventReader:
        """Subscribe to ``topics`` (prefixes) and wait for the node's confirmation; the
        arguments are :class:`EventReader`'s."""
        keys = ClientKeys.resolve() if keys is None else keys
        context = new_async_context() if ctx is None else ctx
        socket = connect_socket(context, zmq.SUB, endpoint, keys=keys)
        reader = cls(socket, context if ctx is None else None, max_bytes)
        wanted = [t.encode() for t in topics or ("",)]
        for topic in wanted:
            socket.subscribe(topic)
        socket.subscribe(_WELCOME)
        deadline = time.monotonic() + SUBSCRIBE_TIMEOUT
        while not reader.confirmed and (remaining := deadline - time.monotonic()) > 0:
            if await socket.poll(max(1, int(remaining * 1000))):
                reader.confirmed = (await socket.recv_multipart())[0] == _WELCOME
        if _WELCOME not in wanted:
            socket.unsubscribe(_WELCOME)
        return reader

    async def next(self) -> NodeEvent:
        """The next event (waits until one comes; cancel the task to stop waiting)."""
        while True:
            frames = await self.socket.recv_multipart()
            try:
                event = read_event(frames, max_bytes=self.max_bytes)
            except ProtocolError:
                self.refused += 1
                continue
            if event is not None:
                return event

    def close(self) -> None:
        """Close the socket (and the context, if the reader made it)."""
        self.socket.close(linger=0)
        if self._ctx is not None:
            close_context(self._ctx)
