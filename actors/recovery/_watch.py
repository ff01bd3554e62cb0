"""The recovery actor's one subscription: a thread owning a reader of the node's events.

The thread opens an :class:`actors.EventReader` (confirmed subscription), hands each event
to ``on_event(topic, body)`` and calls ``on_tick()`` at least every ``tick`` seconds, so
timers (cooldowns, retries, re-reads) run without a thread of their own. A callback that
raises is logged; the thread goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from actors import EventReader

log = logging.getLogger("actors.recovery")
TOPICS: Final = ("profiler.bottleneck", "health.alert", "breaker.state", "lifecycle.exited")
TICK: Final = 0.1
"""Longest wait between two ``on_tick`` calls (seconds): the resolution of every timer."""
RETRY_SUBSCRIBE: Final = 1.0
"""Seconds between attempts to subscribe to the node's events."""


class EventWatch(threading.Thread):
    """Feeds a node's events on ``TOPICS`` to callbacks until ``stop`` is set."""

    def __init__(self, subscribe: Callable[[tuple[str, ...]], EventReader],
                 on_event: Callable[[str, Any], None], on_tick: Callable[[], None],
                 stop: threading.Event) -> None:
        super().__init__(name="recovery-events", daemon=True)
        self.subscribe, self.on_event, self.on_tick, self.stop = subscribe, on_event, on_tick, stop
        self.subscribed = threading.Event()
        self.received = 0

    def run(self) -> None:
        reader = self._reader()
        if reader is None:
            return
        with reader:
            if not reader.confirmed:
                log.warning("recovery: the node did not confirm the event subscription in time; "
                            "events may be missed until the next re-read")
            self.subscribed.set()
            while not self.stop.is_set():
                event = reader.next(TICK)
                if event is not None:
                    self.received += 1
                    self._call(self.on_event, event.topic, event.body)
                self._call(self.on_tick)

    def _reader(self) -> EventReader | None:
        while not self.stop.is_set():
            try:
                return self.subscribe(TOPICS)
            except Exception as exc:  # the node is busy or restarting us: try again
                log.warning("recovery: cannot subscribe to the node's events (%s); retrying", exc)
                self.stop.wait(RETRY_SUBSCRIBE)
        return None

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("recovery: handling %s failed; going on", args[0] if args else "a tick")
