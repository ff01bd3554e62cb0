"""The breaker state machine, windows and policies, driven by a hand-moved clock."""

from __future__ import annotations

import math

import pytest

from actors.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Breaker,
    BreakerPolicy,
    CountWindow,
    TimeWindow,
    Transition,
)
from actors.testing import ManualClock


def make(**policy: object) -> tuple[Breaker, ManualClock, list[Transition]]:
    clock = ManualClock()
    seen: list[Transition] = []
    return Breaker("db", BreakerPolicy(**policy), clock, seen.append), clock, seen  # type: ignore[arg-type]


def fail(b: Breaker, n: int = 1, seconds: float = 0.01, error_class: str = "timeout") -> None:
    for _ in range(n):
        b.record(False, seconds, error_class)


def ok(b: Breaker, n: int = 1, seconds: float = 0.01) -> None:
    for _ in range(n):
        b.record(True, seconds)


# -- CLOSED -> OPEN --------------------------------------------------------------------
def test_count_window_opens_at_failure_rate_once_minimum_calls_reached() -> None:
    """Below minimum_calls nothing opens; reaching it at >= the rate opens."""
    b, _, seen = make(window_size=10, minimum_calls=4, failure_rate=0.5)
    fail(b, 3)
    assert b.state == CLOSED
    ok(b)
    assert b.state == OPEN
    assert seen[-1].from_state == CLOSED and seen[-1].to_state == OPEN
    assert "failure rate 75%" in seen[-1].reason


def test_count_window_forgets_calls_older_than_its_size() -> None:
    """The ring holds only the last window_size outcomes."""
    b, _, _ = make(window_size=4, minimum_calls=4, failure_rate=0.75)
    fail(b, 2)
    ok(b, 4)          # the two failures fall out of the ring
    fail(b, 2)
    assert b.state == CLOSED
    assert b.snapshot().window.failures == 2 and b.snapshot().window.calls == 4


def test_time_window_opens_on_failure_rate_over_recent_seconds() -> None:
    """A time window counts the calls of its last window_size seconds only."""
    b, clock, _ = make(window="time", window_size=10, minimum_calls=3, failure_rate=0.6)
    fail(b, 2)
    clock.advance(11)  # those two are now out of the window
    ok(b)
    fail(b)
    assert b.state == CLOSED
    fail(b)
    assert b.state == OPEN


def test_time_window_evicts_by_bucket() -> None:
    """TimeWindow drops whole buckets as time passes and keeps running totals."""
    w = TimeWindow(10)
    w.add(True, False, 0.0)
    w.add(False, True, 5.0)
    assert w.totals(5.0).calls == 2
    assert w.totals(10.5).calls == 1 and w.totals(10.5).slow == 1
    assert w.totals(100.0).calls == 0


def test_count_window_rates() -> None:
    """CountWindow reports failure and slow rates of what it holds."""
    w = CountWindow(4)
    for failed, slow in [(True, False), (False, True), (False, False), (True, True)]:
        w.add(failed, slow, 0.0)
    t = w.totals(0.0)
    assert (t.calls, t.failures, t.slow) == (4, 2, 2)
    assert t.failure_rate == 0.5 and t.slow_rate == 0.5


def test_slow_call_rate_opens() -> None:
    """Calls over slow_call_seconds count as slow; their rate can open the breaker."""
    b, _, seen = make(window_size=5, minimum_calls=5, slow_call_rate=0.6, slow_call_seconds=1.0)
    ok(b, 2, seconds=0.1)
    ok(b, 2, seconds=1.5)
    assert b.state == CLOSED
    ok(b, 1, seconds=2.5)
    assert b.state == OPEN
    assert "slow-call rate 60%" in seen[-1].reason


def test_consecutive_failures_open_and_a_success_resets_the_count() -> None:
    """N failures in a row open (pybreaker style); a success in between starts over."""
    b, _, seen = make(consecutive_failures=3, minimum_calls=100)
    fail(b, 2)
    ok(b)
    fail(b, 2)
    assert b.state == CLOSED
    fail(b)
    assert b.state == OPEN
    assert seen[-1].reason == "3 consecutive failures"


