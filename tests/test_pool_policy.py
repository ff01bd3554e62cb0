"""Pure pool policy: state transitions, backoff, lease choice, sizing, idempotency guesses."""

from __future__ import annotations

import attrs
import pytest

import actors.pool
from actors.pool import Backoff, ConnState, PoolLoad, decide_size
from actors.pool._policy import (
    DEGRADED_LIMIT,
    choose_least_busy,
    decayed_load,
    guess_idempotent_command,
    guess_idempotent_sql,
    next_state,
    percentiles,
)


@attrs.define
class C:
    name: str
    state: ConnState = ConnState.HEALTHY
    load: float = 0.0
    last_used: float = 0.0


def load(**kw: int | float) -> PoolLoad:
    base: dict[str, int | float] = {"size": 2, "min_size": 1, "max_size": 5, "idle": 0,
                                    "waiting": 0, "connecting": 0, "peak_in_use": 2,
                                    "window": 0.0, "shrink_after": 60.0}
    base.update(kw)
    return PoolLoad(**base)  # type: ignore[arg-type]


def test_public_names_are_sorted_and_exported_once():
    """The package's __all__ is sorted, unique, and every name resolves."""
    names = actors.pool.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(hasattr(actors.pool, n) for n in names)


@pytest.mark.parametrize(("state", "event", "row", "expected"), [
    (ConnState.HEALTHY, "ok", 0, ConnState.HEALTHY),
    (ConnState.HEALTHY, "slow", 0, ConnState.DEGRADED),
    (ConnState.HEALTHY, "transient_error", 1, ConnState.DEGRADED),
    (ConnState.DEGRADED, "ok", 0, ConnState.HEALTHY),
    (ConnState.DEGRADED, "transient_error", DEGRADED_LIMIT, ConnState.FAILED),
    (ConnState.HEALTHY, "broken", 0, ConnState.FAILED),
    (ConnState.FAILED, "ok", 0, ConnState.FAILED),
    (ConnState.FAILED, "reconnecting", 0, ConnState.RECOVERING),
    (ConnState.RECOVERING, "ok", 0, ConnState.RECOVERING),
    (ConnState.RECOVERING, "reconnected", 0, ConnState.HEALTHY),
])
def test_state_transitions(state, event, row, expected):
    """Each (state, event) pair leads to the documented state."""
    assert next_state(state, event, row) is expected


def test_backoff_doubles_with_equal_jitter_and_caps():
    """Delay n lies in [d/2, d] with d = initial*2^(n-1), never above the cap."""
    b = Backoff(initial=0.1, maximum=1.0)
    assert b.delay(0, lambda: 1.0) == 0.0
    assert b.delay(1, lambda: 0.0) == pytest.approx(0.05)
    assert b.delay(1, lambda: 1.0) == pytest.approx(0.1)
    assert b.delay(3, lambda: 1.0) == pytest.approx(0.4)
    assert b.delay(50, lambda: 1.0) == pytest.approx(1.0)
    assert b.delay(50, lambda: 0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_backoff_refuses_bad_values_naming_them(bad):
    """A zero, negative, NaN or infinite backoff is refused with its name."""
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=bad)


def test_least_busy_prefers_healthy_then_low_load_then_most_recent():
    """HEALTHY beats DEGRADED; then the lowest load; then the most recently used."""
    a = C("a", ConnState.DEGRADED, load=0.0)
    b = C("b", load=0.5, last_used=1.0)
    c = C("c", load=0.2, last_used=5.0)
    d = C("d", load=0.2, last_used=3.0)
    assert choose_least_busy([a, b, c, d]) is c
    assert choose_least_busy([a]) is a
    assert choose_least_busy([C("x", ConnState.FAILED), C("y", ConnState.RECOVERING)]) is None


def test_decayed_load_halves_per_half_life():
    """Old busy time halves every half-life; new busy time adds in full."""
    assert decayed_load(1.0, 0.0, 1.0) == pytest.approx(0.5)
    assert decayed_load(1.0, 0.25, 2.0) == pytest.approx(0.5)
    assert decayed_load(0.0, 0.1, -3.0) == pytest.approx(0.1)


def test_sizing_refills_below_min():
    """Below min_size the pool grows back, saying so."""
    d = decide_size(load(size=0, min_size=2))
    assert d.change == 2 and "below min_size 2" in d.reason


def test_sizing_grows_for_queued_requests_within_max():
    """Queued requests not already covered by connects in flight open connections, up to max."""
    assert decide_size(load(size=2, waiting=3, connecting=1)).change == 2
    assert decide_size(load(size=4, waiting=9)).change == 1
    assert decide_size(load(size=5, waiting=9)).change == 0
    assert "3 request(s) queued" in decide_size(load(waiting=3)).reason


def test_sizing_shrinks_to_peak_after_quiet_window():
    """After shrink_after seconds, idle connections above the window's peak are closed."""
    d = decide_size(load(size=5, idle=4, peak_in_use=2, window=61.0))
    assert d.change == -3 and "at most 2 of 5" in d.reason
    assert decide_size(load(size=5, idle=4, peak_in_use=2, window=59.0)).change == 0
    assert decide_size(load(size=5, idle=1, peak_in_use=0, window=61.0)).change == -1
    assert decide_size(load(size=1, idle=1, peak_in_use=0, window=61.0)).change == 0


def test_percentiles_nearest_rank():
    """Nearest-rank percentiles; zeros for no samples."""
    samples = [float(i) for i in range(1, 101)]
    assert percentiles(samples, (50, 90, 99, 100)) == [50.0, 90.0, 99.0, 100.0]
    assert percentiles([], (50,)) == [0.0]


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT 1", True),
    ("  select * from t", True),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", False),
    ("select nextval('s')", False),
    ("SELECT * FROM t FOR UPDATE", False),
    ("INSERT INTO t VALUES (1)", False),
    ("show server_version", True),
])
def test_guess_idempotent_sql(sql, expected):
    """Only plain reads are retried when the message does not say."""
    assert guess_idempotent_sql(sql) is expected


def test_guess_idempotent_command():
    """Reads and repeatable writes are retried; counters are not."""
    assert guess_idempotent_command(["get", "k"]) is True
    assert guess_idempotent_command([b"SET", b"k", b"v"]) is True
    assert guess_idempotent_command(["INCR", "k"]) is False
    assert guess_idempotent_command([]) is False


def test_sizing_trims_above_max_after_a_resize():
    """When max_size drops below the size, idle connections close down to it."""
    d = decide_size(load(size=5, max_size=3, idle=4))
    assert d.change == -2 and "above max_size 3" in d.reason
