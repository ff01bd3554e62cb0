"""The health monitor actor: per-component metrics, scores, status, alerts, history.

Run it from a node config as ``{"name": "health", "actor": "health"}``; agents report
samples with ``health.report`` and read ``health.status`` / ``health.alerts``; the actor
also feeds itself from the node's lifecycle events and process sampling.
"""

from ._actor import HealthActor, HealthStatistics
from ._alerts import AlertBook, UnknownAlert
from ._cli import (
    DEFAULT_READY_STATUS,
    EXIT_UNHEALTHY,
    format_health,
    health_cli,
    probe_failures,
    probe_passes,
    verdict,
    watch_events,
)
from ._history import Ring, slope, trend
from ._messages import (
    Accepted,
    Ack,
    Alert,
    AlertList,
    AlertsQuery,
    ComponentHealth,
    Configure,
    MetricHealth,
    NodeHealth,
    Report,
    ReportBatch,
    StatusQuery,
    ThresholdInfo,
)
from ._model import DEFAULT_THRESHOLDS, METRICS, HealthStatus, Threshold, rollup, status_of, weighted_score
from ._monitor import HealthMonitor, UnknownComponent
from ._settings import HealthSettings, ThresholdSetting

__all__ = [
    "DEFAULT_READY_STATUS",
    "DEFAULT_THRESHOLDS",
    "EXIT_UNHEALTHY",
    "METRICS",
    "Accepted",
    "Ack",
    "Alert",
    "AlertBook",
    "AlertList",
    "AlertsQuery",
    "ComponentHealth",
    "Configure",
    "HealthActor",
    "HealthMonitor",
    "HealthSettings",
    "HealthStatistics",
    "HealthStatus",
    "MetricHealth",
    "NodeHealth",
    "Report",
    "ReportBatch",
    "Ring",
    "StatusQuery",
    "Threshold",
    "ThresholdInfo",
    "ThresholdSetting",
    "UnknownAlert",
    "UnknownComponent",
    "format_health",
    "health_cli",
    "probe_failures",
    "probe_passes",
    "rollup",
    "slope",
    "status_of",
    "trend",
    "verdict",
    "watch_events",
    "weighted_score",
]
