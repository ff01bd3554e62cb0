"""The synchronous client agents use to talk to a node and its actors.

Each calling thread gets its own sockets (ZeroMQ sockets have one owner thread), so an
ask crosses no thread: send on the caller's DEALER, wait on it for the reply, the actor's
death (which the connection's lifecycle watcher reports), or the deadline.
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
from ._pipeline import Pipeline
from ._security import ClientKeys
from ._sockets import ThreadSockets
from ._waiting import Waiter
from ._wire import (
    IncarnationCache,
    check_timeout,
    deadline_after,
    encode_request,
    no_reply,
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
_NOBLOCK = int(zmq.NOBLOCK)  # a plain int: no enum work per send


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
        self._pipeline = Pipeline(self._waiter, self._ids, max_message_bytes)
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
        return reply_value(self._ask(target, message, body, timeout, retries)[0])

    def ask_reply(self, target: str, message: Any, body: Any = None, *,
                  timeout: float | None = None, retries: int = 0) -> Reply:
        """As :meth:`ask`, returning a :class:`Reply` that says how many attempts it took."""
        env, attempt = self._ask(target, message, body, timeout, retries)
        return Reply(reply_value(env), attempt, env.incarnation, env.type)

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
        requests = [outgoing(m, None) for m in messages]
        seconds = check_timeout(timeout, self.default_timeout)
        deadlines = deadline_after(seconds)
        resolved = self.resolve(target, timeout=seconds)
        lane = self._sockets.lane(resolved.endpoint, self._events_address(), self._cache)
        results = self._pipeline.run(lane, target, resolved, requests, window, seconds, deadlines)
        self._asks += len(requests)
        first_error = next((v for v in results if isinstance(v, RemoteError)), None)
        if first_error is not None and not return_exceptions:
            raise first_error
        return results

    def tell(self, target: str, message: Any, body: Any = None) -> None:
        """Send without waiting; ActorOverloaded (and counted as dropped) if the queue is full."""
        tag, payload = outgoing(message, body)
        socket = self._sockets.front().socket if target == NODE_TARGET else \
            self._sockets.actor(self.resolve(target).endpoint)
        data = encode_request(KIND_TELL, next(self._ids), target, tag, payload, None,
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
    def _ask(self, target: str, message: Any, body: Any, timeout: float | None,
             retries: int) -> tuple[Envelope, int]:
        """(reply envelope, attempts) of one ask; the errors :meth:`ask` names."""
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        tag, payload = outgoing(message, body)
        seconds = check_timeout(timeout, self.default_timeout)
        self._asks += 1
        resolved: Resolved | None
        if target == NODE_TARGET:
            lane, resolved, retries = self._sockets.front(), None, 0
        else:
            resolved = self._cache.resolved.get(target) or self.resolve(target, timeout=seconds)
            lane = self._sockets.lane(resolved.endpoint,
                                      self._events_endpoint or self._events_address(), self._cache)
        wall_deadline, deadline = deadline_after(seconds)
        deaths, waiter = lane.deaths, self._waiter
        incarnation = resolved.incarnation if resolved is not None else None
        for attempt in range(1, retries + 2):
            if deaths is not None and target in deaths.deaths:  # it died once: which life now?
                incarnation = waiter.incarnation_before_send(deaths, target, incarnation)
            id_ = next(self._ids)
            data = encode_request(KIND_ASK, id_, target, tag, payload, wall_deadline,
                                  self.max_message_bytes)
            try:
                lane.socket.send(data, _NOBLOCK)
            except zmq.Again:
                where = self.endpoint if resolved is None else resolved.endpoint
                raise ActorOverloaded(not_sent(target, tag, self._send_hwm, where)) from None
            outcome = waiter.wait(lane, id_, target, incarnation, deadline)
            if isinstance(outcome, Envelope):
                return outcome, attempt
            if outcome is None:
                raise AskTimeout(no_reply(target, tag, seconds))
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

    def _events_address(self) -> str:
        if self._events_endpoint is None:
            self._events_endpoint = self.about().events
        return self._events_endpoint


def connect(endpoint: str = "tcp://127.0.0.1:5570", **options: Any) -> Connection:
    """Open a :class:`Connection` to the node at ``endpoint`` (sockets connect lazily)."""
    return Connection(endpoint, **options)
