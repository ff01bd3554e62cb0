"""The breaker against resilience4j's CircuitBreaker, the reference, with a hand-moved clock.

Each test follows one rule of resilience4j — a sentence of the ``CircuitBreakerConfig``
Javadoc, or a case of ``CircuitBreakerStateMachineTest`` / ``CircuitBreakerConfigTest`` /
``CircuitBreakerExceptionHandlingTest`` (resilience4j/resilience4j, module
resilience4j-circuitbreaker) — quoted in its docstring; the expected states and counts are
written out from that rule, not computed with our code. Where we differ on purpose
(README, "Where the breaker differs from resilience4j") the docstring says so and the
test pins our behaviour.

Most tests use the reference's own fixture from ``CircuitBreakerStateMachineTest.setUp``:
failure rate 50 %, 4 permitted calls in half-open, slow above 4 s, slow-call rate 50 %,
5 s open, ``NumberFormatException`` ignored (here :class:`NumberFormatError`).
"""

from __future__ import annotations

from typing import Any

import pytest

from actors.breaker import (
    CLOSED,
    HALF_OPEN,
    NOT_A_TRIAL,
    OPEN,
    Breaker,
    BreakerPolicy,
    BreakerSettings,
    Configure,
    LocalConnection,
    Record,
    States,
    Stats,
    Transition,
    error_types,
)
from actors.testing import ManualClock
from messages import InvalidBody, from_wire


class NumberFormatError(ValueError):
    """Stands for Java's NumberFormatException (a subclass of IllegalArgumentException)."""


class DbError(Exception):
    """A family of errors a policy lists by its base class."""


class DbTimeoutError(DbError):
    """A subclass of DbError."""


class BusinessError(Exception):
    """An error outside the DbError family."""


def reference(**changes: Any) -> BreakerPolicy:
    """CircuitBreakerStateMachineTest.setUp's config (count window of 5 with a minimum of 5)."""
    settings: dict[str, Any] = {
        "failure_rate": 0.5, "half_open_permits": 4, "slow_call_seconds": 4.0,
        "slow_call_rate": 0.5, "window": "count", "window_size": 5, "minimum_calls": 5,
        "open_seconds": 5.0, "ignored": ["NumberFormatError"]}
    settings.update(changes)
    return BreakerPolicy(**settings)


def make(policy: BreakerPolicy) -> tuple[Breaker, ManualClock, list[Transition]]:
    clock = ManualClock()
    seen: list[Transition] = []
    return Breaker("testName", policy, clock, seen.append), clock, seen


def on_error(b: Breaker, exc: BaseException, seconds: float = 0.0, permit: int = 0) -> str:
    """resilience4j's ``onError(duration, exception)``: the exception known by its classes."""
    return b.record(False, seconds, type(exc).__name__, permit, error_types(exc))


def on_success(b: Breaker, seconds: float = 0.0, permit: int = 0) -> str:
    """resilience4j's ``onSuccess(duration)``."""
    return b.record(True, seconds, permit=permit)


def half_open(b: Breaker, clock: ManualClock) -> None:
    """transitionToOpenState(); transitionToHalfOpenState(): open it, then let the wait pass."""
    for _ in range(b.policy.minimum_calls):
        on_error(b, RuntimeError())
    assert b.state == OPEN
    clock.advance(b.policy.open_seconds)
    assert b.state == HALF_OPEN


