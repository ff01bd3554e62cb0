"""The views' one subscription to a node's event stream.

:class:`EventFeed` is a thread owning an :class:`actors.EventReader` (a confirmed
subscription, so nothing published after :meth:`EventFeed.wait_subscribed` returns is
missed; events decoded and checked by the codec) and handing ``(topic, body)`` to a
callback. A callback that raises is logged and the feed goes on. Keys for a secured node
come from AGENTCELL_CLIENT_KEY and AGENTCELL_NODE_KEY, as for ``actors.connect``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from actors import EventReader

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
        try:
            reader = EventReader(self.endpoint, *self.topics)
        except Exception:
            self._subscribed.set()
            log.exception("cannot subscribe to the events at %s", self.endpoint)
            return
        with reader:
            self.confirmed = reader.confirmed
            if not self.confirmed:
                log.warning("the node at %s did not confirm the event subscription; events "
                            "may be missed", self.endpoint)
            self._subscribed.set()
            while not self._halt.is_set():
                event = reader.next(POLL)
                if event is not None:
                    self._deliver(event.topic, event.body)

    def _deliver(self, topic: str, body: Any) -> None:
        self.received += 1
        try:
            self.on_event(topic, body)
        except Exception:
            log.exception("handling a %r event failed; going on", topic)
