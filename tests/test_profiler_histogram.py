"""The log-linear histogram: accuracy against exact percentiles, merging, the wire form."""

from __future__ import annotations

import math
import random

import pytest

from actors.profiler import HIGHEST, LOWEST, Histogram, relative_error
from messages import pack_value, unpack_value

QS = (1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100)


def exact(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (the definition the histogram reports)."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values) - 1e-9))
    return sorted_values[rank - 1]


DISTRIBUTIONS = {
    "uniform_1ms_1s": lambda r: r.uniform(0.001, 1.0),
    "exponential_20ms": lambda r: r.expovariate(50.0),
    "lognormal_wide": lambda r: r.lognormvariate(-6, 3),
    "bimodal_cache": lambda r: r.gauss(0.0002, 0.00002) if r.random() < 0.9 else r.gauss(0.2, 0.02),
    "pareto_tail": lambda r: 0.001 * r.paretovariate(1.2),
}


@pytest.mark.parametrize("sub_bits", [4, 7, 10])
@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_percentiles_within_stated_relative_error(name: str, sub_bits: int) -> None:
    """Every percentile of 50k samples is within 2**-(sub_bits+1) of the exact value."""
    rng = random.Random(f"{name}-{sub_bits}")
    values = [abs(DISTRIBUTIONS[name](rng)) + LOWEST for _ in range(50_000)]
    h = Histogram(sub_bits)
    for v in values:
        h.record(v)
    values.sort()
    bound = relative_error(sub_bits)
    for q, got in zip(QS, h.percentiles(QS), strict=True):
        want = exact(values, q)
        assert abs(got - want) <= bound * want, (q, got, want)


def test_stated_error_for_default_precision() -> None:
    """The default precision promises 0.39 % (1/256)."""
    assert relative_error(Histogram().sub_bits) == 1 / 256


def test_count_sum_mean_min_max_errors_are_exact() -> None:
    """Count, sum, mean, min, max and errors are kept exactly, not per bucket."""
    h = Histogram()
    for i, v in enumerate([0.5, 0.25, 0.125, 2.0]):
        h.record(v, ok=i != 1)
    assert (h.count, h.total, h.min, h.max, h.errors) == (4, 2.875, 0.125, 2.0, 1)
    assert h.mean == 2.875 / 4
    assert h.percentile(100) == 2.0 and h.percentile(1) == 0.125


def test_constant_distribution_reports_the_value() -> None:
    """With one distinct value every percentile is that value (clamped to min and max)."""
    h = Histogram()
    h.record(0.0123, times=1000)
    assert h.percentiles([50, 99.9]) == [0.0123, 0.0123]


def test_zero_tiny_and_huge_durations_are_bounded() -> None:
    """0 and sub-nanosecond values count as 0; durations past HIGHEST share the top bucket."""
    h = Histogram()
    h.record(0.0)
    h.record(LOWEST / 10)
    h.record(HIGHEST * 4)
    assert h.count == 3 and len(h.counts) == 2
    assert h.percentile(50) == 0.0
    assert h.percentile(100) == HIGHEST * 4


def test_memory_is_bounded_whatever_the_values() -> None:
    """Samples spread over 65 octaves use at most 54 * 128 buckets plus the zero bucket."""
    rng = random.Random(1)
    h = Histogram()
    for _ in range(200_000):
        h.record(2.0 ** rng.uniform(-35, 30))
    assert len(h.counts) <= 54 * 128 + 1


@pytest.mark.parametrize("bad", [-1.0, -1e-9, math.nan, math.inf])
def test_bad_durations_are_refused_by_name(bad: float) -> None:
    """Negative, NaN and infinite durations raise ValueError naming the field."""
    with pytest.raises(ValueError, match="seconds"):
        Histogram().record(bad)


@pytest.mark.parametrize("bad", ["0.1", None, True, [0.1]])
def test_non_numbers_are_refused_with_type_error(bad: object) -> None:
    """A duration that is not a number raises TypeError naming the type."""
    with pytest.raises(TypeError, match="expected a number of seconds"):
        Histogram().record(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("q", [0, -1, 100.5, math.nan])
def test_percentile_outside_range_is_refused(q: float) -> None:
    """Percentiles must lie in (0, 100]."""
    with pytest.raises(ValueError, match="percentile"):
        Histogram().percentile(q)


def test_empty_histogram_reports_zeros() -> None:
    """An empty histogram has zero percentiles and mean, and round-trips."""
    h = Histogram()
    assert h.percentiles([50, 99]) == [0.0, 0.0] and h.mean == 0.0
    assert Histogram.from_dict(h.to_dict()).count == 0


def test_merge_equals_recording_everything_in_one() -> None:
    """Merging parts gives the same buckets and totals as one histogram of all samples."""
    rng = random.Random(7)
    values = [rng.expovariate(10) for _ in range(10_000)]
    whole = Histogram()
    parts = [Histogram() for _ in range(4)]
    for i, v in enumerate(values):
        whole.record(v)
        parts[i % 4].record(v, ok=i % 10 != 0)
    merged = Histogram.merged(parts)
    assert merged.counts == whole.counts and merged.count == whole.count
    assert merged.min == whole.min and merged.max == whole.max
    assert merged.total == pytest.approx(whole.total) and merged.errors == 1000


def test_merge_refuses_other_precision() -> None:
    """Histograms of different sub_bits do not merge silently."""
    with pytest.raises(ValueError, match="sub_bits"):
        Histogram(7).merge(Histogram(5))


def test_rebucket_keeps_counts_and_error_of_coarser_precision() -> None:
    """Rebucketing to fewer sub_bits keeps count and stays within the coarser bound."""
    h = Histogram(10)
    for v in (0.001, 0.002, 0.5, 0.7):
        h.record(v)
    coarse = h.rebucket(5)
    assert coarse.count == 4 and coarse.sub_bits == 5
    assert abs(coarse.percentile(75) - 0.5) <= 0.5 * (relative_error(5) + relative_error(10))


def test_wire_form_round_trips_through_msgpack() -> None:
    """to_dict is msgpack-able and from_dict rebuilds the same histogram."""
    h = Histogram()
    for v in (0.0, 0.001, 0.01, 0.1, 1.0):
        h.record(v, ok=v < 0.5)
    back = Histogram.from_dict(unpack_value(pack_value(h.to_dict())))
    assert back.counts == h.counts and back.errors == 1 and back.max == 1.0
    assert back.percentiles(QS) == h.percentiles(QS)


@pytest.mark.parametrize(("change", "field"), [
    ({"buckets": [1, 2]}, "lengths differ"),
    ({"counts": [0]}, "counts"),
    ({"buckets": [10**9]}, "bucket index"),
    ({"sub_bits": 99}, "sub_bits"),
    ({"errors": 5}, "errors"),
    ({"min": 2.0, "max": 1.0}, "min"),
    ({"sum": -1.0}, "sum"),
])
def test_from_dict_names_the_inconsistent_field(change: dict[str, object], field: str) -> None:
    """A malformed wire histogram raises ValueError naming what is wrong."""
    h = Histogram()
    h.record(1.5)
    with pytest.raises(ValueError, match=field):
        Histogram.from_dict({**h.to_dict(), **change})