# -- sliding window and minimum number of calls ------------------------------------------------
def test_count_window_minimum_above_its_size_is_refused_naming_both_settings() -> None:
    """Javadoc of ``slidingWindow``: "If the slidingWindowType is COUNT_BASED, the
    minimumNumberOfCalls may not be greater than slidingWindowSize. If a greater value is
    provided, minimumNumberOfCalls will be equal to slidingWindowSize."

    Deliberate difference: resilience4j caps it silently (CircuitBreakerConfigTest
    ``shouldReduceMinimumNumberOfCallsToSlidingWindowSize``: window 5, minimum 6 -> 5);
    we refuse the policy with an error naming both settings, since as written the window
    could never hold the minimum and the rates could never open the breaker.
    """
    with pytest.raises(ValueError, match=r"minimum_calls \(6\) must be <= window_size \(5\)"):
        BreakerPolicy(window="count", window_size=5, minimum_calls=6)
    with pytest.raises(ValueError, match=r"minimum_calls \(10\) must be <= window_size \(4\)"):
        BreakerPolicy(window="count", window_size=4, minimum_calls=10)
    kept = BreakerPolicy(window="count", window_size=5, minimum_calls=5)
    assert (kept.window_size, kept.minimum_calls) == (5, 5)


def test_configure_and_config_refuse_an_impossible_count_window() -> None:
    """The same rule at run time and from the config: ``breaker.configure`` and the node's
    settings refuse the policy with InvalidBody naming minimum_calls and window_size."""
    conn = LocalConnection()
    try:
        with pytest.raises(InvalidBody, match=r"minimum_calls \(10\) must be <= window_size \(4\)"):
            conn.ask("breaker", "breaker.configure", {"resource": "db", "breaker": {
                "window": "count", "window_size": 4, "minimum_calls": 10}})
        assert conn.ask("breaker", Stats()).resources == []  # nothing was created
        conn.ask("breaker", Configure("db", BreakerPolicy(window_size=4, minimum_calls=4)))
    finally:
        conn.close()
    with pytest.raises(InvalidBody, match=r"BreakerSettings\.resources\.pg\.breaker.*"
                                          r"minimum_calls \(10\) must be <= window_size \(4\)"):
        from_wire(BreakerSettings, {"resources": {"pg": {"breaker": {
            "window_size": 4, "minimum_calls": 10}}}})


def test_time_window_allows_any_minimum() -> None:
    """Javadoc of ``slidingWindow``: "If the slidingWindowType is TIME_BASED, the
    minimumNumberOfCalls may be any amount." (CircuitBreakerConfigTest
    ``shouldAllowHighMinimumNumberOfCallsWhenSlidingWindowIsTimeBased``)."""
    policy = BreakerPolicy(window="time", window_size=5, minimum_calls=1000)
    assert policy.minimum_calls == 1000


def test_nine_failures_below_a_minimum_of_ten_do_not_open() -> None:
    """Javadoc of ``minimumNumberOfCalls``: "if minimumNumberOfCalls is 10, then at least 10
    calls must be recorded, before the failure rate can be calculated. If only 9 calls have
    been recorded, the CircuitBreaker will not transition to open, even if all 9 calls have
    failed." """
    b, _, _ = make(reference(window_size=100, minimum_calls=10))
    for _ in range(9):
        on_error(b, RuntimeError())
    assert b.state == CLOSED
    on_error(b, RuntimeError())
    assert b.state == OPEN


def test_failure_rate_above_threshold_opens_when_the_ring_is_full() -> None:
    """CircuitBreakerStateMachineTest ``shouldOpenAfterFailureRateThresholdExceeded``: calls
    F F F S S in a ring of 5 — closed after each of the first four, "The ring buffer is
    filled and the failure rate is above 50%" after the fifth: OPEN at 60 %."""
    b, _, seen = make(reference())
    for exc in (RuntimeError(), RuntimeError(), RuntimeError()):
        on_error(b, exc)
        assert b.state == CLOSED
    on_success(b)
    assert b.state == CLOSED
    on_success(b)
    assert b.state == OPEN
    assert "failure rate 60%" in seen[-1].reason
    assert not b.acquire().permitted


def test_failure_rate_equal_to_threshold_opens() -> None:
    """Javadoc of ``failureRateThreshold``: "If the failure rate is equal to or greater than
    the threshold, the CircuitBreaker transitions to open": 2 failures in 4 calls at 50 %."""
    b, _, _ = make(reference(window_size=4, minimum_calls=4))
    on_error(b, RuntimeError())
    on_success(b)
    on_error(b, RuntimeError())
    assert b.state == CLOSED
    on_success(b)
    assert b.state == OPEN


