"""Request/response services (HTTP APIs, model APIs, cloud APIs): settings and the call loop.

A service connector answers an ask by calling a remote API. What every such call needs
is done here once, by :class:`ServiceCaller`: wait for the resource's
:class:`~._limits.Limiter`, check its breaker (through :class:`~._guard.BrokerGuard`),
make the attempt within the time left before the asker's deadline, account the outcome
with the breaker and the profiler, pause the resource when the service asked for it
(``Retry-After``), and retry what the resource's retry policy allows — a request that
may have reached the service only when it is idempotent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from actors.breaker import RetryPolicy, decide
from messages import positive_seconds

from ._errors import ServiceTimeout, ServiceUnavailable
from ._guard import BrokerGuard
from ._limits import Limiter, RateLimit

T = TypeVar("T")

REPLY_MARGIN = 0.05
"""Seconds before the asker's deadline at which an attempt is cut, so the asker hears why."""


def _service_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=5.0)


@attrs.frozen(kw_only=True)
class ServiceSettings:
    """What every request/response service takes (see README "Connecting cloud and AI
    services"): its budget, its timeouts, its retries.

    ``rate`` (requests/s), ``burst`` and ``concurrency`` bound what the whole node sends
    (0: unbounded). ``timeout`` caps one attempt (the asker's deadline caps it further);
    ``retry`` says which failures are tried again; a ``Retry-After`` longer than
    ``max_retry_after`` is cut to it.
    """

    rate: float = 0.0
    burst: int = 0
    concurrency: int = 0
    timeout: float = attrs.field(default=30.0, validator=positive_seconds)
    connect_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    retry: RetryPolicy = attrs.field(factory=_service_retry)
    max_retry_after: float = attrs.field(default=60.0, validator=positive_seconds)

    def __attrs_post_init__(self) -> None:
        self.rate_limit()  # validates rate, burst and concurrency, naming the field

    def rate_limit(self) -> RateLimit:
        """The limiter's view of ``rate``, ``burst`` and ``concurrency``."""
        return RateLimit(rate=self.rate, burst=self.burst, concurrency=self.concurrency)


@attrs.frozen(kw_only=True)
class ApiSettings(ServiceSettings):
    """A service at a URL with a key: ``base_url``, and the key from the environment
    variable ``api_key_env`` or the file ``api_key_file`` (never from the config itself)."""

    base_url: str
    api_key_env: str | None = None
    api_key_file: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http:// or https:// URL, got {self.base_url!r}")
        if self.api_key_env and self.api_key_file:
            raise ValueError("api_key_env and api_key_file: name one place for the key, not both")
        super().__attrs_post_init__()


def _failure(exc: BaseException) -> tuple[str, bool] | None:
    """(error class, may have reached the service) of a failed attempt; None when ``exc`` is
    not the service's failure (a bad request, a refusal of ours): not retried, and the
    breaker counts the service as working."""
    if isinstance(exc, ServiceTimeout):
        return "timeout", exc.sent
    if isinstance(exc, ServiceUnavailable):
        if exc.status is None:
            return "connection", exc.sent
        return ("overloaded" if exc.status in (429, 503) else "transient"), exc.sent
    return None


class ServiceCaller:
    """The call loop of one resource (see module doc); runs on the connector's loop.

    ``op`` names the call for the profiler; ``resource`` is the breaker resource.
    """

    def __init__(self, resource: str, settings: ServiceSettings, guard: BrokerGuard,
                 record: Callable[[str, float, bool], None], *,
                 rng: Callable[[], float] = random.random) -> None:
        self.resource = resource
        self.settings = settings
        self.guard = guard
        self.limiter = Limiter(resource, settings.rate_limit())
        self._record = record
        self._rng = rng
        self.calls = self.failures = self.retries = 0

    async def call(self, op: str, attempt: Callable[[float], Awaitable[T]], *,
                   deadline: float | None, idempotent: bool,
                   judge: Callable[[T], ServiceUnavailable | None] | None = None) -> tuple[T, int]:
        """Run ``attempt(timeout)`` until it succeeds or may not be retried; (result, attempts).

        ``attempt`` raises :class:`ServiceUnavailable` / :class:`ServiceTimeout` for the
        service's failures. ``judge`` may call a result a failure (an HTTP 503 response):
        it is then retried like one, and returned as it is when no retry is left. A final
        error carries the number of attempts.
        """
        self.calls += 1
        policy = self.settings.retry
        started = time.time()
        end = started + self.settings.timeout * policy.max_attempts if deadline is None else deadline
        end -= REPLY_MARGIN
        number, delay = 0, 0.0
        while True:
            number += 1
            result, failure = await self._attempt(op, attempt, end, number, judge)
            if failure is None:
                return result, number
            self.failures += 1
            error_class, sent = _failure(failure) or ("permanent", True)
            decision = decide(policy, attempt=number, error_class=error_class, started=started,
                              now=time.time(), deadline=end, previous_delay=delay,
                              random=self._rng)
            if not decision.retry or (sent and not idempotent):
                failure.attempts = number
                if judge is not None and result is not None:
                    return result, number
                raise failure
            self.retries += 1
            delay = decision.delay
            await asyncio.sleep(delay)

    async def _attempt(self, op: str, attempt: Callable[[float], Awaitable[Any]], end: float,
                       number: int, judge: Callable[[Any], ServiceUnavailable | None] | None,
                       ) -> tuple[Any, ServiceUnavailable | ServiceTimeout | None]:
        left = end - time.time()
        if left <= 0:
            raise ServiceTimeout(f"resource {self.resource!r}: no time left before your deadline "
                                 f"for attempt {number}", sent=number > 1, attempts=number - 1)
        try:
            await self.limiter.acquire(time.monotonic() + left)
        except ServiceUnavailable as exc:
            exc.attempts = number - 1
            raise
        try:
            permit = await self.guard.check(self.resource)
        except BaseException:
            self.limiter.release()
            raise
        timeout = min(self.settings.timeout, end - time.time())
        begun = time.perf_counter()
        result: Any = None
        failure: ServiceUnavailable | ServiceTimeout | None
        try:
            result = await asyncio.wait_for(attempt(max(timeout, 0.001)), max(timeout, 0.001))
            failure = judge(result) if judge is not None else None
        except TimeoutError:
            failure = ServiceTimeout(f"resource {self.resource!r} did not answer within "
                                     f"{max(timeout, 0):.3g} s (attempt {number}); it may have "
                                     "acted on the request", attempts=number)
        except (ServiceUnavailable, ServiceTimeout) as exc:
            failure = exc
        except Exception as exc:  # a refusal of the request itself: the service answered
            seconds = time.perf_counter() - begun
            self.guard.record(True, seconds, None, permit, self.resource)
            self._record(op, seconds, False)
            raise exc
        finally:
            self.limiter.release()
        seconds = time.perf_counter() - begun
        self.guard.record(failure is None, seconds, failure, permit, self.resource)
        self._record(op, seconds, failure is None)
        if isinstance(failure, ServiceUnavailable) and failure.retry_after is not None:
            self.limiter.pause(min(failure.retry_after, self.settings.max_retry_after),
                               f"{failure.status or 'the service'} with Retry-After "
                               f"{failure.retry_after:g} s")
        return result, failure

    def statistics(self) -> dict[str, Any]:
        """Counters and the limiter's state, plain values."""
        return {"calls": self.calls, "failures": self.failures, "retries": self.retries,
                "state": self.guard.client.state(self.resource) if self.guard.client else "unguarded",
                **self.limiter.statistics()}
