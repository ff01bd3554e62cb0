"""Client helper: guard calls with the shared breakers, checking state locally.

The decision is central but the check is local. :class:`BreakerClient` keeps the state of
each breaker that is not CLOSED as pushed by the actor (``breaker.state`` events, with a
periodic ``breaker.states`` sync as a safety net and every batch reply), so a call to a
closed breaker costs a dict lookup and a deque append; outcomes are shipped in batches
by a background thread. Only an OPEN breaker whose wait is over, or a HALF_OPEN one,
costs a round trip: the actor hands out the limited trial permits.

If the breaker actor cannot be reached, calls are let through (fail open) and counted.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
import itertools
import logging
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

import attrs

from ._classify import classify, error_types
from ._courier import Courier, Row
from ._errors import CircuitOpenError
from ._machine import CLOSED
from ._messages import Acquire, AcquireReply, Record, RecordReply, StateInfo
from ._policy import RetryPolicy
from ._retry import decide

log = logging.getLogger("actors.breaker.client")
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

MESSAGE_CHARS = 200
"""Error messages are cut to this many characters before they are shipped."""

Trial = tuple[bool, float, str, str, list[str]]
"""A trial's outcome: ok, seconds, error class, message, error types."""


@attrs.frozen
class GuardStatistics:
    """Counters of one client helper."""

    rejected_locally: int
    remote_acquires: int
    trials: int
    shipped: int
    batches: int
    dropped: int
    pushes: int
    syncs: int
    actor_errors: int
    retries: int
    discarded: int