# -- slow calls --------------------------------------------------------------------------------
def test_a_call_as_long_as_the_slow_threshold_is_not_slow() -> None:
    """Javadoc of ``slowCallRateThreshold``: "The CircuitBreaker considers a call as slow
    when the call duration is greater than slowCallDurationThreshold" (and
    CircuitBreakerMetrics: ``duration > slowCallDurationThresholdInNanos``). Five calls of
    exactly 4 s fill the ring with no slow call; calls of 4.001 s are slow and replace them:
    20 %, 40 %, then 60 % >= 50 % opens."""
    b, _, seen = make(reference())
    for _ in range(5):
        on_success(b, seconds=4.0)
    assert b.state == CLOSED and b.snapshot().window.slow == 0
    for _ in range(2):
        on_success(b, seconds=4.001)
        assert b.state == CLOSED
    on_success(b, seconds=4.001)
    assert b.state == OPEN
    assert "slow-call rate 60%" in seen[-1].reason and "(slow: > 4 s)" in seen[-1].reason


def test_slow_rate_above_threshold_opens() -> None:
    """CircuitBreakerStateMachineTest ``shouldOpenAfterSlowCallRateThresholdExceeded``: calls
    of 5 s (error), 5 s, 100 ms (error), 100 ms, 5 s — "The ring buffer is filled and the
    slow call rate is above 50%": OPEN, 3 slow calls, 60 %."""
    b, _, seen = make(reference(failure_rate=1.0))
    on_error(b, RuntimeError(), seconds=5)
    on_success(b, seconds=5)
    on_error(b, RuntimeError(), seconds=0.1)
    on_success(b, seconds=0.1)
    assert b.state == CLOSED
    on_success(b, seconds=5)
    assert b.state == OPEN
    assert "slow-call rate 60%" in seen[-1].reason


def test_slow_counts_in_the_analytics_use_the_same_boundary() -> None:
    """The analytics count a call as slow by the same rule: a call of exactly
    slow_call_seconds is not slow, one a little longer is."""
    conn = LocalConnection(BreakerSettings(default=BreakerPolicy(slow_call_seconds=0.1)))
    try:
        conn.ask("breaker", Record("api", True, 0.1))
        conn.ask("breaker", Record("api", True, 0.1001))
        stats = conn.ask("breaker", Stats("api")).resources[0]
        assert (stats.calls, stats.slow) == (2, 1)
        assert stats.window_slow_rate == 0.5
    finally:
        conn.close()


# -- half-open ---------------------------------------------------------------------------------
def test_only_the_permitted_number_of_trials_in_half_open() -> None:
    """CircuitBreakerStateMachineTest ``shouldOnlyPermitFourCallsInHalfOpenState``: with 4
    permitted calls, tryAcquirePermission answers true, true, true, true, false, false."""
    b, clock, _ = make(reference())
    half_open(b, clock)
    assert [b.acquire().permitted for _ in range(6)] == [True, True, True, True, False, False]


def test_an_ignored_trial_gives_its_permit_back() -> None:
    """CircuitBreakerStateMachine ``handleThrowable``: an ignored exception calls
    ``releasePermission()``, and ``shouldIncreaseCounterOnReleasePermission``: after a
    release one more tryAcquirePermission is true. With 2 permits and one trial ending in an
    ignored error the next acquires are True, then False (not False, False until
    permit_timeout)."""
    b, clock, _ = make(reference(half_open_permits=2, ignored=["Ignorable"]))
    half_open(b, clock)
    first, second = b.acquire(), b.acquire()
    assert first.permitted and second.permitted
    assert b.record(False, 0.0, "Ignorable", first.permit) == "ignored"
    assert b.state == HALF_OPEN
    assert [b.acquire().permitted for _ in range(2)] == [True, False]