def test_ignored_errors_do_not_count() -> None:
    """An error class in ``ignored`` is neither success nor failure."""
    b, _, _ = make(consecutive_failures=2, ignored=["not_found"])
    assert b.record(False, 0.1, "not_found") == "ignored"
    b.record(False, 0.1, "not_found")
    assert b.state == CLOSED
    assert b.snapshot().window.calls == 0


def test_recorded_list_makes_other_errors_successes() -> None:
    """With ``recorded`` set, only those error classes are failures."""
    b, _, _ = make(consecutive_failures=2, recorded=["timeout"])
    assert b.record(False, 0.1, "invalid") == "success"
    assert b.record(False, 0.1, "timeout") == "failure"
    assert b.state == CLOSED


# -- OPEN -> HALF_OPEN -> CLOSED / OPEN ----------------------------------------------------
def test_open_rejects_with_time_until_retry() -> None:
    """While OPEN every acquire is rejected with the remaining wait."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=10)
    fail(b)
    clock.advance(4)
    d = b.acquire()
    assert not d.permitted and d.state == OPEN
    assert d.retry_after == pytest.approx(6)
    assert b.snapshot().rejected == 1


def test_open_turns_half_open_when_the_wait_is_over() -> None:
    """After open_seconds the next look finds HALF_OPEN."""
    b, clock, seen = make(consecutive_failures=1, open_seconds=10)
    fail(b)
    clock.advance(10)
    assert b.state == HALF_OPEN
    assert seen[-1].reason == "open wait is over"


def test_half_open_permits_are_bounded() -> None:
    """HALF_OPEN hands out exactly half_open_permits trial permits."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=1, half_open_permits=2)
    fail(b)
    clock.advance(1)
    first, second, third = b.acquire(), b.acquire(), b.acquire()
    assert first.permitted and second.permitted and not third.permitted
    assert first.permit != second.permit and first.permit > 0
    assert third.state == HALF_OPEN


def test_half_open_successes_close() -> None:
    """As many successful trials as permits close the breaker."""
    b, clock, seen = make(consecutive_failures=1, open_seconds=1, half_open_permits=2)
    fail(b)
    clock.advance(1)
    p1, p2 = b.acquire().permit, b.acquire().permit
    b.record(True, 0.01, permit=p1)
    assert b.state == HALF_OPEN
    b.record(True, 0.01, permit=p2)
    assert b.state == CLOSED
    assert seen[-1].reason == "2 half-open trial calls succeeded"


def test_half_open_failure_reopens_with_growing_wait() -> None:
    """A failed trial reopens; open_multiplier grows each wait up to open_max_seconds."""
    b, clock, seen = make(consecutive_failures=1, open_seconds=2, open_multiplier=3,
                          open_max_seconds=10, half_open_permits=1)
    fail(b)
    assert seen[-1].open_seconds == 2
    clock.advance(2)
    b.record(False, 0.01, "timeout", permit=b.acquire().permit)
    assert b.state == OPEN and seen[-1].open_seconds == 6
    clock.advance(6)
    b.record(False, 0.01, "timeout", permit=b.acquire().permit)
    assert seen[-1].open_seconds == 10
    clock.advance(10)
    b.record(True, 0.01, permit=b.acquire().permit)
    assert b.state == CLOSED
    fail(b)
    assert seen[-1].open_seconds == 2  # closing reset the growth


def test_slow_trial_reopens() -> None:
    """A trial slower than slow_call_seconds counts as a failed trial."""
    b, clock, seen = make(consecutive_failures=1, open_seconds=1, half_open_permits=1,
                          slow_call_seconds=0.5)
    fail(b)
    clock.advance(1)
    b.record(True, 0.7, permit=b.acquire().permit)
    assert b.state == OPEN and "slow" in seen[-1].reason


def test_outcome_without_permit_takes_the_oldest_permit() -> None:
    """A half-open record with permit 0 answers the oldest outstanding permit."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=1, half_open_permits=1)
    fail(b)
    clock.advance(1)
    assert b.acquire().permitted
    b.record(True, 0.01)
    assert b.state == CLOSED


def test_half_open_record_without_outstanding_permit_changes_nothing() -> None:
    """Late non-trial outcomes in HALF_OPEN do not decide anything."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=1, half_open_permits=1)
    fail(b)
    clock.advance(1)
    assert b.state == HALF_OPEN
    b.record(False, 0.01, "timeout")
    assert b.state == HALF_OPEN


