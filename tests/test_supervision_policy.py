"""Pure supervision policy, checked with an injected clock and a seeded random source."""

from __future__ import annotations

import random

import pytest

from supervisor import Backoff, BackoffState, RestartIntensity, restart_plan, should_restart

ABNORMAL = ["exit code 3", "killed by SIGKILL", "killed by SIGSEGV", "hung: no heartbeat",
            "restart_directive", "start_error"]


@pytest.mark.parametrize("cause", ["normal", "shutdown", *ABNORMAL])
def test_permanent_always_restarts(cause):
    """A permanent child restarts after any exit (OTP)."""
    assert should_restart("permanent", cause)


@pytest.mark.parametrize("cause", ABNORMAL)
def test_transient_abnormal_exit_restarts(cause):
    """A transient child restarts after an abnormal exit."""
    assert should_restart("transient", cause)


@pytest.mark.parametrize("cause", ["normal", "shutdown"])
def test_transient_normal_exit_does_not_restart(cause):
    """A transient child that exits normally stays down."""
    assert not should_restart("transient", cause)


@pytest.mark.parametrize("cause", ["normal", *ABNORMAL])
def test_temporary_never_restarts(cause):
    """A temporary child is never restarted."""
    assert not should_restart("temporary", cause)


def test_stop_directive_is_never_restarted():
    """on_error: stop keeps even a permanent child down."""
    assert not should_restart("permanent", "stop_directive")


@pytest.mark.parametrize(("strategy", "failed", "expected"), [
    ("one_for_one", "b", ["b"]),
    ("one_for_all", "b", ["a", "b", "c"]),
    ("rest_for_one", "b", ["b", "c"]),
    ("rest_for_one", "a", ["a", "b", "c"]),
    ("rest_for_one", "c", ["c"]),
])
def test_restart_plan(strategy, failed, expected):
    """Which children a failure takes down and restarts, in start order."""
    assert restart_plan(strategy, ["a", "b", "c"], failed) == expected


def test_intensity_defaults_follow_otp():
    """One restart within five seconds is allowed; the second is too many."""
    intensity = RestartIntensity(1, 5.0)
    assert not intensity.record(100.0)
    assert intensity.record(104.9)


def test_intensity_period_slides():
    """Restarts older than max_seconds no longer count."""
    intensity = RestartIntensity(2, 5.0)
    assert not intensity.record(0.0)
    assert not intensity.record(1.0)
    assert not intensity.record(5.5)  # the restart at 0.0 has left the window
    assert intensity.count(5.5) == 2
    assert intensity.record(5.9)


def test_intensity_period_includes_its_boundary():
    """OTP's add_restart keeps a restart R while R >= Now - Period: one exactly max_seconds
    old still counts (intensity 1 in 5 s: restarts at 100 and 105 are two too many)."""
    intensity = RestartIntensity(1, 5.0)
    assert not intensity.record(100.0)
    assert intensity.count(105.0) == 1
    assert intensity.record(105.0)


def test_zero_max_restarts_gives_up_at_once():
    """max_restarts=0: the first failure escalates."""
    assert RestartIntensity(0, 5.0).record(0.0)


def test_backoff_grows_caps_and_jitters():
    """Delays double from initial, stay within ±jitter, and never pass max."""
    state = BackoffState(Backoff(initial=0.1, factor=2, max=1.0, jitter=0.2, reset_after=60),
                         random.Random(7))
    delays = [state.next_delay(now=float(i), healthy_since=None) for i in range(6)]
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.8 - 1e-9 <= delay <= min(1.0, base * 1.2) + 1e-9
    assert delays[-1] <= 1.0


def test_backoff_resets_after_good_health():
    """After reset_after seconds of health, the next delay starts small again."""
    state = BackoffState(Backoff(initial=0.1, factor=2, max=10, jitter=0, reset_after=30),
                         random.Random(1))
    assert [state.next_delay(0.0, None) for _ in range(3)] == [0.1, 0.2, 0.4]
    assert state.next_delay(now=100.0, healthy_since=69.0) == pytest.approx(0.1)


def test_no_backoff_by_default():
    """Without an initial delay, restarts are immediate (as in OTP)."""
    assert BackoffState(Backoff()).next_delay(0.0, None) == 0.0


def test_manual_clock_moves_only_forward():
    """The shared test clock advances by hand and refuses to go back or jump by NaN."""
    from actors.testing import ManualClock

    clock = ManualClock(10.0)
    assert clock() == 10.0 and clock.advance(2.5) == 12.5 and clock() == 12.5
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="seconds"):
        clock.advance(float("nan"))


def test_hang_cause_silence_past_interval_times_liveness():
    """Silent longer than interval × liveness is hung (the Paranoid Pirate's expiry); up to it is not."""
    from supervisor._policy import hang_cause
    rule = {"interval": 0.5, "liveness": 3, "max_busy": None}
    assert hang_cause(101.5, 100.0, 0.0, **rule) is None
    cause = hang_cause(101.6, 100.0, 0.0, **rule)
    assert cause is not None and cause.startswith("hung: no heartbeat for 1.60 s (expiry 1.5 s)")


def test_hang_cause_one_handler_past_max_busy():
    """A heartbeat that says one handler ran past max_busy is hung; without max_busy it is not."""
    from supervisor._policy import hang_cause
    assert hang_cause(100.1, 100.0, 2.5, interval=1.0, liveness=3, max_busy=2.0) == \
        "hung: one handler busy for 2.50 s (max_busy 2 s)"
    assert hang_cause(100.1, 100.0, 2.5, interval=1.0, liveness=3, max_busy=None) is None


def test_timers_run_due_callbacks_in_time_then_set_order():
    """Due timers run earliest first, ties in the order set; later ones wait and bound the poll."""
    import time

    from supervisor._timers import Timers
    timers, ran = Timers(), []
    assert timers.wait(0.05) == 0.05
    timers.call_later(0.0, lambda: ran.append("a"))
    timers.call_later(0.0, lambda: ran.append("b"))
    timers.call_later(3600.0, lambda: ran.append("later"))
    assert timers.wait(0.05) == 0.0
    timers.run_due(time.monotonic())
    assert ran == ["a", "b"]
    assert 0.0 < timers.wait(0.05) <= 0.05
    timers.run_due(time.monotonic() + 3600.0)
    assert ran == ["a", "b", "later"]
