"""A mergeable log-linear histogram of durations in seconds (HdrHistogram's bucket layout).

Why log-linear: every power of two is cut into ``2**sub_bits`` equal buckets, so a bucket
is never wider than ``2**-sub_bits`` of its lower bound. Reporting a bucket's midpoint
keeps every percentile within a relative error of ``2**-(sub_bits + 1)`` of the exact
(nearest-rank) value, from :data:`LOWEST` to :data:`HIGHEST`, whatever the distribution.
With the default ``sub_bits=7`` that is 0.39 %, and at most ``54 * 128 + 1 = 6913``
buckets exist, so memory is bounded whatever the sample rate. Histograms with the same
``sub_bits`` merge by adding counts, which is how batches from many processes combine.

Values below :data:`LOWEST` (including 0) share one bucket reported as 0; values at or
above :data:`HIGHEST` share the top bucket. ``min`` and ``max`` are kept exactly, and
reported percentiles are clamped to them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

LOWEST: Final = 2.0**-30
"""Smallest duration (about 0.93 ns) with relative-error guarantees; below it counts as 0."""
HIGHEST: Final = 2.0**24
"""Largest duration (about 194 days) with guarantees; above it shares the top bucket."""
DEFAULT_SUB_BITS: Final = 7
MIN_SUB_BITS: Final = 1
MAX_SUB_BITS: Final = 12
UNDER: Final = -(1 << 40)
"""Bucket index of durations below :data:`LOWEST` (reported as 0.0)."""

_MIN_EXP: Final = math.frexp(LOWEST)[1]  # LOWEST = 0.5 * 2**-29
_MAX_EXP: Final = math.frexp(HIGHEST)[1]


def relative_error(sub_bits: int) -> float:
    """The stated bound on a reported value's relative error for ``sub_bits``."""
    return 2.0 ** -(sub_bits + 1)


def check_sub_bits(sub_bits: Any) -> int:
    """``sub_bits`` if it is an int in range; ValueError naming it otherwise."""
    if isinstance(sub_bits, bool) or not isinstance(sub_bits, int) \
            or not MIN_SUB_BITS <= sub_bits <= MAX_SUB_BITS:
        raise ValueError(f"sub_bits: expected an integer from {MIN_SUB_BITS} to {MAX_SUB_BITS}, "
                         f"got {sub_bits!r}")
    return sub_bits


