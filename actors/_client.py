"""The synchronous client agents use to talk to a node and its actors.

Each calling thread gets its own sockets (ZeroMQ sockets have one owner thread), so an
ask crosses no thread: send on the caller's DEALER, poll it and the lifecycle events
until the reply, the actor's death, or the deadline.
"""

from __future__ import annotations

import itertools
import threading
import time
import typing
from collections.abc import Iterable
from typing import Any

import attrs
import zmq

from messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    KIND_ASK,
    KIND_TELL,
    NODE_TARGET,
    ActorCrashed,
    ActorOverloaded,
    AskTimeout,
    Envelope,
    NodeAbout,
    NodeInfo,
    ProtocolError,
    RemoteError,
    Resolve,
    Resolved,
    Status,
    StatusReply,
    StopNode,
    decode,
)

from ._wire import (
    check_timeout,
    deadline_after,
    encode_checked,
    outgoing,
    parse_lifecycle,
    reply_value,
    subscribe_confirmed,
)

DEFAULT_WINDOW = 100
"""Asks :meth:`Connection.ask_many` keeps in flight at once."""
DEFAULT_SEND_HWM = 1000
"""Messages a connection queues per actor before a send fails as overloaded."""
RECONNECT_INTERVAL_MS = 2
"""First reconnect attempt to a restarted actor (ZeroMQ's default of 100 ms would dominate
crash-to-serving time); later attempts back off up to RECONNECT_INTERVAL_MAX_MS."""
RECONNECT_INTERVAL_MAX_MS = 10
CLOSE_LINGER = 0.5
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # plain ints: no enum work per ask
"""Seconds a closing connection waits for queued tells to leave."""


@attrs.frozen
class Reply:
    """A reply with how it was obtained: which incarnation answered, after how many tries."""

    value: Any
    attempts: int
    incarnation: int | None


@attrs.frozen
class ConnectionStatistics:
    """Counters of one connection."""

    asks: int
    tells: int
    dropped_tells: int
    late_replies: int


class _ThreadSockets:
    """The sockets one thread uses: front door, one DEALER per actor endpoint, events."""

    def __init__(self) -> None:
        self.front: zmq.Socket[bytes] | None = None
        self.actors: dict[str, zmq.Socket[bytes]] = {}
        self.events: zmq.Socket[bytes] | None = None
        self.pollers: dict[zmq.Socket[bytes], zmq.Poller] = {}