@pytest.mark.parametrize("decision", ["first_failure", "rate"])
def test_ignored_trials_then_successes_close(decision: str) -> None:
    """CircuitBreakerStateMachineTest ``shouldIgnoreExceptionsAndThenTransitionToClosed``:
    four trials ending in the ignored NumberFormatException leave it HALF_OPEN with nothing
    counted; then four successful trials — HALF_OPEN after the first three, CLOSED after the
    fourth. The same under both half-open decisions."""
    b, clock, _ = make(reference(half_open_decision=decision))
    half_open(b, clock)
    for _ in range(4):
        d = b.acquire()
        assert d.permitted
        assert on_error(b, NumberFormatError(), permit=d.permit) == "ignored"
        assert b.state == HALF_OPEN
    for _ in range(3):
        on_success(b, permit=b.acquire().permit)
        assert b.state == HALF_OPEN
    on_success(b, permit=b.acquire().permit)
    assert b.state == CLOSED


def test_rate_decision_releases_an_ignored_trial_then_closes_below_threshold() -> None:
    """CircuitBreakerStateMachineTest ``shouldReleasePermissionWhenExceptionIgnored``: trials
    S S S, then an ignored NumberFormatException (permit released, still HALF_OPEN), then a
    RuntimeException: 1 failure in 4 trials is 25 % < 50 %, so CLOSED."""
    b, clock, _ = make(reference(half_open_decision="rate"))
    half_open(b, clock)
    for _ in range(3):
        on_success(b, permit=b.acquire().permit)
        assert b.state == HALF_OPEN
    on_error(b, NumberFormatError(), permit=b.acquire().permit)
    assert b.state == HALF_OPEN
    on_error(b, RuntimeError(), permit=b.acquire().permit)
    assert b.state == CLOSED


def test_rate_decision_reopens_on_the_failure_rate_of_the_trials() -> None:
    """CircuitBreakerStateMachineTest ``shouldTransitionBackToOpenStateWhenFailureRateIsAbove
    Threshold``: trials F F S F — "The ring buffer is filled and the failure rate is above
    50%. The state machine transitions back to OPEN state" (75 %); it stays HALF_OPEN until
    the fourth outcome."""
    b, clock, seen = make(reference(half_open_decision="rate"))
    half_open(b, clock)
    for outcome in ("F", "F", "S"):
        d = b.acquire()
        if outcome == "F":
            on_error(b, RuntimeError(), permit=d.permit)
        else:
            on_success(b, permit=d.permit)
        assert b.state == HALF_OPEN
    on_error(b, RuntimeError(), permit=b.acquire().permit)
    assert b.state == OPEN
    assert "failure rate 75%" in seen[-1].reason


def test_rate_decision_reopens_on_the_slow_rate_of_the_trials() -> None:
    """CircuitBreakerStateMachineTest ``shouldTransitionBackToOpenStateWhenSlowCallRateIsAbove
    Threshold``: successful trials of 5 s, 5 s, 5 s, 1 s — "The failure rate is blow 50%,
    but slow call rate is above 50%. The state machine transitions back to OPEN state"."""
    b, clock, seen = make(reference(half_open_decision="rate"))
    half_open(b, clock)
    for seconds in (5, 5, 5):
        on_success(b, seconds=seconds, permit=b.acquire().permit)
        assert b.state == HALF_OPEN
    on_success(b, seconds=1, permit=b.acquire().permit)
    assert b.state == OPEN
    assert "slow-call rate 75%" in seen[-1].reason


def test_rate_decision_closes_below_threshold_and_starts_a_fresh_window() -> None:
    """CircuitBreakerStateMachineTest ``shouldTransitionBackToClosedStateWhenFailureIsBelow
    Threshold``: trials F S S S — "The ring buffer is filled and the failure rate is below
    50%. The state machine transitions back to CLOSED state" with metrics reset, and the
    next success is the only call in the closed window."""
    b, clock, _ = make(reference(half_open_decision="rate"))
    half_open(b, clock)
    on_error(b, RuntimeError(), permit=b.acquire().permit)
    for _ in range(3):
        on_success(b, permit=b.acquire().permit)
    assert b.state == CLOSED
    assert b.snapshot().window.calls == 0
    on_success(b)
    assert (b.snapshot().window.calls, b.snapshot().window.failures) == (1, 0)


