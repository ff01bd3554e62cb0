"""The performance profiler: response times per operation, percentiles, bottleneck alerts.

Callers record into a local :class:`Recorder` (directly, or with :class:`profiled` as a
decorator or context manager) which ships batches to the :class:`ProfilerActor`; the
actor keeps log-linear :class:`Histogram` windows and answers ``profiler.*`` messages.
"""

from ._actor import ALERT_TOPIC, ProfilerActor
from ._bottlenecks import Bottleneck, Policy, detect, jumped, largest_share, over_threshold
from ._histogram import HIGHEST, LOWEST, Histogram, is_edge, relative_error
from ._messages import (
    Bottlenecks,
    Buckets,
    Configure,
    OpHistogram,
    ProfilerSettings,
    ProfilerStatistics,
    Record,
    RecordBatch,
    Report,
    Reset,
    Snapshot,
)
from ._profiled import default_recorder, profiled, set_default_recorder
from ._recorder import Recorder, RecorderStatistics, connection_sink
from ._render import render_top
from ._stats import PERCENTILES, Stats, Trend, stats_of, trend_of
from ._store import ALL, ProfileStore, UnknownOperation, window_label
from ._windows import OpWindows, Ring

__all__ = [
    "ALERT_TOPIC",
    "ALL",
    "HIGHEST",
    "LOWEST",
    "PERCENTILES",
    "Bottleneck",
    "Bottlenecks",
    "Buckets",
    "Configure",
    "Histogram",
    "OpHistogram",
    "OpWindows",
    "Policy",
    "ProfileStore",
    "ProfilerActor",
    "ProfilerSettings",
    "ProfilerStatistics",
    "Record",
    "RecordBatch",
    "Recorder",
    "RecorderStatistics",
    "Report",
    "Reset",
    "Ring",
    "Snapshot",
    "Stats",
    "Trend",
    "UnknownOperation",
    "connection_sink",
    "default_recorder",
    "detect",
    "is_edge",
    "jumped",
    "largest_share",
    "over_threshold",
    "profiled",
    "relative_error",
    "render_top",
    "set_default_recorder",
    "stats_of",
    "trend_of",
    "window_label",
]
