"""The asyncio client: many tasks ask at once over one socket per actor.

One reader per socket, run by the event loop when the socket has replies, hands each to
the future waiting on its correlation id (:mod:`._async_replies`); one reader task on the
lifecycle events fails (or re-sends) the asks held by an incarnation that died. All
sockets belong to the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from typing import Any

import attrs
import zmq
import zmq.asyncio

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
    Resolve,
    Resolved,
    Status,
    StatusReply,
    StopNode,
)

from ._async_replies import ReplyReader
from ._client import CLOSE_LINGER, DEFAULT_SEND_HWM, Reply
from ._events import AsyncEventReader
from ._security import ClientKeys
from ._transport import close_context, connect_socket, new_async_context
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

_NOBLOCK = int(zmq.NOBLOCK)  # a plain int: no enum work per send


class _Lane:
    """The loop's DEALER to one endpoint and the reader of its replies."""

    __slots__ = ("reader", "socket")

    def __init__(self, socket: zmq.Socket[bytes], reader: ReplyReader) -> None:
        self.socket = socket
        self.reader = reader


@attrs.define
class _Pending:
    future: asyncio.Future[Envelope]
    target: str
    incarnation: int | None


class AsyncConnection:
    """An asyncio connection to one node; use ``async with connect_async(...)``.

    Keys for a secured node as :class:`Connection` takes them (``client_key``,
    ``node_key``, or AGENTCELL_CLIENT_KEY and AGENTCELL_NODE_KEY).
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
        """As :attr:`Connection.keys`."""
        self._ctx = new_async_context()
        self._plain_ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.shadow(self._ctx.underlying)
        """The same context, making plain sockets: replies are read by :class:`ReplyReader`."""
        self._lanes: dict[str, _Lane] = {}
        self._events: AsyncEventReader | None = None
        self._pending: dict[int, _Pending] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._cache = IncarnationCache()
        self._ids = itertools.count(1)
        self._events_started = False

    async def ask(self, target: str, message: Any, body: Any = None, *,
                  timeout: float | None = None, retries: int = 0) -> Any:
        """As :meth:`Connection.ask`, awaitable; many tasks may ask at once."""
        return (await self.ask_reply(target, message, body, timeout=timeout, retries=retries)).value

    async def ask_reply(self, target: str, message: Any, body: Any = None, *,
                        timeout: float | None = None, retries: int = 0) -> Reply:
        """As :meth:`Connection.ask_reply`, awaitable."""
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries!r}")
        tag, payload = outgoing(message, body)
        seconds = check_timeout(timeout, self.default_timeout)
        wall_deadline, deadline = deadline_after(seconds)
        resolved = None
        if target == NODE_TARGET:
            lane = self._lane(self.endpoint)
        else:
            resolved = self._cache.get(target) or await self.resolve(target, timeout=seconds)
            lane = self._lane(resolved.endpoint)
            if not self._events_started:
                await self._start_events()
        loop = asyncio.get_running_loop()
        incarnation = resolved.incarnation if resolved else None
        for attempt in range(1, retries + 2):
            id_ = next(self._ids)
            pending = _Pending(loop.create_future(), target, incarnation)
            self._pending[id_] = pending
            try:
                data = encode_request(KIND_ASK, id_, target, tag, payload, wall_deadline,
                                      self.max_message_bytes)
                try:
                    lane.socket.send(data, _NOBLOCK)
                except zmq.Again:
                    where = self.endpoint if resolved is None else resolved.endpoint
                    raise ActorOverloaded(not_sent(target, tag, self._send_hwm, where)) from None
                lane.reader.sent()
                # one timer per ask (cheaper than wait_for, which wraps the future in a task)
                timer = loop.call_later(max(0.0, deadline - time.monotonic()), _expire, pending.future,
                                        target, tag, seconds)
                try:
                    env = await pending.future
                except ActorCrashed as exc:
                    incarnation = int(exc.details.get("incarnation", 0)) + 1
                    if attempt > retries:
                        raise
                    continue
                finally:
                    timer.cancel()
            finally:
                self._pending.pop(id_, None)
            return Reply(reply_value(env), attempt, env.incarnation, env.type)
        raise AssertionError("unreachable")

    async def tell(self, target: str, message: Any, body: Any = None) -> None:
        """Send without waiting; ActorOverloaded if the queue to the actor is full."""
        tag, payload = outgoing(message, body)
        endpoint = self.endpoint if target == NODE_TARGET else (await self.resolve(target)).endpoint
        data = encode_request(KIND_TELL, next(self._ids), target, tag, payload, None,
                              self.max_message_bytes)
        lane = self._lane(endpoint)
        try:
            lane.socket.send(data, _NOBLOCK)
            lane.reader.sent()
        except zmq.Again:
            raise ActorOverloaded(f"tell {tag!r} to actor {target!r} dropped: queue full") from None

    async def resolve(self, name: str, *, timeout: float | None = None) -> Resolved:
        """Where actor ``name`` listens (cached)."""
        cached = self._cache.get(name)
        if cached is None:
            value = await self.ask(NODE_TARGET, Resolve(name), timeout=timeout)
            assert isinstance(value, Resolved)
            cached = self._cache.put(value)
        return cached

    async def status(self, name: str | None = None) -> StatusReply:
        """Every actor's state (or one actor's)."""
        value = await self.ask(NODE_TARGET, Status(name))
        assert isinstance(value, StatusReply)
        return value

    async def about(self) -> NodeAbout:
        """The node's endpoints."""
        value = await self.ask(NODE_TARGET, NodeInfo())
        assert isinstance(value, NodeAbout)
        return value

    async def stop_node(self) -> None:
        """Ask the node to stop."""
        await self.ask(NODE_TARGET, StopNode())

    async def close(self) -> None:
        """Cancel the reader tasks and close every socket."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for lane in self._lanes.values():
            lane.reader.close()
            lane.socket.close(linger=int(CLOSE_LINGER * 1000))
        if self._events is not None:
            self._events.close()
        close_context(self._ctx, linger_ms=int(CLOSE_LINGER * 1000))

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _lane(self, endpoint: str) -> _Lane:
        lane = self._lanes.get(endpoint)
        if lane is None:
            socket = connect_socket(self._plain_ctx, zmq.DEALER, endpoint, keys=self.keys,
                                    sndhwm=self._send_hwm)
            reader = ReplyReader(socket, asyncio.get_running_loop(), self._deliver,
                                 self.max_message_bytes)
            lane = self._lanes[endpoint] = _Lane(socket, reader)
        return lane

    def _deliver(self, env: Envelope) -> None:
        pending = self._pending.get(env.id) if isinstance(env.id, int) else None
        if pending is not None and not pending.future.done():
            pending.future.set_result(env)

    async def _start_events(self) -> None:
        if self._events_started:
            return
        self._events_started = True
        about = await self.about()
        self._events = await AsyncEventReader.open(about.events, "lifecycle.", keys=self.keys,
                                                   ctx=self._ctx, max_bytes=self.max_message_bytes)
        self._tasks.append(asyncio.create_task(self._read_events(self._events)))

    async def _read_events(self, reader: AsyncEventReader) -> None:
        while True:
            event = (await reader.next()).lifecycle
            if event is None:
                continue
            name, inc = event.name, event.incarnation
            self._cache.learn(event)
            if not event.ended:
                continue
            cause = event.cause or event.event
            for pending in list(self._pending.values()):
                if pending.target == name and not pending.future.done() and \
                        (pending.incarnation is None or inc >= pending.incarnation):
                    pending.future.set_exception(ActorCrashed(
                        f"actor {name!r} incarnation {inc} died ({cause}) "
                        "with an ask in flight",
                        details={"actor": name, "incarnation": inc, "cause": cause}))


def _expire(future: asyncio.Future[Envelope], target: str, tag: str, seconds: float) -> None:
    if not future.done():
        future.set_exception(AskTimeout(no_reply(target, tag, seconds)))


def connect_async(endpoint: str = "tcp://127.0.0.1:5570", **options: Any) -> AsyncConnection:
    """Open an :class:`AsyncConnection` (use as ``async with connect_async(...) as node``)."""
    return AsyncConnection(endpoint, **options)
