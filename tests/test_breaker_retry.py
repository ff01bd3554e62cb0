"""Retry policy, error classification and the breaker.call loop, without a node or sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from actors.breaker import (
    BreakerPolicy,
    CallDeadlineExceeded,
    CallFailed,
    CircuitOpenError,
    RetriesExhausted,
    RetryOverride,
    RetryPolicy,
    backoff,
    classify,
    decide,
)
from actors.breaker._book import BreakerBook
from actors.breaker._caller import run_call
from actors.breaker._messages import BreakerSettings
from actors.testing import ManualClock
from messages import ActorCrashed, ActorNotFound, AskTimeout, HandlerError, InvalidBody


def test_full_jitter_is_uniform_below_the_exponential_ceiling() -> None:
    """Full jitter scales base * multiplier^(n-1), capped at max_delay, by the random draw."""
    p = RetryPolicy(base_delay=0.1, multiplier=2, max_delay=1.0, jitter="full")
    assert backoff(p, 1, 0, lambda: 1.0) == pytest.approx(0.1)
    assert backoff(p, 3, 0, lambda: 0.5) == pytest.approx(0.2)
    assert backoff(p, 10, 0, lambda: 1.0) == pytest.approx(1.0)
    assert backoff(p, 10, 0, lambda: 0.0) == 0.0


def test_no_jitter_is_plain_exponential() -> None:
    """jitter='none' gives the ceiling itself."""
    p = RetryPolicy(base_delay=0.1, multiplier=3, max_delay=5, jitter="none")
    assert [backoff(p, n, 0, lambda: 0.0) for n in (1, 2, 3)] == pytest.approx([0.1, 0.3, 0.9])


def test_decorrelated_jitter_grows_from_the_previous_delay() -> None:
    """Decorrelated jitter draws in [base, 3 * previous], capped at max_delay."""
    p = RetryPolicy(base_delay=0.1, max_delay=2.0, jitter="decorrelated")
    assert backoff(p, 1, 0.0, lambda: 1.0) == pytest.approx(0.1)
    assert backoff(p, 2, 0.5, lambda: 1.0) == pytest.approx(1.5)
    assert backoff(p, 2, 0.5, lambda: 0.0) == pytest.approx(0.1)
    assert backoff(p, 5, 10.0, lambda: 1.0) == 2.0


def test_decide_refuses_permanent_errors() -> None:
    """Only error classes listed as transient are retried."""
    d = decide(RetryPolicy(), attempt=1, error_class="invalid", started=0, now=0, deadline=None,
               previous_delay=0, random=lambda: 0.5)
    assert not d.retry and "not transient" in d.reason


def test_decide_stops_at_max_attempts() -> None:
    """The attempt that reaches max_attempts is the last."""
    p = RetryPolicy(max_attempts=3)
    kw: dict[str, Any] = {"error_class": "timeout", "started": 0, "now": 0, "deadline": None,
                              "previous_delay": 0, "random": lambda: 0.5}
    assert decide(p, attempt=2, **kw).retry
    assert not decide(p, attempt=3, **kw).retry


def test_decide_never_retries_past_the_deadline() -> None:
    """A retry whose start would be at or after the deadline is refused."""
    p = RetryPolicy(base_delay=1.0, max_delay=1.0, jitter="none", max_attempts=10)
    kw: dict[str, Any] = {"attempt": 1, "error_class": "timeout", "started": 0, "previous_delay": 0,
                              "random": lambda: 0.5}
    assert decide(p, now=5.0, deadline=6.5, **kw).retry
    d = decide(p, now=5.6, deadline=6.5, **kw)
    assert not d.retry and "deadline" in d.reason


def test_decide_respects_max_total_seconds() -> None:
    """max_total_seconds bounds the time from the first attempt."""
    p = RetryPolicy(base_delay=1.0, max_delay=1.0, jitter="none", max_attempts=10,
                    max_total_seconds=3.0)
    kw: dict[str, Any] = {"attempt": 2, "error_class": "timeout", "started": 0, "deadline": None,
                              "previous_delay": 0, "random": lambda: 0.5}
    assert decide(p, now=1.5, **kw).retry
    assert "max_total_seconds" in decide(p, now=2.0, **kw).reason


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"max_attempts": 0}, "max_attempts must be an integer >= 1"),
    ({"base_delay": -0.1}, "base_delay must be"),
    ({"max_delay": float("inf")}, "max_delay must be a finite number"),
    ({"base_delay": 2.0, "max_delay": 1.0}, "max_delay (1) must be >= base_delay (2)"),
    ({"jitter": "equal"}, "'jitter' must be in"),
    ({"multiplier": 0.5}, "multiplier must be"),
])
def test_invalid_retry_values_name_the_field(kwargs: dict[str, Any], needle: str) -> None:
    """Every invalid retry value raises ValueError naming the field."""
    with pytest.raises(ValueError) as info:
        RetryPolicy(**kwargs)
    assert needle in str(info.value)


def test_retry_override_changes_only_what_it_sets() -> None:
    """RetryOverride.apply keeps every field it leaves as None."""
    base = RetryPolicy(max_attempts=5, base_delay=0.2)
    changed = RetryOverride(max_attempts=2).apply(base)
    assert changed.max_attempts == 2 and changed.base_delay == 0.2
    assert RetryOverride().apply(base) is base
    with pytest.raises(ValueError, match="max_attempts"):
        RetryOverride(max_attempts=0).apply(base)


def test_classify_maps_wire_errors_to_classes() -> None:
    """Timeouts, crashes, missing actors and handler exceptions get their classes."""
    assert classify(AskTimeout("slow")) == "timeout"
    assert classify(TimeoutError()) == "timeout"
    assert classify(ActorCrashed("gone")) == "crashed"
    assert classify(ActorNotFound("who")) == "not_found"
    assert classify(InvalidBody("bad")) == "invalid"
    assert classify(ConnectionRefusedError()) == "connection"
    assert classify(HandlerError("x", details={"exception": "OperationalError"})) == "OperationalError"
    assert classify(HandlerError("x", details={"exception": "TimeoutError"})) == "timeout"
    assert classify(KeyError("k")) == "KeyError"


def test_classify_uses_the_callees_own_verdict() -> None:
    """An exception with a boolean ``transient`` attribute is classified by it."""
    exc = RuntimeError("flaky")
    exc.transient = True  # type: ignore[attr-defined]
    assert classify(exc) == "transient"
    exc.transient = False  # type: ignore[attr-defined]
    assert classify(exc) == "permanent"


# -- the breaker.call loop ---------------------------------------------------------------------
def book_and_clock(**policy: Any) -> tuple[BreakerBook, ManualClock]:
    clock = ManualClock(50.0)
    settings = BreakerSettings(default=BreakerPolicy(**policy))
    return BreakerBook(settings, clock, lambda: 0.0), clock


class Scripted:
    """An ask that plays back outcomes, each taking ``cost`` seconds of the fake clock."""

    def __init__(self, clock: ManualClock, outcomes: list[Any], cost: float = 0.01) -> None:
        self.clock, self.outcomes, self.cost = clock, list(outcomes), cost
        self.timeouts: list[float] = []

    def __call__(self, timeout: float) -> Any:
        self.timeouts.append(timeout)
        self.clock.now += self.cost
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def call(book: BreakerBook, clock: ManualClock, ask: Scripted, policy: RetryPolicy,
         budget: float = 10.0) -> Any:
    sleeps: list[float] = []

    def sleep(seconds: float) -> bool:
        sleeps.append(seconds)
        clock.now += seconds
        return True

    first = book.acquire("db")
    return run_call(book, "db", ask, policy, first=first, deadline=clock() + budget, clock=clock,
                    sleep=sleep, random=lambda: 1.0), sleeps


def test_transient_failures_are_retried_until_success() -> None:
    """Two timeouts then a reply: the reply comes back, every attempt is recorded."""
    book, clock = book_and_clock()
    ask = Scripted(clock, [AskTimeout("t"), ActorCrashed("c"), {"rows": 1}])
    value, sleeps = call(book, clock, ask, RetryPolicy(jitter="none", base_delay=0.1))
    assert value == {"rows": 1}
    assert sleeps == pytest.approx([0.1, 0.2])
    stats = book.stats("db")[0]
    assert (stats.calls, stats.failures, stats.successes, stats.recovered) == (3, 2, 1, 2)
    assert stats.errors_by_class == {"timeout": 1, "crashed": 1}


def test_each_attempt_gets_the_remaining_budget() -> None:
    """The forwarded ask's timeout is what is left of the call's budget."""
    book, clock = book_and_clock()
    ask = Scripted(clock, [AskTimeout("t"), "ok"], cost=1.0)
    call(book, clock, ask, RetryPolicy(jitter="none", base_delay=0.5), budget=5.0)
    assert ask.timeouts == pytest.approx([5.0, 3.5])


def test_permanent_error_is_not_retried() -> None:
    """A handler error of a non-transient class fails at once with CallFailed."""
    book, clock = book_and_clock()
    ask = Scripted(clock, [HandlerError("boom", details={"exception": "ValueError"}), "never"])
    with pytest.raises(CallFailed, match="class 'ValueError', not retried"):
        call(book, clock, ask, RetryPolicy())
    assert len(ask.outcomes) == 1


def test_retries_exhausted_names_the_last_cause() -> None:
    """After max_attempts transient failures the error says how many and the last cause."""
    book, clock = book_and_clock()
    ask = Scripted(clock, [ActorCrashed("c1"), ActorCrashed("c2")])
    with pytest.raises(RetriesExhausted) as info:
        call(book, clock, ask, RetryPolicy(max_attempts=2))
    assert info.value.attempts == 2
    assert "last cause: crashed: ActorCrashed: c2" in str(info.value)


def test_timeout_at_the_deadline_is_deadline_exceeded() -> None:
    """A timeout that uses up the budget raises CallDeadlineExceeded, not a retry."""
    book, clock = book_and_clock()
    ask = Scripted(clock, [AskTimeout("t")], cost=2.0)
    with pytest.raises(CallDeadlineExceeded, match="time budget"):
        call(book, clock, ask, RetryPolicy(), budget=2.0)


def test_breaker_opening_mid_call_stops_the_retries() -> None:
    """If the failures open the breaker, the next retry is rejected with CircuitOpenError."""
    book, clock = book_and_clock(consecutive_failures=2, open_seconds=30)
    ask = Scripted(clock, [AskTimeout("t"), AskTimeout("t"), "never"])
    with pytest.raises(CircuitOpenError, match="circuit 'db' is open"):
        call(book, clock, ask, RetryPolicy(max_attempts=5, jitter="none"))
    assert book.state("db").state == "open"


def test_many_agents_at_once_get_exactly_the_half_open_permits() -> None:
    """16 threads racing for trial permits get exactly half_open_permits of them in total."""
    import threading

    book, clock = book_and_clock(consecutive_failures=1, open_seconds=1, half_open_permits=3)
    transitions: list[str] = []
    book._listener = lambda t: transitions.append(t.to_state)
    book.record("db", False, 0.1, "timeout")
    clock.now += 1
    granted: list[int] = []
    start = threading.Barrier(16)

    def agent() -> None:
        start.wait(5)
        for _ in range(50):
            d = book.acquire("db")
            if d.permitted:
                granted.append(d.permit)

    threads = [threading.Thread(target=agent) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(granted) == 3 and len(set(granted)) == 3
    assert transitions == ["open", "half_open"]


def test_many_agents_recording_failures_open_the_breaker_once() -> None:
    """Concurrent failures from many threads cause exactly one CLOSED -> OPEN transition."""
    import threading

    book, _ = book_and_clock(window_size=50, minimum_calls=10, failure_rate=0.5)
    transitions: list[str] = []
    book._listener = lambda t: transitions.append(t.to_state)
    start = threading.Barrier(8)

    def agent() -> None:
        start.wait(5)
        for _ in range(100):
            book.record("db", False, 0.01, "timeout")

    threads = [threading.Thread(target=agent) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert transitions == ["open"]
    assert book.stats("db")[0].failures == 800
