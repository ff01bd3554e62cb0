"""The base class users write actors with: one handler per message type, hooks, context."""

from __future__ import annotations

import concurrent.futures
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import attrs

from messages import type_tag

F = TypeVar("F", bound=Callable[..., Any])
_HANDLER_MARK = "__handles_message__"


def handler(fn: F) -> F:
    """Mark a method as the handler of the message class its second parameter names.

    ``def on_ping(self, msg: Ping) -> Pong`` handles ``Ping``; the return value is the
    reply (an attrs message, or any msgpack-able value). Returning a
    :class:`concurrent.futures.Future` replies when it completes, so slow work can run on
    :meth:`ActorContext.run_in_thread` while the actor keeps serving.
    """
    setattr(fn, _HANDLER_MARK, True)
    return fn


@attrs.define
class ActorContext:
    """What the runtime gives an actor: who it is, its settings, and ways to reach others."""

    name: str
    incarnation: int
    settings: Any
    node_endpoint: str
    snapshot: Any = None
    """State saved by the previous incarnation through :meth:`save_snapshot`, or None."""
    data_dir: str = "."
    """The node's data directory (absolute): where an actor keeps its files."""
    deadline: float | None = None
    """Deadline (Unix time) of the message being handled now; read it in the handler."""
    _executor: concurrent.futures.ThreadPoolExecutor | None = None
    _connection: Any = None
    _snapshot_sink: Callable[[Any], None] | None = None
    _publish_sink: Callable[[str, Any], None] | None = None
    _stop_sink: Callable[[], None] | None = None
    _readiness: Any = None

    def run_in_thread(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Run ``fn(*args)`` on the actor's worker threads; return its future.

        A handler that returns this future replies when it completes: use it for blocking
        I/O so that one actor serves many askers at once.
        """
        if self._executor is None:
            workers = getattr(self.settings, "worker_threads", None) or 8
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix=f"{self.name}-worker"
            )
        return self._executor.submit(fn, *args)

    def watch_readable(self, fd: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the actor's own thread whenever ``fd`` is readable.

        For actors that drive non-blocking I/O (a database socket) between messages, with
        no thread per operation: readiness arrives like a message, in the same loop.
        Call from the actor thread (a handler, ``on_start``, or a callback); stop with
        :meth:`unwatch`. The callback must consume what made ``fd`` readable.
        """
        if self._readiness is None:
            raise RuntimeError(f"actor {self.name!r} cannot watch descriptors outside a host")
        self._readiness.watch(fd, callback)

    def unwatch(self, fd: int) -> None:
        """Stop the callbacks of :meth:`watch_readable` for ``fd``."""
        if self._readiness is not None:
            self._readiness.unwatch(fd)

    def connection(self) -> Any:
        """A client connection to this node, for asking other actors (opened on first use)."""
        if self._connection is None:
            from ._client import connect

            self._connection = connect(self.node_endpoint)
        return self._connection

    def save_snapshot(self, state: Any) -> None:
        """Hand ``state`` (msgpack-able) to the node; the next incarnation starts with it."""
        if self._snapshot_sink is None:
            raise RuntimeError(f"actor {self.name!r} has no snapshot channel")
        self._snapshot_sink(state)

    def publish(self, topic: str, body: Any) -> None:
        """Put an event on the node's event stream (ZeroMQ PUB) under ``topic``.

        Subscribers filter by topic prefix (``health.``, ``breaker.state``...); ``body`` is
        msgpack-able. Delivery is best effort, as with any PUB socket.
        """
        if self._publish_sink is None:
            raise RuntimeError(f"actor {self.name!r} has no event channel")
        self._publish_sink(topic, body)

    def stop_self(self) -> None:
        """Stop this actor normally once the current handler returns (exit cause ``normal``).

        A ``transient`` or ``temporary`` child stays stopped; a ``permanent`` one restarts.
        """
        if self._stop_sink is None:
            raise RuntimeError(f"actor {self.name!r} cannot stop itself outside a host")
        self._stop_sink()

    def close(self) -> None:
        """Release the worker threads and the client connection (called after on_stop)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._connection is not None:
            self._connection.close()


class Actor:
    """Base class of every actor, built-in or user-written.

    Subclasses declare handlers with :func:`handler`, may override :meth:`on_start` and
    :meth:`on_stop`, and may name a ``settings_class`` (an attrs class) that the node
    builds from the config's ``settings`` before anything starts.
    """

    settings_class: ClassVar[type[Any] | None] = None
    expected_errors: ClassVar[tuple[type[Exception], ...]] = ()
    """Exceptions that are answers, not faults (an SQL error, an open circuit): the asker
    gets the error reply as usual, the log gets one line, and ``on_error`` is not applied."""
    _handlers: ClassVar[dict[str, tuple[type[Any], str]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, tuple[type[Any], str]] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                if callable(fn) and getattr(fn, _HANDLER_MARK, False):
                    msg_cls = _handled_class(cls, fn)
                    found[type_tag(msg_cls)] = (msg_cls, attr)
        cls._handlers = found

    def __init__(self, context: ActorContext) -> None:
        self.context = context

    @property
    def name(self) -> str:
        """The actor's name on its node."""
        return self.context.name

    def on_start(self) -> None:
        """Run before the first message; raising here is a failed start."""

    def on_stop(self) -> None:
        """Run when the actor stops normally (not after a crash)."""

    def statistics(self) -> Any:
        """A frozen attrs object describing the actor's state (for status and health)."""
        return None

    @classmethod
    def handled_types(cls) -> dict[str, tuple[type[Any], str]]:
        """Type tag → (message class, method name) of every handler."""
        return dict(cls._handlers)


def _handled_class(owner: type, fn: Callable[..., Any]) -> type[Any]:
    hints = typing.get_type_hints(fn)
    params = list(fn.__code__.co_varnames[1 : fn.__code__.co_argcount])
    if len(params) != 1 or params[0] not in hints:
        raise TypeError(
            f"{owner.__qualname__}.{fn.__name__}: a handler takes exactly one annotated "
            "message parameter, e.g. def on_ping(self, msg: Ping) -> Pong"
        )
    msg_cls = hints[params[0]]
    type_tag(msg_cls)  # raises TypeError naming the class if it is not a registered message
    return typing.cast(type[Any], msg_cls)
