"""Keeps one broker connection up: connect and subscribe, wait for its loss, back off, again.

The adapters hold no reconnect logic; this loop is the only one. The delay between
failed attempts grows as the breaker's retry backoff does (full jitter, doubling from
``reconnect_min`` to ``reconnect_max``), so a broker that restarts is rejoined within
about ``reconnect_max`` seconds of coming back, and one that stays down costs one attempt
per ``reconnect_max``. Every change of state is counted, logged and announced.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from actors.breaker import backoff

from ._client import BrokerClient, Sink
from ._counters import Counters
from ._guard import BrokerGuard
from ._settings import BridgeSettings
from ._throttle import Throttle

log = logging.getLogger("actors.connectors")



class Session:
    """The connection loop of one bridge (see module doc); runs on the bridge's loop."""

    def __init__(self, name: str, client: BrokerClient, settings: BridgeSettings, counters: Counters,
                 guard: BrokerGuard, sink: Sink, announce: Callable[[str, str], None], *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.counters = counters
        self.guard = guard
        self.sink = sink
        self.announce = announce
        self.connected = asyncio.Event()
        self._sleep = sleep
        self._rng = rng
        self._throttle = Throttle()

    async def run(self) -> None:
        """Connect, serve until the connection is lost, and start again; until cancelled."""
        policy = self.settings.reconnect_policy()
        attempt, delay = 0, 0.0
        while True:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self.client.connect(self.sink), self.settings.connect_timeout)
            except Exception as exc:
                self.guard.record(False, time.perf_counter() - started, exc)
                attempt += 1
                await self._down(_why(exc), warn=self._throttle.due())
                delay = backoff(policy, attempt, delay, self._rng)
                await self._sleep(delay)
                continue
            self.guard.record(True, time.perf_counter() - started)
            attempt, delay = 0, 0.0
            self.counters.connects += 1
            self._change("connected", "")
            log.info("bridge %r connected to %s://%s", self.name, self.client.protocol,
                     self.client.address)
            self.connected.set()
            why = await self.client.closed()
            self.counters.disconnects += 1
            await self._down(why, warn=True)

    async def wait_connected(self, timeout: float) -> bool:
        """Whether the broker is connected now or becomes so within ``timeout`` seconds."""
        if self.connected.is_set():
            return True
        if timeout <= 0:
            return False
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _down(self, why: str, *, warn: bool) -> None:
        self.connected.clear()
        self.counters.last_error = why
        try:
            await self.client.close()
        except Exception:  # the connection is gone already; closing is tidying up
            log.debug("bridge %r: closing a lost connection failed", self.name, exc_info=True)
        self._change("disconnected", why)
        if warn:
            log.warning("bridge %r: broker %s://%s not connected (%s); reconnecting with backoff "
                        "up to %g s", self.name, self.client.protocol, self.client.address, why,
                        self.settings.reconnect_max)

    def _change(self, state: str, why: str) -> None:
        if self.counters.state != state:
            self.counters.state = state
            self.announce(state, why)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return "TimeoutError: no connection within connect_timeout"
    return f"{type(exc).__name__}: {exc}"
