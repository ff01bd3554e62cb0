"""Bounded history of samples and the trend over a time window (pure, injected time).

The trend is the least-squares slope of the samples inside the window, turned into the
change it predicts over the whole window and compared with a *scale* (the warning-to-
critical span of the metric, or the mean magnitude when it has no thresholds): a change
under ``STABLE_FRACTION`` of the scale is ``stable``; otherwise ``improving`` or
``degrading`` according to the metric's direction.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Final, Literal

from ._model import Direction

Trend = Literal["improving", "stable", "degrading"]

STABLE_FRACTION: Final = 0.1
"""A predicted change over the window smaller than this share of the scale is ``stable``."""
MIN_TREND_SAMPLES: Final = 3
"""Fewer samples than this in the window give ``stable``: two points are not a trend."""


class Ring:
    """The last ``size`` (time, value) samples of one series, oldest first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"history size must be >= 1, got {size!r}")
        self._samples: collections.deque[tuple[float, float]] = collections.deque(maxlen=size)

    def add(self, when: float, value: float) -> None:
        """Append a sample; the oldest falls out when the ring is full."""
        self._samples.append((when, value))

    def __len__(self) -> int:
        return len(self._samples)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return iter(self._samples)

    def last(self) -> tuple[float, float] | None:
        """The newest sample, or None."""
        return self._samples[-1] if self._samples else None

    def window(self, now: float, seconds: float) -> list[tuple[float, float]]:
        """Samples taken within ``seconds`` before ``now``."""
        start = now - seconds
        return [(t, v) for t, v in self._samples if t >= start]


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope (value per second) of (time, value) samples; 0 if undefined."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in samples)
    if var_t == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / var_t


def trend(samples: list[tuple[float, float]], window: float, direction: Direction,
          scale: float | None) -> Trend:
    """``improving``, ``stable`` or ``degrading`` for samples over a ``window`` of seconds."""
    if len(samples) < MIN_TREND_SAMPLES:
        return "stable"
    change = slope(samples) * window
    if scale is None or scale <= 0:
        scale = max(abs(sum(v for _, v in samples) / len(samples)), 1e-9)
    if abs(change) < STABLE_FRACTION * scale:
        return "stable"
    better = change < 0 if direction == "lower" else change > 0
    return "improving" if better else "degrading"
