"""Statistics of one operation over one window, and trends window against window (pure)."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ._histogram import Histogram

PERCENTILES = ("p50", "p90", "p99", "p999")
"""Names of the reported percentiles, usable as a bottleneck threshold's percentile."""
_QS = (50.0, 90.0, 99.0, 99.9)

Direction = Literal["slower", "faster", "steady", "new", "gone", "idle"]


@attrs.frozen
class Stats:
    """count, rate (per second), mean, p50/p90/p99/p99.9, max, errors and total time."""

    count: int
    rate: float
    mean: float
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    errors: int
    total_seconds: float
    window_seconds: float

    @property
    def error_rate(self) -> float:
        """Errors per sample (0.0 when there are no samples)."""
        return self.errors / self.count if self.count else 0.0

    def percentile(self, name: str) -> float:
        """The percentile named ``p50``, ``p90``, ``p99`` or ``p999``."""
        if name not in PERCENTILES:
            raise ValueError(f"percentile: expected one of {', '.join(PERCENTILES)}, got {name!r}")
        return float(getattr(self, name))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able map of the fields plus ``error_rate``."""
        return {**attrs.asdict(self), "error_rate": self.error_rate}


def stats_of(hist: Histogram, window_seconds: float) -> Stats:
    """The statistics of ``hist``, whose samples arrived over ``window_seconds``."""
    p50, p90, p99, p999 = hist.percentiles(_QS)
    rate = hist.count / window_seconds if window_seconds > 0 else 0.0
    return Stats(count=hist.count, rate=rate, mean=hist.mean, p50=p50, p90=p90, p99=p99,
                 p999=p999, max=hist.max, errors=hist.errors, total_seconds=hist.total,
                 window_seconds=window_seconds)


@attrs.frozen
class Trend:
    """How an operation's latency and rate moved from the previous window to the current one."""

    direction: Direction
    p50_ratio: float | None
    p99_ratio: float | None
    rate_ratio: float | None
    current_count: int
    previous_count: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able map."""
        return attrs.asdict(self)


def _ratio(now: float, before: float) -> float | None:
    return now / before if before > 0 else None


def trend_of(current: Stats, previous: Stats, *, tolerance: float = 0.2,
             min_samples: int = 1) -> Trend:
    """Compare two equal-length windows: slower/faster when p50 or p99 moved past ``tolerance``.

    ``new`` when only the current window has enough samples, ``gone`` when only the
    previous one has, ``idle`` when neither has.
    """
    enough_now, enough_before = current.count >= min_samples, previous.count >= min_samples
    p50 = _ratio(current.p50, previous.p50)
    p99 = _ratio(current.p99, previous.p99)
    rate = _ratio(current.rate, previous.rate)
    direction: Direction
    if not enough_now and not enough_before:
        direction = "idle"
    elif not enough_before:
        direction = "new"
    elif not enough_now:
        direction = "gone"
    else:
        ratios = [r for r in (p50, p99) if r is not None]
        if any(r > 1 + tolerance for r in ratios):
            direction = "slower"
        elif ratios and all(r < 1 / (1 + tolerance) for r in ratios):
            direction = "faster"
        else:
            direction = "steady"
    return Trend(direction, p50, p99, rate, current.count, previous.count)
