"""The pykka actor that hosts one user actor: decode, dispatch, reply, count.

It runs on the thread that owns the actor's ROUTER socket (see :mod:`._inbox`), so the
hot path is: recv → decode → handler → encode → send, on one thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
import typing
from collections.abc import Callable
from types import TracebackType
from typing import Any

import pykka
import zmq

from messages import (
    KIND_ASK,
    KIND_TELL,
    ActorPing,
    ActorPong,
    Envelope,
    ProtocolError,
    StatisticsRequest,
    decode,
    exception_summary,
    from_wire,
    payload_frame,
)

from ._actor import Actor
from ._failures import HandlerFailures
from ._inbox import Readable, SocketInbox, WireFrames
from ._replies import Replies
from ._transport import close_with_context

log = logging.getLogger("actors.host")

_BUILTIN_TYPES: dict[str, type[Any]] = {"actor.ping": ActorPing,
                                         "actor.statistics": StatisticsRequest}
"""What every actor answers besides its handlers, with the (empty) body each takes."""


class _DeferredDone:
    """A handler's future completed on a worker thread; its reply is due."""

    __slots__ = ("envelope", "future", "route", "started")

    def __init__(self, route: list[bytes], envelope: Envelope,
                 future: concurrent.futures.Future[Any], started: float) -> None:
        self.route = route
        self.envelope = envelope
        self.future = future
        self.started = started


class HostCounters:
    """What the host reports in heartbeats; written by the actor thread only."""

    __slots__ = ("bad_input", "busy_since", "errors", "expected_errors", "handled", "inbox")

    def __init__(self) -> None:
        self.handled = 0
        self.errors = 0
        """Faults of the actor: handler exceptions it does not list as expected, bad replies."""
        self.expected_errors = 0
        """Errors the actor lists in ``expected_errors``: answers (an SQL error, an unknown
        name, an open circuit), not faults of the actor, so apart from ``errors``."""
        self.bad_input = 0
        self.busy_since = 0.0
        self.inbox: SocketInbox | None = None
        """The actor's inbox, for the mailbox figure (:meth:`SocketInbox.take_waiting`)."""


