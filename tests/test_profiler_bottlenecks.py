"""Bottleneck detection: the pure checks, and a synthetic slowdown on a virtual clock."""

from __future__ import annotations

import pytest

from actors.profiler import (
    Histogram,
    Policy,
    ProfileStore,
    detect,
    jumped,
    largest_share,
    over_threshold,
    stats_of,
)
from actors.testing import ManualClock


def stats(value: float, n: int = 100, window: float = 10.0):  # type: ignore[no-untyped-def]
    """Statistics of ``n`` samples all equal to ``value``."""
    h = Histogram()
    h.record(value, times=n)
    return stats_of(h, window)


def test_threshold_crossed_names_percentile_value_and_limit() -> None:
    """p99 of 300 ms against a 200 ms threshold is a bottleneck with that evidence."""
    policy = Policy(thresholds={"db": 0.2})
    b = over_threshold("db", stats(0.3), policy)
    assert b is not None and b.kind == "threshold"
    assert b.evidence["value"] == pytest.approx(0.3) and b.evidence["threshold"] == 0.2
    assert b.evidence["percentile"] == "p99" and "over threshold" in b.summary
    assert over_threshold("db", stats(0.1), policy) is None
    assert over_threshold("other", stats(9.0), policy) is None


def test_default_threshold_applies_to_ops_without_their_own() -> None:
    """default_threshold covers every op; a per-op threshold overrides it."""
    policy = Policy(thresholds={"slow.ok": 5.0}, default_threshold=0.5)
    assert over_threshold("any", stats(1.0), policy) is not None
    assert over_threshold("slow.ok", stats(1.0), policy) is None


def test_too_few_samples_is_not_a_bottleneck() -> None:
    """One slow call under min_samples raises nothing."""
    policy = Policy(default_threshold=0.1, min_samples=20)
    assert over_threshold("op", stats(1.0, n=19), policy) is None
    assert jumped("op", stats(1.0, n=19), stats(0.01), policy) is None
    assert jumped("op", stats(1.0), stats(0.01, n=19), policy) is None


def test_jump_against_own_baseline() -> None:
    """p99 four times its baseline with factor 3 is a jump with ratio evidence."""
    b = jumped("op", stats(0.04), stats(0.01), Policy(jump_factor=3.0))
    assert b is not None and b.kind == "jump"
    assert b.evidence["ratio"] == pytest.approx(4.0, rel=0.01)
    assert jumped("op", stats(0.02), stats(0.01), Policy(jump_factor=3.0)) is None


def test_largest_share_of_total_time() -> None:
    """The op with most total time is a bottleneck when its share reaches the limit."""
    per_op = {"a": stats(0.1), "b": stats(0.01), "c": stats(0.01)}
    b = largest_share(per_op, Policy(share=0.5))
    assert b is not None and b.op == "a" and b.evidence["share"] == pytest.approx(10 / 12)
    assert largest_share(per_op, Policy(share=0.9)) is None
    assert largest_share({"a": stats(1.0)}, Policy(share=0.1)) is None


def test_detect_combines_and_sorts() -> None:
    """detect returns every kind found, sorted by op then kind, as JSON-able dicts."""
    fast = {"a": stats(0.5), "b": stats(0.01)}
    found = detect(fast, {"a": stats(0.1), "b": stats(0.01)}, fast,
                   Policy(default_threshold=0.2, share=0.5))
    assert [(b.op, b.kind) for b in found] == [("a", "jump"), ("a", "share"), ("a", "threshold")]
    assert all(set(b.to_dict()) == {"op", "kind", "summary", "evidence"} for b in found)


def feed(s: ProfileStore, clock: ManualClock, seconds: float, latency: float, per_tick: int = 20,
         tick: float = 0.25) -> list[tuple[float, list[str]]]:
    """Feed ``per_tick`` samples every ``tick`` for ``seconds``; return detections per tick."""
    seen = []
    end = clock.now + seconds
    while clock.now < end:
        h = Histogram()
        h.record(latency, times=per_tick)
        s.add("pool.query", h, clock.now)
        s.add("cache.get", _small(), clock.now)
        seen.append((clock.now, [f"{b.op}:{b.kind}" for b in s.bottlenecks(clock.now)]))
        clock.now += tick
    return seen


def _small() -> Histogram:
    h = Histogram()
    h.record(0.0005, times=20)
    return h


def test_synthetic_slowdown_is_detected_within_a_second() -> None:
    """A query going from 5 ms to 200 ms is flagged (jump and threshold) within 1 s."""
    clock = ManualClock()
    s = ProfileStore([10.0, 60.0, 300.0], 10, 7,
                     Policy(thresholds={"pool.query": 0.1}, jump_factor=3.0, share=0.95),
                     max_ops=10, trend_tolerance=0.2, now=clock.now)
    calm = feed(s, clock, 120.0, 0.005)
    assert all(not found for _, found in calm), "no false alarm during two calm minutes"
    slowed_at = clock.now
    slow = feed(s, clock, 5.0, 0.2)
    first = {}
    for t, found in slow:
        for key in found:
            first.setdefault(key, t - slowed_at)
    assert set(first) >= {"pool.query:jump", "pool.query:threshold"}
    assert max(first["pool.query:jump"], first["pool.query:threshold"]) <= 1.0


def test_slowdown_clears_once_it_leaves_the_fast_window() -> None:
    """A 2 s burst of slowness stops being a bottleneck 10 s after it ended."""
    clock = ManualClock()
    s = ProfileStore([10.0, 60.0, 300.0], 10, 7, Policy(jump_factor=3.0, share=0.95),
                     max_ops=10, trend_tolerance=0.2, now=clock.now)
    feed(s, clock, 60.0, 0.005)
    burst = feed(s, clock, 2.0, 0.2)
    assert any("pool.query:jump" in found for _, found in burst)
    after = feed(s, clock, 12.0, 0.005)
    assert "pool.query:jump" not in after[-1][1]
    assert after[-1][1] == ["pool.query:share"], "it still takes most of the time: a share alert"
