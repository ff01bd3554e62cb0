"""The breaker state machine of one resource: pure, driven by an injected clock.

CLOSED lets every call through and watches the sliding window; OPEN rejects until its
wait is over; then HALF_OPEN hands out at most ``half_open_permits`` trial permits and
decides on their outcomes per ``half_open_decision``: with ``"first_failure"`` as many
successes close it and one failure (or slow trial) reopens it; with ``"rate"`` the
failure and slow-call rates of the first min(minimum_calls, half_open_permits) trials
decide. Reopening waits longer each time (``open_multiplier``). A trial that ends in an
ignored error gives its permit back. ``force_open`` / ``force_closed`` pin a state until
``reset``. Nothing here sleeps, reads the wall clock, or does I/O: tests move the clock
by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from ._policy import BreakerPolicy
from ._window import WindowTotals, make_window

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)

NOT_A_TRIAL = -1
"""``permit`` of an outcome that is never a half-open trial (batched outcomes)."""


@attrs.frozen
class Decision:
    """Answer to an acquire: permitted or not, the state, and when to try again.

    ``permit`` is non-zero for a half-open trial permit; send it back with the outcome.
    """

    permitted: bool
    state: str
    retry_after: float
    permit: int = 0


@attrs.frozen
class Transition:
    """A change of state, with why; ``open_seconds`` is the wait when entering OPEN."""

    resource: str
    from_state: str
    to_state: str
    reason: str
    at: float
    forced: bool
    open_seconds: float


@attrs.frozen
class BreakerSnapshot:
    """One breaker as seen at one instant (times in seconds)."""

    resource: str
    state: str
    forced: bool
    retry_after: float
    window: WindowTotals
    consecutive_failures: int
    consecutive_opens: int
    opens: int
    permitted: int
    rejected: int
    time_in_state: dict[str, float]


class Breaker:
    """State machine of one resource's breaker (see module doc); not thread-safe by itself."""

    def __init__(self, resource: str, policy: BreakerPolicy, clock: Callable[[], float],
                 on_transition: Callable[[Transition], None] | None = None) -> None:
        self.resource = resource
        self._clock = clock
        self._on_transition = on_transition
        self.policy = policy
        self._window = make_window(policy.window, policy.window_size)
        self._state = CLOSED
        self.forced = False
        self._entered_at = clock()
        self._time_in = dict.fromkeys(STATES, 0.0)
        self._open_until = 0.0
        self._consecutive_failures = 0
        self._consecutive_opens = 0
        self._opens = self._permitted = self._rejected = 0
        self._permits: dict[int, float] = {}
        self._next_permit = 1
        self._trials = _Trials()

    # -- reading -----------------------------------------------------------------
    @property
    def state(self) -> str:
        """The current state (an elapsed OPEN wait turns into HALF_OPEN on read)."""
        self._advance(self._clock())
        return self._state

    def retry_after(self) -> float:
        """Seconds until an OPEN breaker allows trials (0 unless OPEN; inf if forced open)."""
        now = self._clock()
        self._advance(now)
        if self._state != OPEN:
            return 0.0
        return float("inf") if self.forced else max(0.0, self._open_until - now)

    def snapshot(self) -> BreakerSnapshot:
        """Everything about this breaker now."""
        now = self._clock()
        retry_after = self.retry_after()
        times = dict(self._time_in)
        times[self._state] += now - self._entered_at
        return BreakerSnapshot(self.resource, self._state, self.forced, retry_after,
                               self._window.totals(now), self._consecutive_failures,
                               self._consecutive_opens, self._opens, self._permitted,
                               self._rejected, times)

    # -- the two calls of the protocol ----------------------------------------------
    def acquire(self) -> Decision:
        """May a call go now? Hands out a trial permit in HALF_OPEN."""
        now = self._clock()
        self._advance(now)
        if self._state == CLOSED:
            self._permitted += 1
            return Decision(True, CLOSED, 0.0)
        if self._state == OPEN:
            self._rejected += 1
            return Decision(False, OPEN, self.retry_after())
        for permit, granted in list(self._permits.items()):  # reclaim permits never answered
            if now - granted >= self.policy.permit_timeout:
                del self._permits[permit]
        if len(self._permits) + self._trials.calls >= self.policy.half_open_permits:
            self._rejected += 1
            return Decision(False, HALF_OPEN, self._oldest_permit_expiry(now))
        permit = self._next_permit
        self._next_permit += 1
        self._permits[permit] = now
        self._permitted += 1
        return Decision(True, HALF_OPEN, 0.0, permit)

    def record(self, ok: bool, seconds: float, error_class: str = "", permit: int = 0,
               error_types: Sequence[str] = ()) -> str:
        """Account one call outcome; returns ``"success"``, ``"failure"`` or ``"ignored"``.

        In HALF_OPEN only trial outcomes count (``permit`` from the acquire, 0 for the
        oldest outstanding permit, NOT_A_TRIAL for none); an ignored trial gives its permit
        back. In OPEN outcomes are late and change nothing. ``error_types`` are the names
        of the exception's classes, matched by ``ignored`` and ``recorded``.
        """
        if not seconds >= 0:
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        now = self._clock()
        self._advance(now)
        verdict = self.policy.counts_as(ok, error_class, error_types)
        if verdict == "ignored":
            if self._state == HALF_OPEN:
                self._take_permit(permit)  # given back: the next acquire may have it
            return verdict
        failed = verdict == "failure"
        slow = self.policy.is_slow(seconds)
        if self._state == CLOSED:
            self._record_closed(failed, slow, now)
        elif self._state == HALF_OPEN and self._take_permit(permit):
            self._record_trial(failed, slow, seconds, now)
        return verdict

    # -- manual control -----------------------------------------------------------
    def force_open(self, reason: str = "forced open") -> None:
        """Reject every call until :meth:`reset` or :meth:`force_closed`."""
        self.forced = True
        self._open_until = float("inf")
        if self._state != OPEN:
            self._opens += 1
            self._to(OPEN, self._clock(), reason)

    def force_closed(self, reason: str = "forced closed") -> None:
        """Let every call through, never opening, until :meth:`reset` or :meth:`force_open`."""
        self.forced = True
        if self._state != CLOSED:
            self._to(CLOSED, self._clock(), reason)

    def reset(self, reason: str = "reset") -> None:
        """Back to a fresh CLOSED breaker: window, counters of failures and opens cleared."""
        self.forced = False
        self._window.clear()
        self._consecutive_failures = self._consecutive_opens = 0
        if self._state != CLOSED:
            self._to(CLOSED, self._clock(), reason)

    def set_policy(self, policy: BreakerPolicy) -> None:
        """Switch to ``policy`` (a new window starts empty; the state is kept)."""
        self.policy = policy
        self._window = make_window(policy.window, policy.window_size)

    # -- internals ----------------------------------------------------------------
    def _record_closed(self, failed: bool, slow: bool, now: float) -> None:
        self._window.add(failed, slow, now)
        self._consecutive_failures = self._consecutive_failures + 1 if failed else 0
        if self.forced:
            return
        p = self.policy
        if p.consecutive_failures and self._consecutive_failures >= p.consecutive_failures:
            self._open(now, f"{self._consecutive_failures} consecutive failures")
            return
        calls, failures, slow_calls = self._window.counts(now)
        if calls < p.minimum_calls:
            return
        if failures / calls >= p.failure_rate:
            self._open(now, f"failure rate {failures / calls:.0%} >= {p.failure_rate:.0%} "
                            f"over {calls} calls")
        elif slow_calls / calls >= p.slow_call_rate:
            self._open(now, f"slow-call rate {slow_calls / calls:.0%} >= {p.slow_call_rate:.0%} "
                            f"over {calls} calls (slow: > {p.slow_call_seconds:g} s)")

    def _record_trial(self, failed: bool, slow: bool, seconds: float, now: float) -> None:
        self._trials.add(failed, slow)
        verdict = self._trials.verdict(self.policy, seconds)
        if verdict is not None:
            state, reason = verdict
            if state == OPEN:
                self._open(now, reason)
            else:
                self._to(CLOSED, now, reason)

    def _take_permit(self, permit: int) -> bool:
        if permit == NOT_A_TRIAL:
            return False
        if permit:
            return self._permits.pop(permit, None) is not None
        if self._permits:
            del self._permits[next(iter(self._permits))]
            return True
        return False

    def _oldest_permit_expiry(self, now: float) -> float:
        if not self._permits:
            return 0.0
        return max(0.0, min(self._permits.values()) + self.policy.permit_timeout - now)

    def _open(self, now: float, reason: str) -> None:
        self._consecutive_opens += 1
        self._opens += 1
        self._open_until = now + self.policy.open_wait(self._consecutive_opens)
        self._to(OPEN, now, reason)

    def _advance(self, now: float) -> None:
        if self._state == OPEN and not self.forced and now >= self._open_until:
            self._to(HALF_OPEN, now, "open wait is over")

    def _to(self, state: str, now: float, reason: str) -> None:
        old = self._state
        self._time_in[old] += now - self._entered_at
        self._entered_at = now
        self._state = state
        self._permits.clear()
        self._trials = _Trials()
        if state != OPEN:
            self._window.clear()
        if state == CLOSED:
            self._consecutive_failures = 0
            if not self.forced:
                self._consecutive_opens = 0
        wait = (self._open_until - now) if state == OPEN else 0.0
        if self._on_transition is not None:
            self._on_transition(Transition(self.resource, old, state, reason, now, self.forced,
                                           wait))


