"""The recovery actor's one subscription: a thread owning a SUB socket on the node's events.

All of the actor's socket code is here (one place to move when sockets get one home). The
thread subscribes with :func:`actors.subscribe_confirmed`, hands each event to
``on_event(topic, body)`` and calls ``on_tick()`` at least every ``tick`` seconds, so
timers (cooldowns, retries, re-reads) run without a thread of their own. A callback that
raises is logged; the thread goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import zmq

from actors._wire import subscribe_confirmed
from messages import ProtocolError, decode

log = logging.getLogger("actors.recovery")
TOPICS: Final = (b"profiler.bottleneck", b"health.alert", b"breaker.state", b"lifecycle.exited")
TICK: Final = 0.1
"""Longest wait between two ``on_tick`` calls (seconds): the resolution of every timer."""
RETRY_ENDPOINT: Final = 1.0
"""Seconds between attempts to learn the node's event endpoint."""


class EventWatch(threading.Thread):
    """Feeds a node's events on ``TOPICS`` to callbacks until ``stop`` is set."""

    def __init__(self, events_endpoint: Callable[[], str], on_event: Callable[[str, Any], None],
                 on_tick: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name="recovery-events", daemon=True)
        self.events_endpoint, self.on_event, self.on_tick, self.stop = \
            events_endpoint, on_event, on_tick, stop
        self.subscribed = threading.Event()
        self.received = 0

    def run(self) -> None:
        endpoint = self._endpoint()
        if endpoint is None:
            return
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        try:
            sub.connect(endpoint)
            if not subscribe_confirmed(sub, *TOPICS):
                log.warning("recovery: the node did not confirm the event subscription in time; "
                            "events may be missed until the next re-read")
            self.subscribed.set()
            while not self.stop.is_set():
                if sub.poll(int(TICK * 1000)):
                    self._deliver(sub.recv_multipart())
                self._call(self.on_tick)
        finally:
            sub.close(linger=0)
            ctx.term()

    def _endpoint(self) -> str | None:
        while not self.stop.is_set():
            try:
                return self.events_endpoint()
            except Exception as exc:  # the node is busy or restarting us: try again
                log.warning("recovery: cannot learn the node's event endpoint (%s); retrying", exc)
                self.stop.wait(RETRY_ENDPOINT)
        return None

    def _deliver(self, frames: list[bytes]) -> None:
        topic = frames[0].decode(errors="replace")
        if not topic.startswith(tuple(t.decode() for t in TOPICS)):
            return  # a late node.welcome
        try:
            body = decode(frames[-1]).body
        except ProtocolError as exc:
            log.warning("recovery: skipped an undecodable %r event: %s", topic, exc)
            return
        self.received += 1
        self._call(self.on_event, topic, body)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("recovery: handling %s failed; going on", args[0] if args else "a tick")
