"""The background side of a BreakerClient: ships outcomes, reads pushed and synced states.

One thread per client. The first state sync runs in the constructor, from the caller's
thread, so a breaker already open is known before the first guarded call. Then, every
``flush_interval`` the thread ships the buffered outcomes in ``breaker.record_batch``
messages of compact rows, reads the ``breaker.state`` events the actor publishes (SUB
socket, owned by this thread only), and every ``sync_interval`` asks for all states not
CLOSED in case an event was missed (PUB/SUB is best effort).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from actors import EventReader

from ._actor import STATE_TOPIC
from ._messages import StateInfo, States, StatesReply

log = logging.getLogger("actors.breaker.client")

BATCH_SIZE = 1000
"""Outcomes per ``breaker.record_batch`` message (keeps each well under the size limit)."""

Row = tuple[Any, ...]
"""One outcome as shipped: resource, ok, seconds, error class, message[, error types]."""


class Courier:
    """Ships ``buffer`` to actor ``actor`` and feeds states to ``apply`` (see module doc)."""

    def __init__(self, connection: Any, actor: str, *, buffer: collections.deque[Row],
                 states: dict[str, tuple[str, float]], apply: Callable[[StateInfo], None],
                 counters: dict[str, int], flush_interval: float, sync_interval: float,
                 timeout: float, subscribe: bool) -> None:
        self.connection = connection
        self.actor = actor
        self._buffer = buffer
        self._states = states
        self._apply = apply
        self._c = counters
        self.flush_interval = flush_interval
        self.sync_interval = sync_interval
        self.timeout = timeout
        self._subscribe = subscribe
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._synced = threading.Event()
        if not self._sync():  # before the first guarded call: an open breaker is known at once
            log.warning("breaker client: no first state sync with actor %r; guarded calls go "
                        "through until a sync succeeds", actor)
        self._thread = threading.Thread(target=self._run, name=f"breaker-client-{actor}", daemon=True)
        self._thread.start()

    def wait_synced(self, timeout: float) -> bool:
        """Wait until the first state sync is done (True if it is)."""
        return self._synced.wait(timeout)

    def stop(self) -> None:
        """Stop the thread (within about one timeout), then ship what is left."""
        self._stop.set()
        self._thread.join(timeout=self.timeout + 1)
        self._flush()

    def flush(self) -> None:
        """Ship the buffered outcomes now, from the calling thread."""
        self._flush()

    def _flush(self) -> None:
        """Ship what is buffered in messages of BATCH_SIZE; stop at the first failure."""
        buffer = self._buffer
        with self._flush_lock:
            count = len(buffer)
            while count > 0:
                size = min(count, BATCH_SIZE)
                count -= size
                rows = [buffer.popleft() for _ in range(size)]
                if not self._ship(rows):
                    return

    def _ship(self, rows: list[Row]) -> bool:
        count = len(rows)
        try:
            reply = self.connection.ask(self.actor, "breaker.record_batch", {"rows": rows},
                                        timeout=self.timeout)
        except Exception as exc:
            self._c["dropped"] += count
            self._c["actor_errors"] += 1
            log.warning("breaker actor %r unreachable (%s); %d outcomes dropped", self.actor, exc,
                        count)
            return False
        self._c["shipped"] += count
        self._c["batches"] += 1
        if isinstance(reply, StatesReply):
            for info in reply.states:
                self._apply(info)
        return True

    def _sync(self) -> bool:
        try:
            reply = self.connection.ask(self.actor, States(list(self._states)), timeout=self.timeout)
        except Exception as exc:
            self._c["actor_errors"] += 1
            log.debug("breaker actor %r: state sync failed: %s", self.actor, exc)
            return False
        assert isinstance(reply, StatesReply)
        seen = {info.resource for info in reply.states}
        for resource in list(self._states):
            if resource not in seen:
                self._states.pop(resource, None)
        for info in reply.states:
            self._apply(info)
        self._c["syncs"] += 1
        self._synced.set()
        return True

    def _run(self) -> None:
        reader: EventReader | None = None
        try:
            if self._subscribe:
                try:
                    reader = self.connection.subscribe(STATE_TOPIC)
                except Exception as exc:
                    log.warning("breaker client: no event stream (%s); relying on syncs", exc)
            self._loop(reader)
        finally:
            if reader is not None:
                reader.close()

    def _loop(self, reader: EventReader | None) -> None:
        next_sync = time.monotonic() + self.sync_interval if self._synced.is_set() else 0.0
        while not self._stop.is_set():
            if reader is not None:
                event = reader.next(self.flush_interval)
                if event is not None:
                    self._push(event.source, event.body)
                    for event in reader.drain():
                        self._push(event.source, event.body)
            else:
                self._stop.wait(self.flush_interval)
            self._flush()
            now = time.monotonic()
            if now >= next_sync:
                self._sync()
                next_sync = now + self.sync_interval

    def _push(self, source: str, body: dict[str, Any]) -> None:
        """Apply one ``breaker.state`` event, if it is this client's actor's and well formed."""
        try:
            if body.get("actor", source) != self.actor:
                return
            info = StateInfo(str(body["resource"]), str(body["state"]), bool(body["forced"]),
                             float(body["retry_after"]))
        except (ValueError, KeyError, TypeError):
            return
        self._c["pushes"] += 1
        self._apply(info)
