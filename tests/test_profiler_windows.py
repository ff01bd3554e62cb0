"""Windows, statistics and trends of the profile store, on a virtual clock."""

from __future__ import annotations

import pytest

from actors.profiler import (
    Histogram,
    Policy,
    ProfileStore,
    Ring,
    UnknownOperation,
    stats_of,
    trend_of,
    window_label,
)


def hist(*values: float, ok: bool = True) -> Histogram:
    """A histogram of the given durations."""
    h = Histogram()
    for v in values:
        h.record(v, ok)
    return h


def store(now: float = 0.0, **policy: object) -> ProfileStore:
    """A store with the default windows (10 s, 1 min, 5 min) and 10 slots each."""
    return ProfileStore([10.0, 60.0, 300.0], 10, 7, Policy(**policy),  # type: ignore[arg-type]
                        max_ops=100, trend_tolerance=0.2, now=now)


def test_window_labels() -> None:
    """Window lengths get short names; 'all' is always there."""
    assert [window_label(w) for w in (10, 60, 300, 90, 3600, 2.5)] == \
        ["10s", "1m", "5m", "90s", "1h", "2.5s"]
    assert store().labels == ["10s", "1m", "5m", "all"]


def test_ring_current_and_previous_windows() -> None:
    """A 10 s ring keeps the current 10 s and the 10 s before; older slots fall out."""
    ring = Ring(10.0, 10, 7)
    for t in range(30):
        ring.add(hist(0.001 * (t + 1)), float(t))
    assert ring.current(29.5).count == 10 and ring.current(29.5).min == pytest.approx(0.021)
    assert ring.previous(29.5).count == 10 and ring.previous(29.5).max == pytest.approx(0.020)
    assert ring.current(45.0).count == 0


def test_samples_leave_the_short_window_but_stay_in_longer_ones() -> None:
    """After 30 s a sample is out of 10s, still in 1m, 5m and all."""
    s = store()
    s.add("db.query", hist(0.01, 0.02, 0.03), 1.0)
    counts = {lb: s.stats("db.query", lb, 31.0).count for lb in s.labels}
    assert counts == {"10s": 0, "1m": 3, "5m": 3, "all": 3}


def test_rate_divides_by_the_time_covered() -> None:
    """100 samples a second for 20 s: the 10 s window's rate is about 100/s."""
    s = store()
    for t in range(20):
        s.add("op", hist(*[0.001] * 100), float(t) + 0.5)
    stats = s.stats("op", "10s", 20.0)
    assert stats.rate == pytest.approx(100.0, rel=0.12)
    assert s.stats("op", "all", 20.0).rate == pytest.approx(2000 / 19.5)


def test_report_has_every_window_and_trend() -> None:
    """A report names each op with stats per window, error counts and trends."""
    s = store(min_samples=1)
    s.add("a", hist(0.01, 0.01, ok=False), 1.0)
    report = s.report(None, None, 2.0)
    assert set(report["ops"]["a"]["windows"]) == {"10s", "1m", "5m", "all"}
    all_ = report["ops"]["a"]["windows"]["all"]
    assert all_["errors"] == 2 and all_["error_rate"] == 1.0 and all_["count"] == 2
    assert report["ops"]["a"]["trends"]["10s"]["direction"] == "new"


def test_unknown_op_and_window_are_named() -> None:
    """Querying an unknown op or window says what is known."""
    s = store()
    s.add("known", hist(0.1), 0.0)
    with pytest.raises(UnknownOperation, match=r"'missing'.*known"):
        s.report("missing", None, 1.0)
    with pytest.raises(ValueError, match="window: expected one of 10s, 1m, 5m, all, got '2h'"):
        s.report(None, "2h", 1.0)


def test_trend_slower_when_latency_doubles_window_over_window() -> None:
    """10 ms for one minute then 25 ms the next: the 1m trend says slower, ratio 2.5."""
    s = store(min_samples=5)
    for t in range(120):
        s.add("op", hist(0.010 if t < 60 else 0.025), float(t))
    trend = s.trends("op", 119.5)["1m"]
    assert trend["direction"] == "slower"
    assert trend["p50_ratio"] == pytest.approx(2.5, rel=0.01)


def test_trend_directions() -> None:
    """steady, faster, new, gone and idle follow the counts and ratios."""
    fast, slow, none = (stats_of(hist(*[v] * 30), 10.0) for v in (0.01, 0.05, 0.01))
    empty = stats_of(Histogram(), 10.0)
    assert trend_of(fast, none, min_samples=5).direction == "steady"
    assert trend_of(fast, slow, min_samples=5).direction == "faster"
    assert trend_of(fast, empty, min_samples=5).direction == "new"
    assert trend_of(empty, fast, min_samples=5).direction == "gone"
    assert trend_of(empty, empty, min_samples=5).direction == "idle"


def test_max_ops_bounds_memory() -> None:
    """Ops past max_ops are refused and counted, existing ones still record."""
    s = ProfileStore([10.0], 5, 7, Policy(), max_ops=2, trend_tolerance=0.2, now=0.0)
    assert s.add("a", hist(0.1), 0.0) and s.add("b", hist(0.1), 0.0)
    assert not s.add("c", hist(0.1), 0.0)
    assert s.add("a", hist(0.1), 0.0)
    assert s.refused_ops == 1 and sorted(s.ops) == ["a", "b"]


def test_reshape_keeps_totals() -> None:
    """New windows start empty; the since-start total survives."""
    s = store()
    s.add("a", hist(0.1, 0.2), 0.0)
    s.reshape([5.0, 30.0])
    assert s.labels == ["5s", "30s", "all"]
    assert s.stats("a", "5s", 1.0).count == 0 and s.stats("a", "all", 1.0).count == 2


def test_reset_one_and_all() -> None:
    """reset forgets one op (unknown: refused) or every op."""
    s = store()
    s.add("a", hist(0.1), 0.0)
    s.add("b", hist(0.1), 0.0)
    assert s.reset("a") == 1 and sorted(s.ops) == ["b"]
    with pytest.raises(UnknownOperation):
        s.reset("a")
    assert s.reset(None) == 1 and not s.ops
