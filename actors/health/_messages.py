"""The health monitor's public protocol: what agents send it and what it answers.

Requests: ``health.report`` (one sample), ``health.report_batch`` (many, all or none),
``health.status``, ``health.alerts``, ``health.ack``, ``health.configure``.
Replies: ``health.accepted``, ``health.component`` / ``health.node``, ``health.alert_list``,
``health.alert_record``, ``health.threshold``. Events on the node's stream: topics
``health.alert`` and ``health.status`` (bodies described in PROTOCOL.md).
"""

from __future__ import annotations

from typing import Any

import attrs

from messages import message


@message("health.report")
@attrs.frozen
class Report:
    """One sample: ``component``'s ``metric`` was ``value`` (units in the metric table)."""

    component: str
    metric: str
    value: float


@message("health.report_batch")
@attrs.frozen
class ReportBatch:
    """Many samples at once; if one is bad, none is applied."""

    reports: list[Report]


@message("health.accepted")
@attrs.frozen
class Accepted:
    """How many samples a report applied."""

    count: int


@message("health.status")
@attrs.frozen
class StatusQuery:
    """Ask for one component's health, or (component omitted) the node's rollup."""

    component: str | None = None


@message("health.metric")
@attrs.frozen
class MetricHealth:
    """One metric of a component: latest value, where it stands, thresholds and trend."""

    metric: str
    value: float
    level: str
    score: float
    direction: str
    warning: float | None
    critical: float | None
    weight: float
    trend: str
    samples: int
    updated: float


@message("health.component")
@attrs.frozen
class ComponentHealth:
    """A component's health: score, status, liveness/readiness, metrics, open alerts."""

    component: str
    status: str
    score: float
    live: bool
    ready: bool
    trend: str
    metrics: dict[str, MetricHealth]
    open_alerts: int
    restarts: int = 0
    incarnation: int | None = None
    pid: int | None = None
    since: float = 0.0
    cause: str = ""
    details: dict[str, Any] = attrs.field(factory=dict)


@message("health.node")
@attrs.frozen
class NodeHealth:
    """The node-wide rollup: worst status, mean score, every component."""

    status: str
    score: float
    live: bool
    ready: bool
    components: list[ComponentHealth]
    open_alerts: int
    time: float


@message("health.alerts")
@attrs.frozen
class AlertsQuery:
    """Ask for alerts, newest last; only the open (unresolved) ones if ``open_only``."""

    open_only: bool = False


@message("health.alert_record")
@attrs.frozen
class Alert:
    """One alert: a condition (component, metric) that crossed a threshold.

    ``severity`` is the worst level reached while open (warning or critical); ``value``
    and ``threshold`` are the sample and the limit that raised it; times are Unix seconds.
    """

    id: int
    component: str
    metric: str
    severity: str
    value: float
    threshold: float | None
    time: float
    message: str = ""
    acknowledged: bool = False
    acknowledged_at: float | None = None
    resolved: bool = False
    resolved_at: float | None = None


@message("health.alert_list")
@attrs.frozen
class AlertList:
    """Reply to ``health.alerts``."""

    alerts: list[Alert]


@message("health.ack")
@attrs.frozen
class Ack:
    """Acknowledge alert ``alert_id`` (it stays open until its condition clears)."""

    alert_id: int


@message("health.configure")
@attrs.frozen
class Configure:
    """Set a metric's thresholds and weight, for one component or (omitted) the default.

    Fields left out keep their current value.
    """

    metric: str
    component: str | None = None
    warning: float | None = None
    critical: float | None = None
    weight: float | None = None


@message("health.threshold")
@attrs.frozen
class ThresholdInfo:
    """The thresholds now in force for a metric (reply to ``health.configure``)."""

    metric: str
    component: str | None
    direction: str
    warning: float | None
    critical: float | None
    weight: float
