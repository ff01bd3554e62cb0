"""The dashboard's engine on its event loop: reads the node, follows events, pushes to pages.

:class:`Board` lives on one asyncio loop (the actor's :class:`~actors.connectors.LoopThread`).
It reads the node every ``interval`` seconds, and at once after an event, on one thread
of its own (:class:`~actors.observe.NodeReader` is blocking); each read and each event
goes to every open page through :class:`Hub` (server-sent events). Commands (restart,
acknowledge) run on two other threads, so a restart that takes a second does not hold
up the reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from typing import Any

from actors import Connection
from actors.health import Ack
from actors.observe import EventFeed, NodeReader

from ._model import DashboardModel
from ._settings import DashboardSettings

log = logging.getLogger("actors.dashboard")
CLIENT_QUEUE = 64
"""Messages queued for one page; a page that falls further behind misses some (the next
full read brings it up to date)."""


class Hub:
    """The open pages: each has a queue of ``(kind, data)`` to send."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[tuple[str, Any] | None]] = set()

    def join(self) -> asyncio.Queue[tuple[str, Any] | None]:
        """A queue for one more page."""
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)
        self.queues.add(queue)
        return queue

    def leave(self, queue: asyncio.Queue[tuple[str, Any] | None]) -> None:
        """That page has gone."""
        self.queues.discard(queue)

    def publish(self, kind: str, data: Any) -> None:
        """Queue ``(kind, data)`` for every page (dropped for a page whose queue is full)."""
        for queue in self.queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((kind, data))

    def close(self) -> None:
        """Tell every page's stream to end."""
        for queue in self.queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)


class Board:
    """Reads, events and commands of one dashboard (call from its loop unless noted)."""

    def __init__(self, connection: Connection, settings: DashboardSettings, me: str) -> None:
        self.connection, self.settings = connection, settings
        self.reader = NodeReader(connection, settings.sources(), me=me)
        self.model = DashboardModel(history=settings.history, charts=settings.charts,
                                    transitions=settings.transitions, control=settings.control)
        self.hub = Hub()
        self._reading = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dashboard-read")
        self._commands = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="dashboard-cmd")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._feed: EventFeed | None = None
        self.events = 0

    async def start(self) -> None:
        """Start reading and following events."""
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        self._task.add_done_callback(_log_end)

    async def stop(self) -> None:
        """Stop reading, end every page's stream, release the threads."""
        if self._feed is not None:
            self._feed.stop(timeout=0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.hub.close()
        self._reading.shutdown(wait=False, cancel_futures=True)
        self._commands.shutdown(wait=False, cancel_futures=True)

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._feed is None:
            try:
                about = await loop.run_in_executor(self._reading, self.connection.about)
            except Exception as exc:  # the node is busy: try again at the next interval
                log.warning("dashboard: cannot learn the event endpoint yet (%s)", exc)
                await asyncio.sleep(self.settings.interval)
                continue
            def deliver(topic: str, body: Any) -> None:  # on the feed's thread
                loop.call_soon_threadsafe(self._on_event, topic, body)
            self._feed = EventFeed(about.events, deliver)
            self._feed.start()
        while True:
            self._wake.clear()
            try:
                state = await loop.run_in_executor(self._reading, self.reader.read)
            except Exception as exc:  # the node did not answer: say so, keep trying
                self.hub.publish("trouble", {"error": f"{type(exc).__name__}: {exc}"})
            else:
                added = self.model.update(state)
                self.hub.publish("state", {**self.model.view(full_history=False), "points": added})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.interval)

    def _on_event(self, topic: str, body: Any) -> None:
        """An event (on the loop): to every page at once, then a fresh read."""
        self.events += 1
        self.model.note_event(topic, body)
        self.hub.publish("event", {"topic": topic, "body": body})
        self._wake.set()

    async def command(self, target: str, message: Any, body: Any = None) -> Any:
        """Ask ``target`` on a command thread; the answer (errors raise as the client's)."""
        loop = asyncio.get_running_loop()
        timeout = max(5.0, self.settings.timeout)
        answer = await loop.run_in_executor(
            self._commands, lambda: self.connection.ask(target, message, body, timeout=timeout))
        self._wake.set()
        return answer

    async def restart(self, name: str) -> Any:
        """Restart actor ``name`` (a new incarnation)."""
        return await self.command("node", "node.restart", {"name": name})

    async def ack(self, alert_id: int) -> Any:
        """Acknowledge alert ``alert_id`` at the health monitor."""
        return await self.command(self.settings.health, Ack(alert_id))


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("dashboard: the read loop ended: %r", task.exception())