class Connection:
    """A connection to one node; safe to share between threads (see module doc)."""

    def __init__(self, endpoint: str, *, timeout: float | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 send_hwm: int = DEFAULT_SEND_HWM) -> None:
        self.endpoint = endpoint
        self.default_timeout = check_timeout(timeout)
        self.max_message_bytes = max_message_bytes
        self._send_hwm = send_hwm
        self._ctx = zmq.Context()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all_sockets: list[zmq.Socket[bytes]] = []
        self._resolved: dict[str, Resolved] = {}
        self._events_endpoint: str | None = None
        self._ids = itertools.count(1)
        self._asks = self._tells = self._dropped = self._late = 0
        self._closed = False

    # -- public API ------------------------------------------------------------------
    def ask(self, target: str, message: Any, body: Any = None, *, timeout: float | None = None,
            retries: int = 0) -> Any:
        """Send ``message`` to actor ``target`` and return its reply.

        ``message`` is an attrs message, or a type tag string with ``body`` a plain map.
        Raises ActorNotFound, HandlerError, ActorCrashed (after ``retries`` re-sends to
        the next incarnation), ActorOverloaded, DeadlineExpired, AskTimeout, or a
        ProtocolError subclass.
        """
        return self.ask_reply(target, message, body, timeout=timeout, retries=retries).value

    def ask_reply(self, target: str, message: Any, body: Any = None, *,
                  timeout: float | None = None, retries: int = 0) -> Reply:
        """As :meth:`ask`, returning a :class:`Reply` that says how many attempts it took."""
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        tag, payload = outgoing(message, body)
        seconds = check_timeout(timeout, self.default_timeout)
        wall_deadline, deadline = deadline_after(seconds)
        self._asks += 1
        if target == NODE_TARGET:
            return self._exchange(self._front(), None, target, tag, payload, wall_deadline,
                                  deadline, seconds, 0)
        resolved = self.resolve(target, timeout=seconds)
        socket = self._actor_socket(resolved.endpoint)
        return self._exchange(socket, resolved, target, tag, payload, wall_deadline, deadline,
                              seconds, retries)

    def ask_many(self, target: str, messages: Iterable[Any], *, timeout: float | None = None,
                 window: int = DEFAULT_WINDOW, return_exceptions: bool = False) -> list[Any]:
        """Ask ``target`` every message with up to ``window`` asks in flight; replies in order.

        One thread, no asyncio: the pipelined form of :meth:`ask` for batches. With
        ``return_exceptions`` an error reply takes its message's place in the list;
        otherwise the first error is raised once every reply is in. ``timeout`` bounds
        the whole batch. A crash of the actor fails every ask still in flight.
        """
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be an integer >= 1, got {window!r}")
        outgoing_ = [outgoing(m, None) for m in messages]
        seconds = check_timeout(timeout, self.default_timeout)
        wall_deadline, deadline = deadline_after(seconds)
        resolved = self.resolve(target, timeout=seconds)
        socket = self._actor_socket(resolved.endpoint)
        events = self._events()
        poller = self._poller(socket, events)
        results: list[Any] = [None] * len(outgoing_)
        slot_of: dict[int, int] = {}
        sent = done = 0
        while done < len(outgoing_):
            while sent < len(outgoing_) and len(slot_of) < window:
                tag, payload = outgoing_[sent]
                id_ = next(self._ids)
                try:
                    socket.send(encode_checked(Envelope(KIND_ASK, id_, target, tag, payload,
                                                        wall_deadline), self.max_message_bytes),
                                zmq.NOBLOCK)
                except zmq.Again:
                    raise ActorOverloaded(f"actor {target!r} is overloaded after {sent} of "
                                          f"{len(outgoing_)} asks") from None
                slot_of[id_] = sent
                sent += 1
            outcome = self._await(socket, events, poller, None, target, resolved.incarnation,
                                  deadline)
            if outcome is None:
                raise AskTimeout(f"{len(outgoing_) - done} of {len(outgoing_)} asks to {target!r} "
                                 f"unanswered after {seconds:g} s")
            if not isinstance(outcome, Envelope):
                raise ActorCrashed(f"actor {target!r} incarnation {outcome[0]} died ({outcome[1]}) "
                                   f"with {len(slot_of)} asks in flight",
                                   details={"actor": target, "incarnation": outcome[0],
                                            "cause": outcome[1]})
            while outcome is not None:  # take every reply already queued, one poll for all
                slot = slot_of.pop(outcome.id, None)  # type: ignore[arg-type]
                if slot is None:
                    self._late += 1
                else:
                    try:
                        results[slot] = reply_value(outcome)
                    except RemoteError as exc:
                        results[slot] = exc
                    done += 1
                outcome = self._recv_reply(socket, zmq.NOBLOCK) if slot_of else None
        self._asks += len(outgoing_)
        if not return_exceptions:
            for value in results:
                if isinstance(value, RemoteError):
                    raise value
        return results

    def tell(self, target: str, message: Any, body: Any = None) -> None:
        """Send without waiting; ActorOverloaded (and counted as dropped) if the queue is full."""
        tag, payload = outgoing(message, body)
        socket = self._front() if target == NODE_TARGET else \
            self._actor_socket(self.resolve(target).endpoint)
        data = encode_checked(Envelope(KIND_TELL, next(self._ids), target, tag, payload),
                              self.max_message_bytes)
        self._tells += 1
        try:
            socket.send(data, zmq.NOBLOCK)
        except zmq.Again:
            self._dropped += 1
            raise ActorOverloaded(f"tell {tag!r} to actor {target!r} dropped: "
                                  f"{self._send_hwm} messages already queued for it") from None

    def resolve(self, name: str, *, timeout: float | None = None, refresh: bool = False) -> Resolved:
        """Where actor ``name`` listens (cached); ActorNotFound if the node has no such actor."""
        if not refresh:
            cached = self._resolved.get(name)
            if cached is not None:
                return cached
        value = self.ask(NODE_TARGET, Resolve(name), timeout=timeout)
        assert isinstance(value, Resolved)
        self._resolved[name] = value
        return value

    def status(self, name: str | None = None, *, timeout: float | None = None) -> StatusReply:
        """Every actor's state, pid, incarnation, counters (or one actor's)."""
        value = self.ask(NODE_TARGET, Status(name), timeout=timeout)
        assert isinstance(value, StatusReply)
        return value

    def about(self, *, timeout: float | None = None) -> NodeAbout:
        """The node's endpoints and pid."""
        value = self.ask(NODE_TARGET, NodeInfo(), timeout=timeout)
        assert isinstance(value, NodeAbout)
        return value

    def stop_node(self, *, timeout: float | None = None) -> None:
        """Ask the node to stop every actor and exit."""
        self.ask(NODE_TARGET, StopNode(), timeout=timeout)

    def statistics(self) -> ConnectionStatistics:
        """Counters of this connection."""
        return ConnectionStatistics(self._asks, self._tells, self._dropped, self._late)

    def close(self, linger: float = CLOSE_LINGER) -> None:
        """Close every socket of every thread and the context (call when no thread asks).

        Tells still queued get up to ``linger`` seconds to leave before they are dropped.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for socket in self._all_sockets:
                socket.close(linger=int(linger * 1000))
            self._all_sockets.clear()
        self._ctx.term()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------
    def _exchange(self, socket: zmq.Socket[bytes], resolved: Resolved | None, target: str,
                  tag: str, payload: Any, wall_deadline: float, deadline: float,
                  seconds: float, retries: int) -> Reply:
        events = self._events() if resolved is not None else None
        incarnation = resolved.incarnation if resolved is not None else None
        poller = self._poller(socket, events)
        for attempt in range(1, retries + 2):
            if events is not None and typing.cast(int, events.getsockopt(_EVENTS)) & _POLLIN:
                # lifecycle news that arrived before this send: an exit seen now means the
                # message will wait for the next incarnation, not that this ask failed
                seen = self._crash_of(events, target, incarnation)
                if seen is not None:
                    incarnation = seen[0] + 1
                cached = self._resolved.get(target)
                if cached is not None and incarnation is not None:
                    incarnation = max(incarnation, cached.incarnation)
            id_ = next(self._ids)
            data = encode_checked(Envelope(KIND_ASK, id_, target, tag, payload, wall_deadline),
                                  self.max_message_bytes)
            try:
                socket.send(data, zmq.NOBLOCK)
            except zmq.Again:
                raise ActorOverloaded(f"actor {target!r} is overloaded: {self._send_hwm} messages "
                                      f"already queued for it; ask {tag!r} not sent") from None
            outcome = self._await(socket, events, poller, id_, target, incarnation, deadline)
            if isinstance(outcome, Envelope):
                return Reply(reply_value(outcome), attempt, outcome.incarnation)
            if outcome is None:
                raise AskTimeout(f"no reply from {target!r} to {tag!r} within {seconds:g} s")
            crashed_incarnation, cause = outcome
            incarnation = crashed_incarnation + 1
            if attempt > retries:
                raise ActorCrashed(
                    f"actor {target!r} incarnation {crashed_incarnation} died ({cause}) "
                    f"with ask {tag!r} in flight"
                    + (f"; gave up after {attempt} attempts" if retries else ""),
                    details={"actor": target, "incarnation": crashed_incarnation, "cause": cause,
                             "attempts": attempt})
        raise AssertionError("unreachable")

    def _await(self, socket: zmq.Socket[bytes], events: zmq.Socket[bytes] | None,
               poller: zmq.Poller, id_: int | None, target: str, incarnation: int | None,
               deadline: float) -> Envelope | tuple[int, str] | None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready = dict(poller.poll(max(1, int(remaining * 1000))))
            if socket in ready:
                env = self._recv_reply(socket)
                if env is not None and (id_ is None or env.id == id_):
                    return env
                self._late += 1
            if events is not None and events in ready:
                crash = self._crash_of(events, target, incarnation)
                if crash is not None:
                    return crash

    def _recv_reply(self, socket: zmq.Socket[bytes], flags: int = 0) -> Envelope | None:
        """The next reply on ``socket`` (None if it does not decode, or none is queued)."""
        try:
            frames = socket.recv_multipart(flags)
        except zmq.Again:
            return None
        try:
            return decode(frames[-1], max_bytes=self.max_message_bytes)
        except ProtocolError:
            return None

    def _crash_of(self, events: zmq.Socket[bytes], target: str,
                  incarnation: int | None) -> tuple[int, str] | None:
        """Drain lifecycle events; (incarnation, cause) if the one we asked has died."""
        crash = None
        while True:
            try:
                frames = events.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return crash
            event = parse_lifecycle(frames)
            if event is None or event.name != target:
                continue
            if event.event == "started":
                cached = self._resolved.get(target)
                if cached is not None:
                    self._resolved[target] = Resolved(target, cached.endpoint, event.incarnation,
                                                      "running")
            elif event.ended and (incarnation is None or event.incarnation >= incarnation):
                crash = (event.incarnation, event.cause)

    def _front(self) -> zmq.Socket[bytes]:
        sockets = self._thread_sockets()
        if sockets.front is None:
            sockets.front = self._new_socket(zmq.DEALER, self.endpoint)
        return sockets.front

    def _actor_socket(self, endpoint: str) -> zmq.Socket[bytes]:
        sockets = self._thread_sockets()
        socket = sockets.actors.get(endpoint)
        if socket is None:
            socket = sockets.actors[endpoint] = self._new_socket(zmq.DEALER, endpoint)
        return socket

    def _events(self) -> zmq.Socket[bytes]:
        sockets = self._thread_sockets()
        if sockets.events is None:
            if self._events_endpoint is None:
                self._events_endpoint = self.about().events
            sockets.events = self._new_socket(zmq.SUB, self._events_endpoint)
            subscribe_confirmed(sockets.events, b"lifecycle.")
        return sockets.events

    def _poller(self, socket: zmq.Socket[bytes], events: zmq.Socket[bytes] | None) -> zmq.Poller:
        """The calling thread's poller over ``socket`` (and the events), made once."""
        pollers = self._thread_sockets().pollers
        poller = pollers.get(socket)
        if poller is None:
            poller = pollers[socket] = zmq.Poller()
            poller.register(socket, zmq.POLLIN)
            if events is not None:
                poller.register(events, zmq.POLLIN)
        return poller

    def _thread_sockets(self) -> _ThreadSockets:
        sockets: _ThreadSockets | None = getattr(self._local, "sockets", None)
        if sockets is None:
            sockets = self._local.sockets = _ThreadSockets()
        return sockets

    def _new_socket(self, kind: int, endpoint: str) -> zmq.Socket[bytes]:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"connection to {self.endpoint} is closed")
            socket: zmq.Socket[bytes] = self._ctx.socket(kind)
            socket.linger = 0
            socket.sndhwm = self._send_hwm
            socket.reconnect_ivl = RECONNECT_INTERVAL_MS  # a restarted actor is reached at once
            socket.reconnect_ivl_max = RECONNECT_INTERVAL_MAX_MS
            socket.connect(endpoint)
            self._all_sockets.append(socket)
        return socket


def connect(endpoint: str = "tcp://127.0.0.1:5570", **options: Any) -> Connection:
    """Open a :class:`Connection` to the node at ``endpoint`` (sockets connect lazily)."""
    return Connection(endpoint, **options)
