"""The views' one subscription to a node's event stream (all their socket code is here).

:class:`EventFeed` is a thread owning a ZeroMQ SUB socket: it subscribes with
:func:`actors.subscribe_confirmed` (so nothing published after :meth:`EventFeed.wait_subscribed`
returns is missed), decodes each event through the codec and hands ``(topic, body)`` to
a callback. A callback that raises is logged and the feed goes on. When the transport
layer offers a typed event reader, this module is the one place to switch over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import zmq

from actors import subscribe_confirmed
from messages import ProtocolError, decode

log = logging.getLogger("actors.observe")
TOPICS: Final = ("lifecycle.", "health.", "breaker.state", "profiler.bottleneck")
"""What the views follow: lifecycle changes, health alerts and status, breaker transitions,
bottlenecks."""
POLL: Final = 0.2
"""Longest wait (seconds) before the feed checks whether it was stopped."""


class EventFeed(threading.Thread):
    """Calls ``on_event(topic, body)`` for each event on ``topics`` until :meth:`stop`."""

    def __init__(self, endpoint: str, on_event: Callable[[str, Any], None], *,
                 topics: Sequence[str] = TOPICS) -> None:
        super().__init__(name="observe-events", daemon=True)
        self.endpoint, self.on_event, self.topics = endpoint, on_event, tuple(topics)
        self._halt = threading.Event()
        self._subscribed = threading.Event()
        self.confirmed = False
        """Whether the node confirmed the subscription (False: events may be missed)."""
        self.received = 0

    def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Wait until the subscription is in place (or given up on); whether it is."""
        return self._subscribed.wait(timeout) and self.confirmed

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close its socket."""
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        try:
            sub.connect(self.endpoint)
            self.confirmed = subscribe_confirmed(sub, *(t.encode() for t in self.topics))
            if not self.confirmed:
                log.warning("the node at %s did not confirm the event subscription; events "
                            "may be missed", self.endpoint)
            self._subscribed.set()
            while not self._halt.is_set():
                if sub.poll(int(POLL * 1000)):
                    self._deliver(sub.recv_multipart())
        finally:
            self._subscribed.set()
            sub.close(linger=0)
            ctx.term()

    def _deliver(self, frames: list[bytes]) -> None:
        topic = frames[0].decode(errors="replace")
        if not topic.startswith(self.topics):
            return  # a late node.welcome
        try:
            body = decode(frames[-1]).body
        except ProtocolError as exc:
            log.warning("skipped an undecodable %r event: %s", topic, exc)
            return
        self.received += 1
        try:
            self.on_event(topic, body)
        except Exception:
            log.exception("handling a %r event failed; going on", topic)
