"""The synchronous client agents use to talk to a node and its actors.

Each calling thread gets its own sockets (ZeroMQ sockets have one owner thread), so an
ask crosses no thread: send on the caller's DEALER, poll it and the lifecycle events
until the reply, the actor's death, or the deadline.
"""

from __future__ import annotations

import itertools
import os
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
    RemoteError,
    Resolve,
    Resolved,
    Status,
    StatusReply,
    StopNode,
)

from ._events import EventReader
from ._security import ClientKeys
from ._sockets import ThreadSockets
from ._waiting import Waiter
from ._wire import (
    IncarnationCache,
    check_timeout,
    deadline_after,
    encode_checked,
    not_sent,
    outgoing,
    reply_value,
)

DEFAULT_WINDOW = 100
"""Asks :meth:`Connection.ask_many` keeps in flight at once."""
DEFAULT_SEND_HWM = 1000
"""Messages a connection queues per actor before a send fails as overloaded."""
CLOSE_LINGER = 0.5
"""Seconds a closing connection waits for queued tells to leave."""


@attrs.frozen
class Reply:
    """A reply with how it was obtained: which incarnation answered, after how many tries.

    ``type`` is the reply's type tag as it came (``"value"`` for a plain value). A handler
    that returns a Reply passes it on as it came: same type tag, same body.
    """

    value: Any
    attempts: int
    incarnation: int | None
    type: str = "value"


@attrs.frozen
class ConnectionStatistics:
    """Counters of one connection."""

    asks: int
    tells: int
    dropped_tells: int
    late_replies: int


class Connection:
    """A connection to one node; safe to share between threads (see module doc).

    A node with ``security`` answers only clients with a key it allows: pass
    ``client_key`` (the ``NAME.key_secret`` file ``run_node.py keys`` wrote for you) and
    ``node_key`` (the node's ``node.key``), or set AGENTCELL_CLIENT_KEY and
    AGENTCELL_NODE_KEY. Without an allowed key nothing is answered (asks time out).
    """

    def __init__(self, endpoint: str, *, timeout: float | None = None,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 send_hwm: int = DEFAULT_SEND_HWM,
                 client_key: str | os.PathLike[str] | None = None,
                 node_key: str | os.PathLike[str] | None = None) -> None:
        self.endpoint = endpoint
        self.default_timeout = check_timeout(timeout)
        self.max_message_bytes = max_message_bytes
        self._send_hwm = send_hwm
        self.keys = ClientKeys.resolve(client_key, node_key)
        """The client's CURVE keys (from the arguments, else AGENTCELL_CLIENT_KEY and
        AGENTCELL_NODE_KEY), used on TCP; None: a plain connection."""
        self._sockets = ThreadSockets(endpoint, send_hwm, self.keys, max_message_bytes)
        self._cache = IncarnationCache()
        self._events_endpoint: str | None = None
        self._ids = itertools.count(1)
        self._waiter = Waiter(self._cache, max_message_bytes)
        self._asks = self._tells = self._dropped = 0

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
            return self._exchange(self._sockets.front(), None, target, tag, payload, wall_deadline,
                                  deadline, seconds, 0)
        resolved = self.resolve(target, timeout=seconds)
        socket = self._sockets.actor(resolved.endpoint)
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
        socket = self._sockets.actor(resolved.endpoint)
        events = self._events()
        poller = self._sockets.poller(socket, events)
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
            outcome = self._waiter.wait(socket, events, poller, None, target,
                                        resolved.incarnation, deadline)
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
                    self._waiter.late += 1
                else:
                    results[slot], done = _value_or_error(outcome), done + 1
                outcome = self._waiter.recv(socket, zmq.NOBLOCK) if slot_of else None
        self._asks += len(outgoing_)
        first_error = next((v for v in results if isinstance(v, RemoteError)), None)
        if first_error is not None and not return_exceptions:
            raise first_error
        return results

    def tell(self, target: str, message: Any, body: Any = None) -> None:
        """Send without waiting; ActorOverloaded (and counted as dropped) if the queue is full."""
        tag, payload = outgoing(message, body)
        socket = self._sockets.front() if target == NODE_TARGET else \
            self._sockets.actor(self.resolve(target).endpoint)
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
            cached = self._cache.get(name)
            if cached is not None:
                return cached
        value = self.ask(NODE_TARGET, Resolve(name), timeout=timeout)
        assert isinstance(value, Resolved)
        self._cache.put(value)
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

    def subscribe(self, *topics: str) -> EventReader:
        """A confirmed reader of the node's events on ``topics`` (prefixes; none: all),
        for the calling thread only, with a context of its own; close it when done."""
        return EventReader(self._events_address(), *topics, keys=self.keys,
                           max_bytes=self.max_message_bytes)

    def statistics(self) -> ConnectionStatistics:
        """Counters of this connection."""
        return ConnectionStatistics(self._asks, self._tells, self._dropped, self._waiter.late)

    def close(self, linger: float = CLOSE_LINGER) -> None:
        """Close every thread's sockets, giving queued tells ``linger`` seconds to leave."""
        self._sockets.close(int(linger * 1000))

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
        poller = self._sockets.poller(socket, events)
        for attempt in range(1, retries + 2):
            if events is not None:
                incarnation = self._waiter.incarnation_before_send(events, target, incarnation)
            id_ = next(self._ids)
            data = encode_checked(Envelope(KIND_ASK, id_, target, tag, payload, wall_deadline),
                                  self.max_message_bytes)
            try:
                socket.send(data, zmq.NOBLOCK)
            except zmq.Again:
                where = self.endpoint if resolved is None else resolved.endpoint
                raise ActorOverloaded(not_sent(target, tag, self._send_hwm, where)) from None
            outcome = self._waiter.wait(socket, events, poller, id_, target, incarnation, deadline)
            if isinstance(outcome, Envelope):
                return Reply(reply_value(outcome), attempt, outcome.incarnation, outcome.type)
            if outcome is None:
                raise AskTimeout(f"no reply from {target!r} to {tag!r} within {seconds:g} s; "
                                 "pass a longer timeout= if the work is slow, or check "
                                 "`run_node.py status` for the actor's state")
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

    def _events(self) -> EventReader:
        return self._sockets.events(self._events_address())

    def _events_address(self) -> str:
        if self._events_endpoint is None:
            self._events_endpoint = self.about().events
        return self._events_endpoint


def _value_or_error(env: Envelope) -> Any:
    try:
        return reply_value(env)
    except RemoteError as exc:
        return exc


def connect(endpoint: str = "tcp://127.0.0.1:5570", **options: Any) -> Connection:
    """Open a :class:`Connection` to the node at ``endpoint`` (sockets connect lazily)."""
    return Connection(endpoint, **options)