def test_rate_decision_waits_for_the_smaller_of_minimum_and_permits() -> None:
    """CircuitBreakerMetrics ``forHalfOpen``: the half-open window is COUNT_BASED of
    permittedNumberOfCallsInHalfOpenState calls, and its minimum is
    ``Math.min(minimumNumberOfCalls, slidingWindowSize)``. With 4 permits and a minimum of 2,
    trials S S close it after the second."""
    b, clock, _ = make(reference(half_open_decision="rate", minimum_calls=2))
    half_open(b, clock)
    on_success(b, permit=b.acquire().permit)
    assert b.state == HALF_OPEN
    on_success(b, permit=b.acquire().permit)
    assert b.state == CLOSED


def test_first_failure_decision_is_the_default_and_reopens_where_rate_would_close() -> None:
    """Deliberate difference, by default: ``half_open_decision="first_failure"`` reopens on
    the first failed trial, where resilience4j (``"rate"``) closes on trials S S S F at a
    50 % threshold (1 failure in 4 = 25 %)."""
    assert BreakerPolicy().half_open_decision == "first_failure"
    for decision, expected in (("first_failure", OPEN), ("rate", CLOSED)):
        b, clock, _ = make(reference(half_open_decision=decision))
        half_open(b, clock)
        for _ in range(3):
            on_success(b, permit=b.acquire().permit)
        on_error(b, RuntimeError(), permit=b.acquire().permit)
        assert b.state == expected, decision


def test_a_trial_that_never_reports_is_replaced_after_permit_timeout() -> None:
    """Javadoc of ``maxWaitDurationInHalfOpenState``: "By default CircuitBreaker will stay in
    Half Open state until minimumNumberOfCalls is completed with either success or failure."

    Deliberate difference: a permit whose outcome never comes back (an agent died mid-call)
    is handed out again after ``permit_timeout`` (30 s by default), so a lost trial cannot
    keep the breaker half-open and rejecting forever; the state stays HALF_OPEN."""
    b, clock, _ = make(reference(half_open_permits=1, permit_timeout=30))
    half_open(b, clock)
    assert b.acquire().permitted
    assert not b.acquire().permitted
    clock.advance(29.9)
    assert not b.acquire().permitted
    clock.advance(0.1)
    assert b.state == HALF_OPEN and b.acquire().permitted


def test_batched_outcomes_are_never_trials() -> None:
    """Only an outcome that carries its trial permit decides in HALF_OPEN (as in resilience4j,
    where only permitted calls report): a batched outcome (NOT_A_TRIAL) neither takes a
    permit nor closes the breaker."""
    b, clock, _ = make(reference(half_open_permits=1))
    half_open(b, clock)
    d = b.acquire()
    on_success(b, permit=NOT_A_TRIAL)
    assert b.state == HALF_OPEN and not b.acquire().permitted
    on_success(b, permit=d.permit)
    assert b.state == CLOSED


# -- recorded and ignored errors -----------------------------------------------------------------
def test_recorded_list_matches_subclasses() -> None:
    """Javadoc of ``recordExceptions``: "Any exception matching or inheriting from one of the
    list should count as a failure"; CircuitBreakerExceptionHandlingTest
    ``shouldRecordIOExceptionAsFailureAndBusinessExceptionAsSuccess``: one failure, one
    success, two buffered calls."""
    b, _, _ = make(reference(recorded=["DbError"]))
    assert on_error(b, DbTimeoutError()) == "failure"
    assert on_error(b, BusinessError("test")) == "success"
    window = b.snapshot().window
    assert (window.failures, window.calls - window.failures, window.calls) == (1, 1, 2)