def check_duration(seconds: Any, what: str = "seconds") -> float:
    """``seconds`` as a float if it is a finite number >= 0; TypeError/ValueError naming it."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what}: expected a number of seconds, got {type(seconds).__name__} "
                        f"{seconds!r}")
    if math.isnan(seconds):
        raise ValueError(f"{what}: expected a duration in seconds, got NaN")
    if seconds < 0:
        raise ValueError(f"{what}: a duration cannot be negative, got {seconds!r}")
    if math.isinf(seconds):
        raise ValueError(f"{what}: expected a finite duration, got {seconds!r}")
    return float(seconds)


def bucket_index(seconds: float, sub_bits: int) -> int:
    """The bucket of a valid duration (see :func:`check_duration`)."""
    if seconds < LOWEST:
        return UNDER
    seconds = min(seconds, HIGHEST * 0.999999)
    m, e = math.frexp(seconds)
    return (e << sub_bits) + int(m * (2 << sub_bits))


def bucket_bounds(index: int, sub_bits: int) -> tuple[float, float]:
    """``[low, high)`` of bucket ``index``."""
    if index == UNDER:
        return 0.0, LOWEST
    j = index - (1 << sub_bits)
    e = j >> sub_bits
    k = (j & ((1 << sub_bits) - 1)) + (1 << sub_bits)
    return math.ldexp(k, e - sub_bits - 1), math.ldexp(k + 1, e - sub_bits - 1)


def bucket_value(index: int, sub_bits: int) -> float:
    """The value reported for bucket ``index``: its midpoint (0.0 for the bucket below LOWEST)."""
    if index == UNDER:
        return 0.0
    low, high = bucket_bounds(index, sub_bits)
    return (low + high) / 2


def is_edge(seconds: float, sub_bits: int) -> bool:
    """Whether ``seconds`` is the lower bound of a bucket at ``sub_bits`` (within the range
    with guarantees): a cumulative count at an edge loses nothing (:meth:`Histogram.below`)."""
    if not LOWEST <= seconds < HIGHEST:
        return False
    return bucket_bounds(bucket_index(seconds, sub_bits), sub_bits)[0] == seconds


@functools.lru_cache(maxsize=64)
def _edge_indexes(bounds: tuple[float, ...], sub_bits: int) -> tuple[int, ...]:
    """The bucket index each edge starts (checked once per set of bounds, then cached)."""
    for b in bounds:
        if not is_edge(b, sub_bits):
            raise ValueError(f"bounds: {b!r} is not a bucket edge at sub_bits={sub_bits} "
                             "(powers of two always are)")
    if list(bounds) != sorted(set(bounds)):
        raise ValueError(f"bounds: expected distinct increasing values, got {list(bounds)!r}")
    return tuple(bucket_index(b, sub_bits) for b in bounds)


def _index_range(sub_bits: int) -> tuple[int, int]:
    return (_MIN_EXP << sub_bits) + (1 << sub_bits), (_MAX_EXP << sub_bits) + (2 << sub_bits) - 1


class Histogram:
    """Counts of durations per log-linear bucket, with count, sum, min, max and errors."""

    __slots__ = ("count", "counts", "errors", "max", "min", "sub_bits", "total")

    def __init__(self, sub_bits: int = DEFAULT_SUB_BITS) -> None:
        self.sub_bits = check_sub_bits(sub_bits)
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0
        self.errors = 0

    def record(self, seconds: float, ok: bool = True, times: int = 1) -> None:
        """Add ``times`` samples of ``seconds`` (validated); ``ok=False`` counts them as errors."""
        seconds = check_duration(seconds)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times: expected an integer >= 1, got {times!r}")
        i = bucket_index(seconds, self.sub_bits)
        self.counts[i] = self.counts.get(i, 0) + times
        self.count += times
        self.total += seconds * times
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)
        if not ok:
            self.errors += times

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s samples to this histogram (same ``sub_bits``); returns self."""
        if other.sub_bits != self.sub_bits:
            raise ValueError(f"cannot merge a histogram with sub_bits={other.sub_bits} into one "
                             f"with sub_bits={self.sub_bits}")
        counts = self.counts
        for i, c in other.counts.items():
            counts[i] = counts.get(i, 0) + c
        self.count += other.count
        self.total += other.total
        self.errors += other.errors
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def copy(self) -> Histogram:
        """An independent copy."""
        return Histogram(self.sub_bits).merge(self)

    def rebucket(self, sub_bits: int) -> Histogram:
        """A copy at another precision (each bucket moves to the one holding its midpoint)."""
        out = Histogram(sub_bits)
        for i, c in self.counts.items():
            j = bucket_index(bucket_value(i, self.sub_bits), sub_bits)
            out.counts[j] = out.counts.get(j, 0) + c
        out.count, out.total, out.errors = self.count, self.total, self.errors
        out.min, out.max = self.min, self.max
        return out

    def below(self, bounds: Iterable[float]) -> list[int]:
        """How many samples lie below each of ``bounds`` (increasing bucket edges, see
        :func:`is_edge`): every bucket lies wholly below or wholly above an edge, so the
        counts are exact. ValueError naming the first bound that is not an edge."""
        limits = _edge_indexes(tuple(bounds), self.sub_bits)
        out, seen, k = [], 0, 0
        indexes = sorted(self.counts)  # bucket order is value order
        for limit in limits:
            while k < len(indexes) and indexes[k] < limit:
                seen += self.counts[indexes[k]]
                k += 1
            out.append(seen)
        return out

    @classmethod
    def merged(cls, parts: Iterable[Histogram], sub_bits: int = DEFAULT_SUB_BITS) -> Histogram:
        """A new histogram holding the samples of every part."""
        out = cls(sub_bits)
        for part in parts:
            out.merge(part)
        return out

    @property
    def mean(self) -> float:
        """The exact mean of the recorded samples (0.0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """The nearest-rank ``q``-th percentile (0 < q <= 100), within the stated error."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: Iterable[float]) -> list[float]:
        """Several percentiles in one pass over the buckets (0.0 each when empty)."""
        wanted = list(qs)
        for q in wanted:
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 100:
                raise ValueError(f"percentile: expected a number in (0, 100], got {q!r}")
        if not self.count:
            return [0.0 for _ in wanted]
        ranks = sorted((max(1, math.ceil(q / 100 * self.count - 1e-9)), n) for n, q in enumerate(wanted))
        out = [0.0] * len(wanted)
        seen, r = 0, 0
        for i in sorted(self.counts):
            seen += self.counts[i]
            while r < len(ranks) and ranks[r][0] <= seen:
                rank, n = ranks[r]
                if rank == 1:
                    out[n] = self.min  # the smallest and largest samples are known exactly
                elif rank == self.count:
                    out[n] = self.max
                else:
                    out[n] = min(max(bucket_value(i, self.sub_bits), self.min), self.max)
                r += 1
            if r == len(ranks):
                break
        return out

    # -- the wire form -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A msgpack-able map: the fields of ``profiler.record_batch``'s per-op entries."""
        buckets = sorted(self.counts)
        return {"sub_bits": self.sub_bits, "buckets": buckets,
                "counts": [self.counts[i] for i in buckets], "sum": self.total,
                "min": self.min if self.count else 0.0, "max": self.max, "errors": self.errors}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        """Rebuild from :meth:`to_dict`'s map; ValueError naming the field if it is inconsistent."""
        sub_bits = check_sub_bits(data.get("sub_bits"))
        buckets, counts = data.get("buckets"), data.get("counts")
        if not isinstance(buckets, (list, tuple)) or not isinstance(counts, (list, tuple)):
            raise ValueError("buckets, counts: expected two lists")
        if len(buckets) != len(counts):
            raise ValueError(f"buckets, counts: lengths differ ({len(buckets)} != {len(counts)})")
        low, high = _index_range(sub_bits)
        h = cls(sub_bits)
        for i, c in zip(buckets, counts, strict=True):
            if isinstance(i, bool) or not isinstance(i, int) or not (low <= i <= high or i == UNDER):
                raise ValueError(f"buckets: {i!r} is not a bucket index for sub_bits={sub_bits}")
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ValueError(f"counts: expected integers >= 1, got {c!r}")
            h.counts[i] = h.counts.get(i, 0) + c
            h.count += c
        if not h.count:
            return h
        h.total = check_duration(data.get("sum"), "sum")
        h.min = check_duration(data.get("min"), "min")
        h.max = check_duration(data.get("max"), "max")
        errors = data.get("errors", 0)
        if isinstance(errors, bool) or not isinstance(errors, int) or not 0 <= errors <= h.count:
            raise ValueError(f"errors: expected an integer from 0 to count={h.count}, got {errors!r}")
        h.errors = errors
        if h.min > h.max:
            raise ValueError(f"min, max: min {h.min!r} exceeds max {h.max!r}")
        return h

    def __repr__(self) -> str:
        return f"Histogram(count={self.count}, mean={self.mean:.6g}, max={self.max:.6g})"