def test_unanswered_permits_are_reclaimed_after_permit_timeout() -> None:
    """A permit whose outcome never came back is reusable after permit_timeout."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=1, half_open_permits=1, permit_timeout=5)
    fail(b)
    clock.advance(1)
    assert b.acquire().permitted
    rejected = b.acquire()
    assert not rejected.permitted and rejected.retry_after == pytest.approx(5)
    clock.advance(5)
    assert b.acquire().permitted


def test_outcomes_in_open_are_late_and_change_nothing() -> None:
    """A record arriving while OPEN leaves the state and its wait alone."""
    b, _clock, _ = make(consecutive_failures=1, open_seconds=10)
    fail(b)
    ok(b, 5)
    assert b.state == OPEN and b.retry_after() == pytest.approx(10)


# -- manual control ---------------------------------------------------------------------------
def test_force_open_rejects_forever_until_reset() -> None:
    """force_open pins OPEN regardless of time; reset returns to a fresh CLOSED."""
    b, clock, seen = make()
    b.force_open("maintenance")
    clock.advance(1e6)
    assert b.state == OPEN and not b.acquire().permitted
    assert math.isinf(b.retry_after())
    assert seen[-1].forced and seen[-1].reason == "maintenance"
    b.reset()
    assert b.state == CLOSED and not b.forced and b.acquire().permitted


def test_force_closed_never_opens() -> None:
    """force_closed lets everything through and ignores every threshold."""
    b, _, _ = make(consecutive_failures=1)
    b.force_closed()
    fail(b, 50)
    assert b.state == CLOSED and b.forced
    assert b.snapshot().consecutive_failures == 50


def test_force_closed_from_open() -> None:
    """force_closed leaves OPEN at once."""
    b, _, seen = make(consecutive_failures=1)
    fail(b)
    b.force_closed("operator")
    assert b.state == CLOSED and seen[-1].to_state == CLOSED and seen[-1].forced


def test_time_in_each_state() -> None:
    """The snapshot adds up the seconds spent in each state, including the current one."""
    b, clock, _ = make(consecutive_failures=1, open_seconds=3, half_open_permits=1)
    clock.advance(5)
    fail(b)
    clock.advance(3)
    assert b.state == HALF_OPEN
    clock.advance(2)
    b.record(True, 0.01, permit=b.acquire().permit)
    clock.advance(1)
    assert b.snapshot().time_in_state == {CLOSED: 6.0, OPEN: 3.0, HALF_OPEN: 2.0}


def test_set_policy_starts_a_new_window() -> None:
    """Switching the policy keeps the state and empties the window."""
    b, _, _ = make(window_size=10, minimum_calls=10)
    fail(b, 5)
    b.set_policy(BreakerPolicy(window="time", window_size=30, minimum_calls=2))
    assert b.snapshot().window.calls == 0 and b.state == CLOSED
    fail(b, 2)
    assert b.state == OPEN


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "needle"), [
    ("failure_rate", 0, "failure_rate must be a finite number > 0 and <= 1"),
    ("failure_rate", 1.5, "failure_rate must be"),
    ("slow_call_rate", float("nan"), "slow_call_rate must be"),
    ("minimum_calls", 0, "minimum_calls must be an integer >= 1"),
    ("half_open_permits", True, "half_open_permits must be an integer"),
    ("window", "sliding", "'window' must be in"),
    ("window_size", 2.5, "whole number of calls"),
    ("open_seconds", -1, "open_seconds must be"),
    ("open_multiplier", 0.5, "open_multiplier must be a finite number >= 1"),
    ("open_max_seconds", 1, "open_max_seconds (1) must be >= open_seconds (30)"),
    ("ignored", ["", "x"], "ignored must be a list of error class names"),
])
def test_invalid_policy_values_name_the_field(field: str, value: object, needle: str) -> None:
    """Every invalid policy value raises ValueError naming the field."""
    with pytest.raises(ValueError) as info:
        BreakerPolicy(**{field: value})  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_negative_or_nan_seconds_refused() -> None:
    """record refuses a negative or NaN duration."""
    b, _, _ = make()
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="seconds must be a number >= 0"):
            b.record(True, bad)
