"""Pure health policy: thresholds, scores, status bands, rollup, history and trend."""

from __future__ import annotations

import math

import pytest

import actors.health as health
from actors.health import DEFAULT_THRESHOLDS, HealthStatus, Ring, Threshold, rollup, status_of, trend
from actors.health._model import check_metric, check_value, weighted_score
from messages import InvalidBody

RT = DEFAULT_THRESHOLDS["response_time"]  # lower is better: warning 0.5, critical 2.0
AV = DEFAULT_THRESHOLDS["availability"]   # higher is better: warning 0.99, critical 0.9


def test_public_names_exported_once() -> None:
    """Every public name of actors.health is in __all__ exactly once, and exists."""
    assert len(health.__all__) == len(set(health.__all__))
    assert health.__all__ == sorted(health.__all__, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in health.__all__:
        assert hasattr(health, name)


def test_lower_is_better_levels_are_inclusive() -> None:
    """response_time: below warning ok, at warning warning, at critical critical."""
    assert RT.level(0.1) == "ok"
    assert RT.level(0.5) == "warning"
    assert RT.level(1.9) == "warning"
    assert RT.level(2.0) == "critical"


def test_higher_is_better_levels_point_the_other_way() -> None:
    """availability: 1.0 ok, 0.99 warning, 0.9 and below critical."""
    assert AV.level(1.0) == "ok"
    assert AV.level(0.995) == "ok"
    assert AV.level(0.99) == "warning"
    assert AV.level(0.5) == "critical"


def test_score_anchors() -> None:
    """Score is 100 at the ideal, 70 at warning, 40 at critical, 0 one span past critical."""
    assert RT.score(0.0) == 100.0
    assert RT.score(0.5) == pytest.approx(70.0)
    assert RT.score(2.0) == pytest.approx(40.0)
    assert RT.score(3.5) == pytest.approx(0.0)
    assert RT.score(100.0) == 0.0
    assert AV.score(1.0) == 100.0
    assert AV.score(0.99) == pytest.approx(70.0)
    assert AV.score(0.9) == pytest.approx(40.0)


def test_score_without_thresholds_is_perfect() -> None:
    """A metric with both levels disabled (throughput by default) always scores 100."""
    assert DEFAULT_THRESHOLDS["throughput"].score(0.0) == 100.0
    assert DEFAULT_THRESHOLDS["throughput"].level(0.0) == "ok"


def test_thresholds_out_of_order_are_refused() -> None:
    """critical better than warning is refused, naming the field and direction."""
    with pytest.raises(InvalidBody, match="critical"):
        Threshold("lower", 0.0, 2.0, 1.0, 1.0)
    with pytest.raises(InvalidBody, match="higher-is-better"):
        Threshold("higher", 1.0, 0.9, 0.99, 1.0)
    with pytest.raises(InvalidBody, match="weight"):
        Threshold("lower", 0.0, 1.0, 2.0, -1.0)
    with pytest.raises(InvalidBody, match="finite"):
        Threshold("lower", 0.0, math.inf, 2.0, 1.0)


def test_weighted_score() -> None:
    """The score is the weighted mean; weight 0 does not count; no weight means 100."""
    assert weighted_score([(100.0, 1.0), (40.0, 3.0)]) == pytest.approx(55.0)
    assert weighted_score([(0.0, 0.0)]) == 100.0
    assert weighted_score([]) == 100.0


@pytest.mark.parametrize(("score", "level", "alive", "expected"), [
    (95.0, "ok", True, HealthStatus.EXCELLENT),
    (90.0, "ok", True, HealthStatus.EXCELLENT),
    (89.9, "ok", True, HealthStatus.GOOD),
    (70.0, "ok", True, HealthStatus.GOOD),
    (60.0, "ok", True, HealthStatus.WARNING),
    (30.0, "ok", True, HealthStatus.CRITICAL),
    (95.0, "warning", True, HealthStatus.WARNING),
    (95.0, "critical", True, HealthStatus.CRITICAL),
    (30.0, "warning", True, HealthStatus.CRITICAL),
    (0.0, "ok", True, HealthStatus.FAILED),
    (100.0, "ok", False, HealthStatus.FAILED),
])
def test_status_bands(score: float, level: str, alive: bool, expected: HealthStatus) -> None:
    """Status is the worse of the score band and the worst metric level; FAILED when down."""
    assert status_of(score, level, alive=alive) is expected  # type: ignore[arg-type]


def test_rollup_is_worst_but_one_failure_is_critical() -> None:
    """Node rollup: worst component, a single FAILED one makes CRITICAL, all FAILED is FAILED."""
    S = HealthStatus
    assert rollup([]) is S.EXCELLENT
    assert rollup([S.EXCELLENT, S.WARNING, S.GOOD]) is S.WARNING
    assert rollup([S.GOOD, S.FAILED]) is S.CRITICAL
    assert rollup([S.FAILED, S.FAILED]) is S.FAILED


def test_check_metric_and_value() -> None:
    """Unknown metrics, NaN, infinities, booleans, negatives and fractions > 1 are refused."""
    with pytest.raises(InvalidBody, match="metric: expected one of"):
        check_metric("latency")
    for bad in (math.nan, math.inf, True, "1", None, -1.0):
        with pytest.raises(InvalidBody, match="value of cpu"):
            check_value("cpu", bad)
    with pytest.raises(InvalidBody, match="fraction"):
        check_value("error_rate", 1.5)
    assert check_value("cpu", 150) == 150.0


def test_ring_is_bounded() -> None:
    """The ring keeps the newest samples only, oldest first."""
    ring = Ring(3)
    for i in range(5):
        ring.add(float(i), float(i * 10))
    assert list(ring) == [(2.0, 20.0), (3.0, 30.0), (4.0, 40.0)]
    assert ring.last() == (4.0, 40.0)
    assert ring.window(4.0, 1.0) == [(3.0, 30.0), (4.0, 40.0)]
    with pytest.raises(ValueError, match="history size"):
        Ring(0)


def test_slope_is_least_squares() -> None:
    """slope() of points on a line is that line's slope."""
    assert health.slope([(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) == pytest.approx(2.0)
    assert health.slope([(1.0, 1.0)]) == 0.0


def test_trend_directions() -> None:
    """Rising latency degrades, falling latency improves, rising availability improves, flat is stable."""
    rising = [(float(t), 0.1 * t) for t in range(10)]
    falling = [(float(t), 1.0 - 0.1 * t) for t in range(10)]
    flat = [(float(t), 0.5 + (0.001 if t % 2 else 0.0)) for t in range(10)]
    assert trend(rising, 10.0, "lower", 1.5) == "degrading"
    assert trend(falling, 10.0, "lower", 1.5) == "improving"
    assert trend(rising, 10.0, "higher", 1.5) == "improving"
    assert trend(flat, 10.0, "lower", 1.5) == "stable"
    assert trend(rising[:2], 10.0, "lower", 1.5) == "stable"
