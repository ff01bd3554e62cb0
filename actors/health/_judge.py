"""Judging a component after a change: alerts per condition, then its status; and the
node-wide rollup of every component's judgement.

Conditions are (component, metric) for each of the six metrics, plus two from the node:
``liveness`` (critical while the process is down, unless it was stopped on purpose) and
``readiness`` (warning while a live component does not answer its probe).
"""

from __future__ import annotations

from typing import Any

from messages import to_wire

from ._alerts import AlertBook, AlertEvent
from ._component import Component
from ._messages import ComponentHealth, NodeHealth
from ._model import HealthStatus, Threshold, rollup

Event = tuple[str, dict[str, Any]]
"""(topic, body) of something to publish on the node's event stream."""


def judge(c: Component, thresholds: dict[str, Threshold], alerts: AlertBook, now: float,
          metrics: list[str], *, conditions: bool = False) -> list[Event]:
    """Evaluate ``metrics`` (and liveness/readiness if ``conditions``) of ``c``; its events."""
    name = c.name
    events: list[Event] = []
    for metric in dict.fromkeys(metrics):
        value = c.latest[metric][1]
        t = thresholds[metric]
        level = t.level(value)
        if level == "ok" and not t.clear(value) and alerts.is_open(name, metric):
            continue  # inside the hysteresis band: the open alert stays open, quietly
        limit = t.limit(level)
        text = f"{name} {metric} {value:g}" + (
            f" past {level} threshold {limit:g}" if limit is not None else " back to normal")
        events += map(alert_event, alerts.evaluate(
            name, metric, level, value, threshold=limit, now=now, text=text))
    if conditions:
        down = not c.live and not c.stopped_on_purpose
        events += map(alert_event, alerts.evaluate(
            name, "liveness", "critical" if down else "ok", float(c.live),
            threshold=1.0, now=now, text=f"{name} is not running: {c.cause or 'exited'}"))
        events += map(alert_event, alerts.evaluate(
            name, "readiness", "ok" if c.ready or not c.live else "warning", float(c.ready),
            threshold=1.0, now=now, text=f"{name} is not ready: {c.cause or 'no answer'}"))
    score, status, _ = c.evaluate(thresholds)
    c.scores.add(now, score)
    if status is not c.status:
        previous, c.status, c.since = c.status, status, now
        events.append(("health.status", {"component": name, "status": status.value,
                                         "previous": previous.value, "score": round(score, 2),
                                         "live": c.live, "ready": c.ready, "cause": c.cause,
                                         "time": now}))
    return events


def alert_event(event: AlertEvent) -> Event:
    """The ``health.alert`` event body: what happened (opened, ...) and the alert's fields."""
    kind, alert = event
    return "health.alert", {"event": kind, **to_wire(alert)}


def node_health(views: list[ComponentHealth], open_alerts: int, now: float) -> NodeHealth:
    """The node-wide rollup: the worst status, the mean score (100 with no components),
    live and ready only if every component is."""
    status = rollup([HealthStatus(v.status) for v in views])
    score = sum(v.score for v in views) / len(views) if views else 100.0
    return NodeHealth(status.value, round(score, 2), all(v.live for v in views),
                      all(v.ready for v in views), views, open_alerts, now)