@attrs.define
class _Trials:
    """Outcomes of the half-open trials since HALF_OPEN was entered, and what they decide."""

    calls: int = 0
    failures: int = 0
    slow: int = 0
    last_failed: bool = False
    last_slow: bool = False

    def add(self, failed: bool, slow: bool) -> None:
        self.calls += 1
        self.failures += failed
        self.slow += slow
        self.last_failed, self.last_slow = failed, slow

    def verdict(self, p: BreakerPolicy, seconds: float) -> tuple[str, str] | None:
        """(OPEN or CLOSED, why) once the trials decide per ``p.half_open_decision``; else None.

        ``seconds`` is the duration of the last trial (named when it was too slow).
        """
        if p.half_open_decision == "first_failure":
            if self.last_failed or self.last_slow:
                why = "failed" if self.last_failed else \
                    f"was slow ({seconds:.3f} s > {p.slow_call_seconds:g} s)"
                return OPEN, f"half-open trial call {why}"
            if self.calls >= p.half_open_permits:
                return CLOSED, f"{self.calls} half-open trial calls succeeded"
            return None
        if self.calls < min(p.minimum_calls, p.half_open_permits):
            return None
        failure_rate, slow_rate = self.failures / self.calls, self.slow / self.calls
        if failure_rate >= p.failure_rate:
            return OPEN, (f"half-open trials: failure rate {failure_rate:.0%} >= "
                          f"{p.failure_rate:.0%} over {self.calls} trials")
        if slow_rate >= p.slow_call_rate:
            return OPEN, (f"half-open trials: slow-call rate {slow_rate:.0%} >= "
                          f"{p.slow_call_rate:.0%} over {self.calls} trials")
        return CLOSED, (f"half-open trials: failure rate {failure_rate:.0%} < {p.failure_rate:.0%}"
                        f" and slow-call rate {slow_rate:.0%} < {p.slow_call_rate:.0%} over "
                        f"{self.calls} trials")