def test_ignored_list_matches_subclasses() -> None:
    """Javadoc of ``ignoreExceptions``: "Any exception matching or inheriting from one of
    the list will not count as a failure nor success"; CircuitBreakerExceptionHandlingTest
    ``shouldIgnoreNumberFormatException`` (ignoring IllegalArgumentException's subclass):
    after a RuntimeException and a NumberFormatException, 1 failed, 0 successful, 1
    buffered call."""
    b, _, _ = make(reference(ignored=["ValueError"]))
    assert on_error(b, RuntimeError()) == "failure"
    assert on_error(b, NumberFormatError()) == "ignored"
    window = b.snapshot().window
    assert (window.failures, window.calls - window.failures, window.calls) == (1, 0, 1)


def test_ignoring_has_priority_over_recording() -> None:
    """Javadoc of ``recordExceptions``: "Ignoring an exception has priority over recording
    an exception. Example: recordExceptions(Throwable.class) and
    ignoreExceptions(RuntimeException.class) would capture all Errors and checked
    Exceptions, and ignore RuntimeExceptions"; of ``ignoreExceptions``:
    "ignoreExceptions(Throwable.class) and recordExceptions(Exception.class) would capture
    nothing". In Python: BaseException for Throwable, Exception for RuntimeException."""
    b, _, _ = make(reference(recorded=["BaseException"], ignored=["Exception"]))
    assert on_error(b, KeyboardInterrupt()) == "failure"
    assert on_error(b, DbTimeoutError()) == "ignored"
    b, _, _ = make(reference(recorded=["Exception"], ignored=["BaseException"]))
    assert on_error(b, DbTimeoutError()) == "ignored"
    assert on_error(b, KeyboardInterrupt()) == "ignored"


def test_an_outcome_with_only_a_class_name_still_matches_by_that_name() -> None:
    """Wire compatibility: an outcome sent without error_types (an older client, a foreign
    agent, the shell) is matched by its error class alone."""
    b, _, _ = make(reference(recorded=["DbError"]))
    assert b.record(False, 0.0, "DbError") == "failure"
    assert b.record(False, 0.0, "DbTimeoutError") == "success"
    assert b.record(False, 0.0, "DbTimeoutError", error_types=["DbTimeoutError", "DbError"]) \
        == "failure"


def test_old_and_new_outcome_shapes_on_the_wire() -> None:
    """breaker.record and five-element batch rows (the old shapes) still work; a sixth
    element or ``error_types`` carries the exception's classes, and a bad one is named."""
    conn = LocalConnection(BreakerSettings(default=BreakerPolicy(recorded=["DbError"])))
    try:
        conn.ask("breaker", "breaker.record", {"resource": "db", "ok": False, "seconds": 0.1,
                                               "error_class": "DbError"})
        conn.ask("breaker", "breaker.record", {"resource": "db", "ok": False, "seconds": 0.1,
                                               "error_class": "DbTimeoutError",
                                               "error_types": ["DbTimeoutError", "DbError"]})
        conn.ask("breaker", "breaker.record_batch", {"rows": [
            ["db", False, 0.1, "DbTimeoutError", "old row"],
            ["db", False, 0.1, "DbTimeoutError", "new row", ["DbTimeoutError", "DbError"]]]})
        stats = conn.ask("breaker", Stats("db")).resources[0]
        assert (stats.failures, stats.successes) == (3, 1)
        with pytest.raises(InvalidBody, match=r"rows\[0\].*error_types \(list of str\)"):
            conn.ask("breaker", "breaker.record_batch", {"rows": [
                ["db", False, 0.1, "X", "", "not a list"]]})
        with pytest.raises(InvalidBody, match=r"Record\.error_types\[0\]: expected a string"):
            conn.ask("breaker", "breaker.record", {"resource": "db", "ok": False,
                                                   "error_types": [1]})
        assert conn.ask("breaker", States(["db"])).states[0].state == CLOSED
    finally:
        conn.close()


def test_error_types_name_the_classes_most_derived_first() -> None:
    """The names a client sends: the exception's MRO without ``object``."""
    assert error_types(DbTimeoutError()) == ["DbTimeoutError", "DbError", "Exception",
                                             "BaseException"]
