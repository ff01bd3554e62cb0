"""All breakers of one actor, with their analytics and retry policies, behind one lock.

The actor thread and the worker threads of ``breaker.call`` both go through here, so
every method takes the lock. Still pure: clocks are injected and transitions go to a
listener; the actor turns them into log lines and published events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import attrs

from ._analytics import ErrorAnalytics
from ._errors import UnknownResource
from ._machine import CLOSED, HALF_OPEN, NOT_A_TRIAL, OPEN, Breaker, Decision, Transition
from ._messages import BreakerSettings, BreakerStatistics, Outcome, ResourceStats, StateInfo
from ._policy import BreakerPolicy, RetryPolicy


@attrs.define
class _Entry:
    breaker: Breaker
    analytics: ErrorAnalytics
    retry: RetryPolicy


class BreakerBook:
    """Breakers by resource name (see module doc)."""

    def __init__(self, settings: BreakerSettings, clock: Callable[[], float],
                 wall: Callable[[], float],
                 on_transition: Callable[[Transition], None] | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._wall = wall
        self._listener = on_transition
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self.transitions = self.acquires = self.records = self.calls = 0
        for name, config in settings.resources.items():
            self._create(name, config.breaker, config.retry)

    # -- lookup ------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every resource with a breaker, sorted."""
        with self._lock:
            return sorted(self._entries)

    def _entry(self, resource: str, *, create: bool = True) -> _Entry:
        entry = self._entries.get(resource)
        if entry is not None:
            return entry
        if not (create and self.settings.auto_create):
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownResource(f"no breaker for resource {resource!r} (auto_create is "
                                  f"{'on' if self.settings.auto_create else 'off'}; known: {known})")
        return self._create(resource, None, None)

    def _create(self, resource: str, policy: BreakerPolicy | None,
                retry: RetryPolicy | None) -> _Entry:
        breaker = Breaker(resource, policy or self.settings.default, self._clock, self._transition)
        analytics = ErrorAnalytics(self._clock, self._wall, self.settings.analytics_window)
        entry = self._entries[resource] = _Entry(breaker, analytics, retry or self.settings.retry)
        return entry

    def _transition(self, transition: Transition) -> None:
        self.transitions += 1
        if self._listener is not None:
            self._listener(transition)

    # -- protocol ----------------------------------------------------------------
    def acquire(self, resource: str) -> Decision:
        """May a call to ``resource`` go now?"""
        with self._lock:
            self.acquires += 1
            return self._entry(resource).breaker.acquire()

    def record(self, resource: str, ok: bool, seconds: float, error_class: str = "", *,
               message: str = "", permit: int = 0, error_types: Sequence[str] = ()) -> str:
        """Account one outcome in the breaker and the analytics; returns the verdict."""
        with self._lock:
            self.records += 1
            return self._record(self._entry(resource), ok, seconds, error_class, message, permit,
                                error_types)

    def record_many(self, outcomes: list[Outcome]) -> None:
        """Account many batched outcomes, in order; none is a half-open trial."""
        with self._lock:
            for resource, ok, seconds, error_class, message, error_types in outcomes:
                self.records += 1
                self._record(self._entry(resource), ok, seconds, error_class, message,
                             NOT_A_TRIAL, error_types)

    @staticmethod
    def _record(entry: _Entry, ok: bool, seconds: float, error_class: str, message: str,
                permit: int, error_types: Sequence[str]) -> str:
        verdict = entry.breaker.record(ok, seconds, error_class, permit, error_types)
        slow = entry.breaker.policy.is_slow(seconds)
        entry.analytics.add(verdict, seconds, slow, error_class, message)
        return verdict

    def retry_policy(self, resource: str) -> RetryPolicy:
        """The retry policy of ``resource``."""
        with self._lock:
            return self._entry(resource).retry

    def state(self, resource: str) -> StateInfo:
        """Where ``resource``'s breaker stands."""
        with self._lock:
            breaker = self._entry(resource, create=False).breaker
            return StateInfo(resource, breaker.state, breaker.forced, breaker.retry_after())

    def states(self, resources: list[str]) -> list[StateInfo]:
        """States of ``resources`` (unknown ones skipped) and of every breaker not closed."""
        with self._lock:
            wanted = set(resources)
            return [self.state(name) for name, entry in sorted(self._entries.items())
                    if name in wanted or entry.breaker.state != CLOSED]

    # -- control -----------------------------------------------------------------
    def force_open(self, resource: str, reason: str) -> StateInfo:
        """Pin OPEN."""
        with self._lock:
            self._entry(resource).breaker.force_open(reason)
            return self.state(resource)

    def force_closed(self, resource: str, reason: str) -> StateInfo:
        """Pin CLOSED."""
        with self._lock:
            self._entry(resource).breaker.force_closed(reason)
            return self.state(resource)

    def reset(self, resource: str, reason: str) -> StateInfo:
        """Fresh CLOSED, unpinned."""
        with self._lock:
            self._entry(resource, create=False).breaker.reset(reason)
            return self.state(resource)

    def configure(self, resource: str, policy: BreakerPolicy | None,
                  retry: RetryPolicy | None) -> StateInfo:
        """Set policies of ``resource`` (created if new, even with auto_create off)."""
        with self._lock:
            entry = self._entries.get(resource) or self._create(resource, policy, retry)
            if policy is not None:
                entry.breaker.set_policy(policy)
            if retry is not None:
                entry.retry = retry
            return self.state(resource)

    # -- introspection -----------------------------------------------------------
    def stats(self, resource: str | None) -> list[ResourceStats]:
        """Analytics of one resource (UnknownResource if none) or of all."""
        with self._lock:
            names = [resource] if resource is not None else sorted(self._entries)
            return [self._stats(name, self._entry(name, create=False)) for name in names]

    def _stats(self, name: str, entry: _Entry) -> ResourceStats:
        snap = entry.breaker.snapshot()
        counts = entry.analytics.counts()
        return ResourceStats(
            name, snap.state, snap.forced, snap.retry_after, snap.opens, snap.permitted,
            snap.rejected, snap.consecutive_failures, snap.window.calls, snap.window.failure_rate,
            snap.window.slow_rate, snap.time_in_state, counts.calls, counts.successes,
            counts.failures, counts.ignored, counts.slow, counts.recovered, counts.recovery_rate,
            counts.errors_by_class, counts.window_seconds, counts.window_calls,
            counts.window_error_rate, counts.window_errors_by_class, counts.mean_seconds,
            counts.last_errors)

    def statistics(self) -> BreakerStatistics:
        """Counts for ``actor.statistics``."""
        with self._lock:
            states = [e.breaker.state for e in self._entries.values()]
            rejected = sum(e.breaker.snapshot().rejected for e in self._entries.values())
            return BreakerStatistics(len(states), states.count(CLOSED), states.count(OPEN),
                                     states.count(HALF_OPEN), self.transitions, self.acquires,
                                     self.records, self.calls, rejected)

    def forced_states(self) -> dict[str, str]:
        """Resources pinned by force_open/force_closed (saved across restarts)."""
        with self._lock:
            return {n: e.breaker.state for n, e in self._entries.items() if e.breaker.forced}