class BreakerClient:
    """Guards calls with the breakers of actor ``actor`` reached through ``connection``.

    ``flush_interval`` is how often outcomes are shipped (and pushed states read);
    ``sync_interval`` how often all states are re-read in case an event was missed.
    Call :meth:`close` (or use ``with``) to ship what is left and stop the thread.
    """

    def __init__(self, connection: Any, actor: str = "breaker", *, flush_interval: float = 0.02,
                 sync_interval: float = 1.0, max_buffer: int = 100_000, timeout: float = 2.0,
                 subscribe: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        for name, value in (("flush_interval", flush_interval), ("sync_interval", sync_interval),
                            ("timeout", timeout)):
            if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
                raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        if not isinstance(max_buffer, int) or max_buffer < 1:
            raise ValueError(f"max_buffer must be an integer >= 1, got {max_buffer!r}")
        self.connection = connection
        self.actor = actor
        self.flush_interval = float(flush_interval)
        self.sync_interval = float(sync_interval)
        self.timeout = float(timeout)
        self._clock = clock
        self._states: dict[str, tuple[str, float]] = {}  # only breakers not CLOSED
        self._buffer: collections.deque[Row] = collections.deque(maxlen=max_buffer)
        self._max_buffer = max_buffer
        self._appended = itertools.count()
        self._peeks = 0
        self._c = dict.fromkeys(attrs.fields_dict(GuardStatistics), 0)
        del self._c["discarded"]
        self._courier = Courier(connection, actor, buffer=self._buffer, states=self._states,
                                apply=self._apply, counters=self._c,
                                flush_interval=self.flush_interval,
                                sync_interval=self.sync_interval, timeout=self.timeout,
                                subscribe=subscribe)

    # -- the guard -----------------------------------------------------------------
    def protect(self, resource: str) -> Guarded:
        """A one-use context manager (``with`` or ``async with``) guarding one call."""
        return Guarded(self, resource)

    def guard(self, resource: str) -> Callable[[F], F]:
        """Decorator guarding every call of a function or coroutine function."""

        def wrap(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    async with Guarded(self, resource):
                        return await fn(*args, **kwargs)
                return cast(F, guarded_async)

            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                with Guarded(self, resource):
                    return fn(*args, **kwargs)
            return cast(F, guarded)

        return wrap

    def call(self, resource: str, fn: Callable[..., T], *args: Any, retry: RetryPolicy | None = None,
             timeout: float | None = None, sleep: Callable[[float], None] = time.sleep,
             **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` guarded by ``resource``'s breaker, retrying per ``retry``.

        Transient failures (see :func:`classify`) are retried with backoff, never past
        ``timeout`` seconds from now; the last error is raised as it came. A breaker that
        opens meanwhile stops the retries with CircuitOpenError.
        """
        policy = retry or RetryPolicy(max_attempts=1)
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        attempt, delay = 0, 0.0
        while True:
            attempt += 1
            try:
                with Guarded(self, resource):
                    return fn(*args, **kwargs)
            except CircuitOpenError:
                raise
            except Exception as exc:
                verdict = decide(policy, attempt=attempt, error_class=classify(exc), started=started,
                                 now=time.monotonic(), deadline=deadline, previous_delay=delay,
                                 random=random.random)
                if not verdict.retry:
                    raise
                delay = verdict.delay
                self._c["retries"] += 1
            sleep(delay)

    def state(self, resource: str) -> str:
        """This client's view of ``resource``'s state (closed unless told otherwise)."""
        entry = self._states.get(resource)
        return CLOSED if entry is None else entry[0]

    def check(self, resource: str) -> int:
        """Raise CircuitOpenError if the call may not go; else its trial permit (0 if none)."""
        entry = self._states.get(resource)
        return 0 if entry is None else self._check_slow(resource, entry)

    def record(self, resource: str, ok: bool, seconds: float, error_class: str = "", *,
               message: str = "", permit: int = 0, error_types: list[str] | None = None) -> None:
        """Account one outcome: trial outcomes go at once, others in the next batch.

        ``error_types`` names the exception's classes (see :func:`error_types`), so that a
        breaker's ``ignored`` and ``recorded`` lists match subclasses.
        """
        types = error_types or []
        if permit:
            self._record_trial(resource, permit, (ok, seconds, error_class, message, types))
        else:
            next(self._appended)
            text = message[:MESSAGE_CHARS]
            self._buffer.append((resource, ok, seconds, error_class, text, types) if types
                                else (resource, ok, seconds, error_class, text))

    def wait_synced(self, timeout: float = 5.0) -> bool:
        """Wait until the first state sync with the actor is done (True if it is)."""
        return self._courier.wait_synced(timeout)

    def flush(self) -> None:
        """Ship the buffered outcomes now, from the calling thread."""
        self._courier.flush()

    def statistics(self) -> GuardStatistics:
        """Counters of this helper (``discarded``: outcomes pushed out of a full buffer)."""
        appended = next(self._appended) - self._peeks  # each look consumes one number
        self._peeks += 1
        counts = dict(self._c)
        counts["discarded"] = max(0, appended - counts["shipped"] - counts["dropped"]
                                  - len(self._buffer))
        return GuardStatistics(**counts)

    def close(self) -> None:
        """Stop the background thread and ship what is left."""
        self._courier.stop()

    def __enter__(self) -> BreakerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- slow paths ----------------------------------------------------------------
    def _check_slow(self, resource: str, entry: tuple[str, float]) -> int:
        state, until = entry
        now = self._clock()
        if now < until:  # open, or half-open with every trial permit out
            self._c["rejected_locally"] += 1
            raise CircuitOpenError(resource, state, until - now)
        self._c["remote_acquires"] += 1
        try:
            reply = self.connection.ask(self.actor, Acquire(resource), timeout=self.timeout)
        except Exception as exc:  # actor unreachable: fail open rather than stop all traffic
            self._c["actor_errors"] += 1
            log.warning("breaker actor %r unreachable (%s); letting %r through", self.actor, exc,
                        resource)
            return 0
        assert isinstance(reply, AcquireReply)
        self._apply(StateInfo(resource, reply.state, False, reply.retry_after))
        if not reply.permitted:
            raise CircuitOpenError(resource, reply.state, reply.retry_after)
        self._c["trials"] += reply.permit != 0
        return reply.permit

    def _record_trial(self, resource: str, permit: int, outcome: Trial) -> None:
        ok, seconds, error_class, message, types = outcome
        try:
            reply = self.connection.ask(self.actor, Record(resource, ok, seconds, error_class,
                                                           message[:MESSAGE_CHARS], permit, types),
                                        timeout=self.timeout)
        except Exception as exc:
            self._c["actor_errors"] += 1
            log.warning("breaker actor %r unreachable (%s); trial outcome of %r lost", self.actor,
                        exc, resource)
            return
        assert isinstance(reply, RecordReply)
        self._apply(reply.state)

    def _apply(self, info: StateInfo) -> None:
        if info.state == CLOSED:
            self._states.pop(info.resource, None)
        else:
            self._states[info.resource] = (info.state, self._clock() + info.retry_after)


class Guarded:
    """One guarded call: checks on enter, records the outcome on exit (sync or async)."""

    __slots__ = ("_client", "_permit", "_resource", "_t0")

    def __init__(self, client: BreakerClient, resource: str) -> None:
        self._client = client
        self._resource = resource
        self._permit = 0
        self._t0 = 0.0

    def __enter__(self) -> Guarded:
        client = self._client
        entry = client._states.get(self._resource)
        if entry is not None:
            self._permit = client._check_slow(self._resource, entry)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        seconds = time.perf_counter() - self._t0
        if kind is None:
            if self._permit:
                self._client._record_trial(self._resource, self._permit,
                                           (True, seconds, "", "", []))
            else:
                client = self._client
                next(client._appended)
                client._buffer.append((self._resource, True, seconds, "", ""))
        elif exc is not None and isinstance(exc, Exception):
            self._client.record(self._resource, False, seconds, classify(exc), message=str(exc),
                                permit=self._permit, error_types=error_types(exc))

    async def __aenter__(self) -> Guarded:
        client = self._client
        entry = client._states.get(self._resource)
        if entry is not None:
            self._permit = await asyncio.to_thread(client._check_slow, self._resource, entry)
        self._t0 = time.perf_counter()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._permit:
            seconds = time.perf_counter() - self._t0
            outcome: Trial = (True, seconds, "", "", []) if exc is None else \
                (False, seconds, classify(exc), str(exc), error_types(exc))
            await asyncio.to_thread(self._client._record_trial, self._resource, self._permit,
                                    outcome)
        else:
            self.__exit__(kind, exc, tb)
