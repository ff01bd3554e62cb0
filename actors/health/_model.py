"""The health vocabulary: the six metrics, their thresholds, scores and status bands.

Everything here is a pure function of its arguments, so that scoring can be tested from
known inputs without a node, a clock or a thread.

A metric's *threshold* has a direction: for ``response_time`` lower is better, so a value
at or above ``warning`` is a warning; for ``availability`` higher is better, so a value at
or below ``warning`` is one. Each metric has an *ideal* (0 s, 0 errors, 100 % up) where
its score is 100; the score falls to 70 at the warning threshold, to 40 at the critical
one, and to 0 one more warning-to-critical span beyond it.
"""

from __future__ import annotations

import enum
import itertools
import math
from typing import Final, Literal

import attrs

from messages import InvalidBody

Direction = Literal["lower", "higher"]
"""Which way a metric is better: ``lower`` (latency, errors) or ``higher`` (availability)."""

Level = Literal["ok", "warning", "critical"]
"""Where one value stands against its thresholds."""

LEVEL_RANK: Final[dict[str, int]] = {"ok": 0, "warning": 1, "critical": 2}


class HealthStatus(enum.Enum):
    """A component's (or the node's) status, best first; the value is the wire name."""

    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    FAILED = "FAILED"

    @property
    def rank(self) -> int:
        """0 for EXCELLENT up to 4 for FAILED: larger is worse."""
        return _STATUS_ORDER.index(self)


_STATUS_ORDER: Final = list(HealthStatus)

SCORE_EXCELLENT: Final = 90.0
"""Scores at or above this are EXCELLENT (if no metric is past its warning threshold)."""
SCORE_GOOD: Final = 70.0
"""Scores at or above this are GOOD; the score of a metric exactly at its warning threshold."""
SCORE_WARNING: Final = 40.0
"""Scores at or above this are WARNING; the score of a metric exactly at its critical threshold."""
CLEAR_MARGIN: Final = 0.05
"""Share of the ideal-to-warning distance a value must recover by to resolve an alert."""


@attrs.frozen
class Threshold:
    """Warning and critical limits of one metric, its direction, ideal and weight.

    ``warning``/``critical`` of None disable that level (the metric is then informational
    for that level); ``weight`` 0 keeps the metric out of the score.
    """

    direction: Direction
    ideal: float
    warning: float | None
    critical: float | None
    weight: float

    def __attrs_post_init__(self) -> None:
        check_threshold(self)

    def level(self, value: float) -> Level:
        """``critical``, ``warning`` or ``ok`` for ``value`` (limits are inclusive)."""
        if self.critical is not None and self._past(value, self.critical):
            return "critical"
        if self.warning is not None and self._past(value, self.warning):
            return "warning"
        return "ok"

    def clear(self, value: float) -> bool:
        """Whether ``value`` is far enough inside the warning limit to resolve an open alert.

        Hysteresis: a value must come back past ``warning`` by ``CLEAR_MARGIN`` of the
        ideal-to-warning distance, so one reading that hovers at the limit does not flap.
        """
        if self.warning is None:
            return self.level(value) == "ok"
        margin = CLEAR_MARGIN * abs(self.warning - self.ideal)
        limit = self.warning - margin if self.direction == "lower" else self.warning + margin
        return not self._past(value, limit) and self.level(value) == "ok"

    def limit(self, level: Level) -> float | None:
        """The threshold value of ``level`` (None for ``ok`` or a disabled level)."""
        return {"ok": None, "warning": self.warning, "critical": self.critical}[level]

    def score(self, value: float) -> float:
        """0..100 for ``value``: 100 at the ideal, 70 at warning, 40 at critical, then down to 0."""
        sign = 1.0 if self.direction == "lower" else -1.0
        badness = (value - self.ideal) * sign  # how far from the ideal, in the bad direction
        warn = None if self.warning is None else (self.warning - self.ideal) * sign
        crit = None if self.critical is None else (self.critical - self.ideal) * sign
        points = [(0.0, 100.0)]
        if warn is not None and warn > 0:
            points.append((warn, SCORE_GOOD))
        if crit is not None and crit > points[-1][0]:
            points.append((crit, SCORE_WARNING))
            span = crit - (warn if warn is not None and 0 < warn < crit else 0.0)
            points.append((crit + span, 0.0))
        if len(points) == 1:
            return 100.0
        return _interpolate(points, badness)

    def _past(self, value: float, limit: float) -> bool:
        return value >= limit if self.direction == "lower" else value <= limit


