"""The profiler's wire protocol (``profiler.*`` type tags) and its settings.

Every tag and field here is public: agents in any language send these maps.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from messages import message

from ._histogram import DEFAULT_SUB_BITS, MAX_SUB_BITS, MIN_SUB_BITS
from ._stats import PERCENTILES


def _positive_seconds(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (0 < value < math.inf):
        raise ValueError(f"{attribute.name}: expected seconds > 0, got {value!r}")


def _windows(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not value or len(value) > 8:
        raise ValueError(f"{attribute.name}: expected 1 to 8 window lengths, got {value!r}")
    if any(not (1 <= w <= 86_400) for w in value) or list(value) != sorted(set(value)):
        raise ValueError(f"{attribute.name}: expected distinct increasing seconds from 1 to 86400, "
                         f"got {value!r}")


def _thresholds(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    for op, limit in (value or {}).items():
        if not (0 < limit < math.inf):
            raise ValueError(f"{attribute.name}.{op}: expected seconds > 0, got {limit!r}")


def _percentile(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value not in PERCENTILES:
        raise ValueError(f"{attribute.name}: expected one of {', '.join(PERCENTILES)}, got {value!r}")


def _at_least(low: float) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not (low <= value < math.inf):
            raise ValueError(f"{attribute.name}: expected a value >= {low}, got {value!r}")
    return check


def _fraction(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (0 < value <= 1):
        raise ValueError(f"{attribute.name}: expected a fraction in (0, 1], got {value!r}")


def _sub_bits(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not MIN_SUB_BITS <= value <= MAX_SUB_BITS:
        raise ValueError(f"{attribute.name}: expected {MIN_SUB_BITS} to {MAX_SUB_BITS}, got {value!r}")


@attrs.frozen
class ProfilerSettings:
    """Settings from the node config (``settings`` of a child running ``profiler``).

    The first window is the fast one bottlenecks are judged on, the last one the baseline
    for jumps, the second (or only) one the window of the time-share check.
    """

    windows: list[float] = attrs.field(factory=lambda: [10.0, 60.0, 300.0], validator=_windows)
    slots: int = attrs.field(default=10, validator=_at_least(1))
    sub_bits: int = attrs.field(default=DEFAULT_SUB_BITS, validator=_sub_bits)
    percentile: str = attrs.field(default="p99", validator=_percentile)
    thresholds: dict[str, float] = attrs.field(factory=dict, validator=_thresholds)
    default_threshold: float | None = attrs.field(default=None, validator=_positive_seconds)
    jump_factor: float = attrs.field(default=3.0, validator=_at_least(1.0))
    share: float = attrs.field(default=0.5, validator=_fraction)
    min_samples: int = attrs.field(default=20, validator=_at_least(1))
    trend_tolerance: float = attrs.field(default=0.2, validator=_at_least(0.0))
    detect_interval: float = attrs.field(default=0.1, validator=_at_least(0.0))
    max_ops: int = attrs.field(default=2000, validator=_at_least(1))
    snapshot_interval: float = attrs.field(default=10.0, validator=_at_least(0.0))
    """Seconds between saves of the since-start totals for the next incarnation (0: never)."""


@message("profiler.record")
@attrs.frozen
class Record:
    """One sample: ``op`` took ``seconds`` (``ok=False``: it failed). Prefer record_batch."""

    op: str
    seconds: float
    ok: bool = True


@attrs.frozen
class OpHistogram:
    """One operation's samples in a batch: a log-linear histogram (see Histogram.to_dict)."""

    buckets: list[int]
    counts: list[int]
    sum: float
    min: float
    max: float
    errors: int = 0
    sub_bits: int = DEFAULT_SUB_BITS


@message("profiler.record_batch")
@attrs.frozen
class RecordBatch:
    """Samples of many operations at once, as the Recorder ships them."""

    ops: dict[str, OpHistogram]
    source: str = ""


@message("profiler.report")
@attrs.frozen
class Report:
    """Statistics of ``op`` (or of every op) over ``window`` (``10s``, ``1m``, ``5m``, ``all``;
    None: every window), with trends."""

    op: str | None = None
    window: str | None = None


@message("profiler.bottlenecks")
@attrs.frozen
class Bottlenecks:
    """The bottlenecks detected now, with their evidence."""


@message("profiler.configure")
@attrs.frozen
class Configure:
    """Change detection settings (and windows) at run time; omitted fields keep their value.
    Replies with the settings in force."""

    windows: list[float] | None = attrs.field(default=None, validator=_windows)
    percentile: str | None = attrs.field(default=None, validator=_percentile)
    thresholds: dict[str, float] | None = attrs.field(default=None, validator=_thresholds)
    default_threshold: float | None = attrs.field(default=None, validator=_positive_seconds)
    clear_default_threshold: bool = False
    jump_factor: float | None = attrs.field(default=None, validator=_at_least(1.0))
    share: float | None = attrs.field(default=None, validator=_fraction)
    min_samples: int | None = attrs.field(default=None, validator=_at_least(1))


@message("profiler.snapshot")
@attrs.frozen
class Snapshot:
    """A point-in-time view of everything (JSON-able): settings, every op and window,
    trends, bottlenecks."""


@message("profiler.buckets")
@attrs.frozen
class Buckets:
    """Since-start counts of every operation below each of ``bounds`` (seconds, increasing,
    each a bucket edge, e.g. powers of two), with count, sum and errors: what a Prometheus
    histogram needs, cut from the log-linear buckets without loss."""

    bounds: list[float]


@message("profiler.reset")
@attrs.frozen
class Reset:
    """Forget the samples of ``op`` (or of every op)."""

    op: str | None = None


@attrs.frozen
class ProfilerStatistics:
    """What the profiler holds and has done (answered for ``actor.statistics``)."""

    ops: int
    samples: int
    batches: int
    refused: int
    refused_ops: int
    bottlenecks: int
    alerts: int
    unpublished: int
