"""Deaths of actors, for a sync connection: one thread reads the node's lifecycle events.

An ask must fail as soon as the incarnation it went to dies. Rather than every asking
thread polling a lifecycle socket of its own beside each reply (two sockets per wait and a
look at the lifecycle socket before each send: system calls on every ask), one watcher
thread per connection reads the events, moves the incarnation cache forward and keeps the
last death of each actor; an asking thread waits on its reply socket alone, in short
slices, and reads that record between them (a dict lookup).
"""

from __future__ import annotations

import logging
import os
import threading

import zmq

from ._events import EventReader
from ._security import ClientKeys
from ._wire import IncarnationCache

JOIN_TIMEOUT = 2.0
"""Seconds :meth:`DeathWatch.close` waits for the watcher before it logs that it waits on."""

log = logging.getLogger(__name__)


class DeathWatch:
    """The last death of each actor of one node, kept current by a watcher thread.

    The subscription is confirmed in the caller's thread before the watcher starts, so a
    death after the first ask that needs it is never missed.
    """

    def __init__(self, endpoint: str, cache: IncarnationCache, *, keys: ClientKeys | None,
                 ctx: zmq.Context[zmq.Socket[bytes]], max_bytes: int) -> None:
        self.cache = cache
        self.deaths: dict[str, tuple[int, str]] = {}
        """Per actor: (incarnation, cause) of the latest death seen."""
        self._reader = EventReader(endpoint, "lifecycle.", keys=keys, ctx=ctx, max_bytes=max_bytes)
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="agentcell-lifecycle", daemon=True)
        self._thread.start()

    def death(self, name: str, incarnation: int | None) -> tuple[int, str] | None:
        """(incarnation, cause) of the latest death of ``name`` if it is ``incarnation``'s
        or a later one's (any, if ``incarnation`` is None); else None."""
        seen = self.deaths.get(name)
        if seen is not None and (incarnation is None or seen[0] >= incarnation):
            return seen
        return None

    def close(self) -> None:
        """Stop the watcher; it has closed its socket when this returns, so the context
        can be closed next. Never returns earlier: closing the context under a socket its
        thread still polls can leave ``zmq_ctx_term`` waiting for good (seen under load)."""
        if self._thread.is_alive():
            os.eventfd_write(self._wake, 1)
            self._thread.join(JOIN_TIMEOUT)
            if self._thread.is_alive():
                log.warning("lifecycle watcher of a connection slow to stop; waiting for it")
                self._thread.join()
        os.close(self._wake)

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._reader.socket, zmq.POLLIN)
        poller.register(self._wake, zmq.POLLIN)
        try:
            while self._wake not in dict(poller.poll()):
                for event in self._reader.drain():
                    lifecycle = event.lifecycle
                    if lifecycle is None:
                        continue
                    self.cache.learn(lifecycle)
                    seen = self.deaths.get(lifecycle.name)
                    if lifecycle.ended and (seen is None or lifecycle.incarnation >= seen[0]):
                        self.deaths[lifecycle.name] = (lifecycle.incarnation,
                                                       lifecycle.cause or lifecycle.event)
        finally:
            self._reader.close()