def _interpolate(points: list[tuple[float, float]], x: float) -> float:
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def check_threshold(t: Threshold) -> None:
    """InvalidBody naming the field if limits are non-finite, out of order, or weight < 0."""
    for name in ("ideal", "warning", "critical", "weight"):
        value = getattr(t, name)
        if value is not None and not math.isfinite(value):
            raise InvalidBody(f"threshold {name}: expected a finite number, got {value!r}")
    if t.weight < 0:
        raise InvalidBody(f"threshold weight: expected >= 0, got {t.weight!r}")
    if t.warning is not None and t.critical is not None:
        worse = t.critical >= t.warning if t.direction == "lower" else t.critical <= t.warning
        if not worse:
            word = "above" if t.direction == "lower" else "below"
            raise InvalidBody(f"threshold critical: for a {t.direction}-is-better metric critical must "
                              f"be at or {word} warning ({t.warning!r}), got {t.critical!r}")


DEFAULT_THRESHOLDS: Final[dict[str, Threshold]] = {
    "response_time": Threshold("lower", 0.0, 0.5, 2.0, 2.0),       # seconds
    "error_rate": Threshold("lower", 0.0, 0.05, 0.25, 3.0),        # fraction of handled messages
    "availability": Threshold("higher", 1.0, 0.99, 0.9, 3.0),      # fraction of time up
    "throughput": Threshold("higher", 0.0, None, None, 0.0),       # messages per second (informational)
    "memory": Threshold("lower", 0.0, 512.0, 1024.0, 1.0),         # MiB resident
    "cpu": Threshold("lower", 0.0, 80.0, 95.0, 1.0),               # percent of one core
}
"""The six metrics and their defaults; units are in the comments."""

METRICS: Final = tuple(sorted(DEFAULT_THRESHOLDS))
RATE_METRICS: Final = ("error_rate",)
"""Metrics that are a share of messages: from counts, judged only once enough messages came."""


def check_metric(metric: object) -> str:
    """``metric`` if it is one of the six; InvalidBody listing them otherwise."""
    if not isinstance(metric, str) or metric not in DEFAULT_THRESHOLDS:
        raise InvalidBody(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    return metric


def check_value(metric: str, value: object) -> float:
    """``value`` as a finite float; InvalidBody naming the metric otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidBody(f"value of {metric}: expected a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise InvalidBody(f"value of {metric}: expected a finite number, got {value!r}")
    if metric in ("error_rate", "availability") and not 0.0 <= value <= 1.0:
        raise InvalidBody(f"value of {metric}: expected a fraction between 0 and 1, got {value!r}")
    if value < 0:
        raise InvalidBody(f"value of {metric}: expected a number >= 0, got {value!r}")
    return float(value)


def check_counts(metric: str, faults: object, messages: object) -> tuple[int, int]:
    """(faults, messages) of a rate metric as integers; InvalidBody naming what is wrong."""
    if metric not in RATE_METRICS:
        raise InvalidBody(f"metric: counts make a rate of {', '.join(RATE_METRICS)}, not {metric!r}")
    f, m = _count(metric, "faults", faults), _count(metric, "messages", messages)
    if f > m:
        raise InvalidBody(f"faults of {metric}: expected at most messages ({m}), got {f}")
    return f, m


def _count(metric: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidBody(f"{name} of {metric}: expected an integer >= 0, got {value!r}")
    return value


def weighted_score(scores: list[tuple[float, float]]) -> float:
    """Weighted mean of (score, weight) pairs; 100 when nothing carries weight."""
    total = sum(w for _, w in scores)
    if total <= 0:
        return 100.0
    return sum(s * w for s, w in scores) / total


def status_of(score: float, worst_level: Level, *, alive: bool) -> HealthStatus:
    """Status from the score band, capped by the worst metric level; FAILED if not alive."""
    if not alive or score <= 0.0:
        return HealthStatus.FAILED
    if score >= SCORE_EXCELLENT:
        by_score = HealthStatus.EXCELLENT
    elif score >= SCORE_GOOD:
        by_score = HealthStatus.GOOD
    elif score >= SCORE_WARNING:
        by_score = HealthStatus.WARNING
    else:
        by_score = HealthStatus.CRITICAL
    by_level = {"ok": HealthStatus.EXCELLENT, "warning": HealthStatus.WARNING,
                "critical": HealthStatus.CRITICAL}[worst_level]
    return max(by_score, by_level, key=lambda s: s.rank)


def rollup(statuses: list[HealthStatus]) -> HealthStatus:
    """The node's status: its worst component's, except that one FAILED component makes
    the node CRITICAL (the rest still serve); FAILED only when every component has failed.
    EXCELLENT when there are no components."""
    if statuses and all(s is HealthStatus.FAILED for s in statuses):
        return HealthStatus.FAILED
    worst = max(statuses, key=lambda s: s.rank, default=HealthStatus.EXCELLENT)
    return HealthStatus.CRITICAL if worst is HealthStatus.FAILED else worst
