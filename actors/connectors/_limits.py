"""Rate limits of one remote resource, shared by every request an actor sends it.

Every agent of a node reaches an HTTP API (or a model API, or a cloud service) through
one connector actor, so a limit kept in that actor is a limit on the whole node. A
:class:`Limiter` holds three things for one resource:

- a token bucket: ``rate`` requests per second on average, up to ``burst`` at once;
- a concurrency bound: at most ``concurrency`` requests in flight;
- a pause: when the service answers 429 or 503 with ``Retry-After`` (RFC 9110 §10.2.3),
  no request to that resource leaves until the pause is over — not only the asker's.

Waiting never outlives the asker: a request whose turn would come after its deadline is
refused at once with :class:`~._errors.RateLimited`, saying which limit and for how long.
:class:`TokenBucket` is pure (time is an argument); the limiter is thin mechanism on an
asyncio loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from messages import integer_at_least, non_negative_number

from ._errors import RateLimited


@attrs.frozen(kw_only=True)
class RateLimit:
    """One resource's budget: ``rate`` requests/s (0: no rate limit) with bursts of up to
    ``burst`` (0: one second's worth, at least 1), and at most ``concurrency`` requests in
    flight (0: no bound)."""

    rate: float = attrs.field(default=0.0, validator=non_negative_number)
    burst: int = attrs.field(default=0, validator=integer_at_least(0))
    concurrency: int = attrs.field(default=0, validator=integer_at_least(0))

    @property
    def capacity(self) -> float:
        """The bucket's size: ``burst``, or one second's worth of ``rate`` (at least 1)."""
        return float(self.burst or max(1, math.ceil(self.rate)))


class TokenBucket:
    """The classic token bucket: ``capacity`` tokens, refilled at ``rate`` per second.

    Pure: every method takes the time. A request takes one token; when none is left,
    :meth:`wait` says how long until the next one.
    """

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until a token is there (0.0: one is there now)."""
        if self.rate <= 0:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Take one token (call when :meth:`wait` is 0)."""
        if self.rate > 0:
            self._refill(now)
            self.tokens -= 1.0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait, or None if absent or unreadable.

    RFC 9110 §10.2.3: ``Retry-After = HTTP-date / delay-seconds``, where delay-seconds is
    a non-negative decimal integer. ``now`` is Unix time, to turn a date into a delay; a
    date in the past is 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        return None
    return max(0.0, when.timestamp() - now)


class Limiter:
    """One resource's :class:`RateLimit` and pause, on the connector's event loop.

    ``acquire`` before each attempt, ``release`` after it (whatever came of it). Waiters
    take tokens in arrival order (an ``asyncio.Lock`` is FIFO), so a burst of asks is
    spread out, not raced. Times are on ``clock`` (monotonic seconds).
    """

    def __init__(self, resource: str, limit: RateLimit, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.resource = resource
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._bucket = TokenBucket(limit.rate, limit.capacity, clock())
        self._turn = asyncio.Lock()
        self._slots = asyncio.Semaphore(limit.concurrency) if limit.concurrency else None
        self.paused_until = 0.0
        self.pause_reason = ""
        self.in_flight = 0
        self.waiting = 0
        self.pauses = 0
        self.refused = 0
        self.throttled = 0
        """Requests that had to wait for a token, a slot or a pause."""

    def paused_for(self) -> float:
        """Seconds left of the current pause (0.0: not paused)."""
        return max(0.0, self.paused_until - self._clock())

    def pause(self, seconds: float, why: str) -> None:
        """Hold every request to this resource for ``seconds`` (a pause only ever grows)."""
        until = self._clock() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self.pause_reason = why
            self.pauses += 1

    async def acquire(self, deadline: float | None) -> None:
        """Wait for a slot, the pause's end and a token; RateLimited if that would take past
        ``deadline`` (on the limiter's clock; None: the wait is unbounded)."""
        self.waiting += 1
        try:
            await self._take_slot(deadline)
            try:
                async with self._turn:
                    await self._take_token(deadline)
            except BaseException:
                if self._slots is not None:
                    self._slots.release()
                raise
        finally:
            self.waiting -= 1
        self.in_flight += 1

    def release(self) -> None:
        """The attempt that :meth:`acquire` let through is over."""
        self.in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    async def _take_slot(self, deadline: float | None) -> None:
        if self._slots is None:
            return
        if self._slots.locked():
            self.throttled += 1
        timeout = None if deadline is None else deadline - self._clock()
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except TimeoutError:
            self.refused += 1
            raise RateLimited(f"resource {self.resource!r}: {self.limit.concurrency} requests "
                              "already in flight (its concurrency limit) and none ended before "
                              "your deadline; not sent") from None

    async def _take_token(self, deadline: float | None) -> None:
        waited = False
        while True:
            now = self._clock()
            paused = self.paused_until - now
            wait = max(paused, self._bucket.wait(now))
            if wait <= 0:
                self._bucket.take(now)
                return
            if deadline is not None and now + wait > deadline:
                self.refused += 1
                raise RateLimited(self._why_refused(paused, wait, deadline - now),
                                  retry_after=round(wait, 3))
            if not waited:
                self.throttled += 1
                waited = True
            await self._sleep(wait)

    def _why_refused(self, paused: float, wait: float, left: float) -> str:
        if paused > 0:
            return (f"resource {self.resource!r} is paused for {paused:.3g} s more "
                    f"({self.pause_reason}); your deadline is in {max(left, 0):.3g} s; not sent")
        return (f"resource {self.resource!r}: its rate limit ({self.limit.rate:g} requests/s) "
                f"has no room for {wait:.3g} s; your deadline is in {max(left, 0):.3g} s; not sent")

    def statistics(self) -> dict[str, Any]:
        """Plain counters for the connector's statistics."""
        return {"in_flight": self.in_flight, "waiting": self.waiting,
                "paused_for": round(self.paused_for(), 3), "pauses": self.pauses,
                "throttled": self.throttled, "refused": self.refused}