class BridgeActor(pykka.ThreadingActor):
    """Runs a user :class:`Actor` behind a ROUTER socket."""

    @staticmethod
    def _create_actor_inbox() -> Any:
        return SocketInbox()

    use_daemon_thread = True

    def __init__(self, actor: Actor, socket: zmq.Socket[bytes], counters: HostCounters, *,
                 max_message_bytes: int, on_error: str,
                 on_started: Callable[[BaseException | None], None],
                 on_fault: Callable[[str], None],
                 observer: Callable[[str, float, bool], None] | None = None) -> None:
        super().__init__()
        self._inbox = typing.cast(SocketInbox, self.actor_inbox)
        self._inbox.attach(socket)
        counters.inbox = self._inbox
        self._actor = actor
        self._socket = socket
        self._name = actor.context.name
        self._incarnation = actor.context.incarnation
        self._max_bytes = max_message_bytes
        self._on_started = on_started
        self._on_fault = on_fault
        self._handlers = type(actor).handled_types()
        self.counters = counters
        self._observer = observer
        self._replies = Replies(socket, self._name, self._incarnation, counters, max_message_bytes)
        self._failures = HandlerFailures(actor, socket, self._replies, counters, on_error)
        self._thread = 0
        actor.context._readiness = self._inbox

    # -- lifecycle -------------------------------------------------------------------
    def on_start(self) -> None:
        self._thread = threading.get_ident()
        try:
            self._actor.on_start()
        except BaseException as exc:  # SystemExit too: a failed start, never raised into pykka
            log.exception("actor %r incarnation %d failed in on_start", self._name, self._incarnation)
            self._on_started(exc)
            return
        self._on_started(None)

    def on_stop(self) -> None:
        try:
            self._actor.on_stop()
        except BaseException:  # logged; the stop goes on (a BaseException would strand it)
            log.exception("actor %r incarnation %d failed in on_stop", self._name, self._incarnation)
        finally:
            self._actor.context.close()
            close_with_context(self._socket, linger_ms=500)
            self._inbox.close()

    def on_failure(self, exception_type: type[BaseException] | None,
                   exception_value: BaseException | None, traceback: TracebackType | None) -> None:
        """Something raised on the receive/dispatch/reply path, outside any handler (pykka
        has logged it and stopped this actor): send the replies already queued, then report
        the cause so that the host exits and its supervisor restarts it, instead of
        heartbeating on without a serving thread. Runs on the actor thread."""
        close_with_context(self._socket, linger_ms=1000)
        self._on_fault(exception_summary(exception_value) if exception_value is not None
                       else "unknown error")

    # -- dispatch --------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, WireFrames):
            self._on_frames(message.frames)
        elif isinstance(message, Readable):
            message.callback()  # raising here is a fault of the actor: the host ends (on_failure)
        elif isinstance(message, _DeferredDone):
            self._finish_deferred(message)
        return None

    def _on_frames(self, frames: list[bytes]) -> None:
        try:
            payload = payload_frame(frames)
        except ProtocolError as exc:
            self._replies.refuse(frames[:1], None, exc.code, str(exc))
            return
        route = frames[:-1]
        try:
            env = decode(payload, max_bytes=self._max_bytes)
        except ProtocolError as exc:
            self._replies.refuse(route, Envelope.refused(exc, self._name), exc.code, str(exc))
            return
        if env.kind not in (KIND_ASK, KIND_TELL):
            self._replies.refuse(route, env, "malformed", f"an actor takes ask or tell, not {env.kind!r}")
            return
        if env.to != self._name:
            self._replies.refuse(route, env, "not_found",
                            f"this endpoint serves actor {self._name!r}, not {env.to!r}")
            return
        if env.deadline is not None and time.time() > env.deadline:
            late = time.time() - env.deadline
            self._replies.refuse(route, env, "deadline_expired",
                            f"actor {self._name!r} skipped {env.type!r}: its deadline had passed "
                            f"{late:.3f} s before the actor reached it")
            return
        self._dispatch(route, env)

    def _dispatch(self, route: list[bytes], env: Envelope) -> None:
        entry = self._handlers.get(env.type)
        if entry is None:
            self._builtin(route, env)
            return
        msg_cls, method = entry
        try:
            msg = from_wire(msg_cls, env.body)
        except ProtocolError as exc:
            self._replies.refuse(route, env, exc.code, f"actor {self._name!r}, message {env.type!r}: {exc}")
            return
        counters = self.counters
        self._actor.context.deadline = env.deadline
        started = counters.busy_since = time.monotonic()
        try:
            result = getattr(self._actor, method)(msg)
        except ProtocolError as exc:  # the handler found the input bad: not a failure of its own
            counters.busy_since = 0.0
            self._replies.refuse(route, env, exc.code, f"actor {self._name!r}, message {env.type!r}: {exc}")
            return
        except Exception as exc:
            counters.busy_since = 0.0
            self._observe(env.type, started, ok=False)
            self._failures.handler_failed(route, env, exc)
            return
        counters.busy_since = 0.0
        if isinstance(result, concurrent.futures.Future):
            result.add_done_callback(
                lambda fut: self._deferred_done(_DeferredDone(route, env, fut, started)))
            return
        if self._observer is not None:
            self._observe(env.type, started, ok=True)
        counters.handled += 1
        if env.kind == KIND_ASK:
            self._replies.value(route, env, result)

    def _observe(self, type_: str, started: float, *, ok: bool) -> None:
        if self._observer is not None:
            self._observer(type_, time.monotonic() - started, ok)

    def _builtin(self, route: list[bytes], env: Envelope) -> None:
        cls = _BUILTIN_TYPES.get(env.type)
        if cls is not None:
            try:
                from_wire(cls, env.body)
            except ProtocolError as exc:
                self._replies.refuse(route, env, exc.code, f"actor {self._name!r}, message "
                                                           f"{env.type!r}: {exc}")
                return
        if env.type == "actor.ping":
            self.counters.handled += 1
            if env.kind == KIND_ASK:
                self._replies.value(route, env, ActorPong(self._name, self._incarnation))
            return
        if env.type == "actor.statistics":
            try:
                statistics = self._actor.statistics()
            except Exception as exc:  # the actor's own code: a handler error like any other
                self._failures.handler_failed(route, env, exc)
                return
            self.counters.handled += 1
            if env.kind == KIND_ASK:
                self._replies.value(route, env, statistics)
            return
        known = ", ".join(sorted([*self._handlers, *_BUILTIN_TYPES]))
        self._replies.refuse(route, env, "unknown_type",
                        f"actor {self._name!r} has no handler for {env.type!r}; it handles: {known}")

    def _deferred_done(self, done: _DeferredDone) -> None:
        """A future completed: reply now if on the actor thread, else via the inbox."""
        if threading.get_ident() == self._thread:
            self._finish_deferred(done)
        else:
            self.actor_ref.tell(done)

    def _finish_deferred(self, done: _DeferredDone) -> None:
        exc = done.future.exception()
        if isinstance(exc, ProtocolError):
            self._replies.refuse(done.route, done.envelope, exc.code,
                            f"actor {self._name!r}, message {done.envelope.type!r}: {exc}")
            return
        self._observe(done.envelope.type, done.started, ok=exc is None)
        if exc is not None:
            self._failures.handler_failed(done.route, done.envelope, exc)
            return
        self.counters.handled += 1
        if done.envelope.kind == KIND_ASK:
            self._replies.value(done.route, done.envelope, done.future.result())
