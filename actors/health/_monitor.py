"""The health monitor's core: components, thresholds, alerts — thread-safe, clock injected.

Every mutating method validates its whole input before changing anything, then returns
the events it caused as ``(topic, body)`` pairs (``health.alert``, ``health.status``) for
the caller to publish. One lock guards all state, because the actor's handler thread and
its feed threads (lifecycle events, process sampling) all write here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from messages import InvalidBody, to_wire

from ._alerts import AlertBook, AlertEvent
from ._component import Component
from ._messages import Alert, ComponentHealth, NodeHealth, ThresholdInfo
from ._model import (
    DEFAULT_THRESHOLDS,
    HealthStatus,
    Threshold,
    check_metric,
    check_threshold,
    check_value,
    rollup,
)

Event = tuple[str, dict[str, Any]]
"""(topic, body) of something to publish on the node's event stream."""
Clock = Callable[[], float]


class HealthMonitor:
    """Per-component metrics, scores, status, alerts and history for one node."""

    def __init__(self, *, clock: Clock = time.time, history_size: int = 256,
                 trend_window: float = 60.0, availability_window: float = 60.0,
                 keep_alerts: int = 1000,
                 thresholds: dict[str, Threshold] | None = None) -> None:
        self.clock = clock
        self.history_size = history_size
        self.trend_window = trend_window
        self.availability_window = availability_window
        self._lock = threading.RLock()
        self._defaults = dict(DEFAULT_THRESHOLDS)
        for metric, t in (thresholds or {}).items():
            self._defaults[check_metric(metric)] = t
        self._overrides: dict[str, dict[str, Threshold]] = {}
        self._components: dict[str, Component] = {}
        self._alerts = AlertBook(keep_alerts)

    # -- samples -----------------------------------------------------------------------
    def report(self, component: str, metric: str, value: object) -> list[Event]:
        """Record one sample; InvalidBody (nothing changed) if it is bad."""
        return self.report_many([(component, metric, value)])

    def report_many(self, samples: Iterable[tuple[str, str, object]]) -> list[Event]:
        """Record samples all-or-nothing: every one is checked before any is applied."""
        checked = []
        for i, (component, metric, value) in enumerate(samples):
            try:
                name = _check_component(component)
                checked.append((name, check_metric(metric), check_value(metric, value)))
            except InvalidBody as exc:
                raise InvalidBody(f"report {i}: {exc}") from None
        with self._lock:
            now = self.clock()
            touched: dict[str, None] = {}
            for name, metric, value in checked:
                self._component(name, now).record(metric, value, now)
                touched[name] = None
            events: list[Event] = []
            for name in touched:
                events += self._judge(name, now, [m for c, m, _ in checked if c == name])
            return events

    # -- lifecycle feed ----------------------------------------------------------------
    def set_live(self, component: str, live: bool, *, cause: str = "", incarnation: int | None = None,
                 pid: int | None = None, restarted: bool = False) -> list[Event]:
        """Record that a supervised component started (live) or exited/gave up (not live)."""
        with self._lock:
            now = self.clock()
            c = self._component(_check_component(component), now)
            c.mark_live(live, now)
            if live:
                c.ready = True
            c.cause = cause
            c.restarts += int(restarted)
            if incarnation is not None:
                c.incarnation = incarnation
            c.pid = pid if live else None
            return self._availability(c, now) + self._judge(c.name, now, [], conditions=True)

    def set_ready(self, component: str, ready: bool, cause: str = "") -> list[Event]:
        """Record a readiness probe's outcome (can the component serve right now)."""
        with self._lock:
            now = self.clock()
            c = self._component(_check_component(component), now)
            if c.ready == ready or (ready and not c.live):
                return []
            c.ready = ready
            if cause:
                c.cause = cause
            return self._judge(c.name, now, [], conditions=True)

    def set_details(self, component: str, details: dict[str, Any]) -> None:
        """Attach a component's latest ``statistics`` (shown in its status answer)."""
        with self._lock:
            self._component(_check_component(component), self.clock()).details = details

    def tick(self) -> list[Event]:
        """Refresh the availability of every supervised component (call periodically)."""
        with self._lock:
            now = self.clock()
            events: list[Event] = []
            for c in list(self._components.values()):
                events += self._availability(c, now)
            return events

    # -- thresholds --------------------------------------------------------------------
    def configure(self, metric: str, component: str | None = None, *, warning: float | None = None,
                  critical: float | None = None, weight: float | None = None) -> ThresholdInfo:
        """Change a metric's thresholds/weight (None keeps a value); InvalidBody if inconsistent."""
        check_metric(metric)
        if component is not None:
            _check_component(component)
        with self._lock:
            old = self.threshold(metric, component)
            new = attrs.evolve(
                old, warning=old.warning if warning is None else warning,
                critical=old.critical if critical is None else critical,
                weight=old.weight if weight is None else weight)
            check_threshold(new)
            if component is None:
                self._defaults[metric] = new
            else:
                self._overrides.setdefault(component, {})[metric] = new
            return ThresholdInfo(metric, component, new.direction, new.warning, new.critical,
                                 new.weight)

    def threshold(self, metric: str, component: str | None = None) -> Threshold:
        """The threshold in force for ``metric`` of ``component`` (or the default)."""
        with self._lock:
            override = self._overrides.get(component or "", {}).get(metric)
            return override if override is not None else self._defaults[check_metric(metric)]

    def _thresholds(self, component: str) -> dict[str, Threshold]:
        return {**self._defaults, **self._overrides.get(component, {})}

    # -- answers -----------------------------------------------------------------------
    def component(self, name: str) -> ComponentHealth:
        """One component's health; LookupError (as KeyError) if nothing is known of it."""
        with self._lock:
            c = self._components.get(name)
            if c is None:
                known = ", ".join(sorted(self._components)) or "none yet"
                raise KeyError(f"no health data for component {name!r} (known: {known})")
            return c.view(self._thresholds(name), self.trend_window, self.clock(),
                          self._alerts.open_count(name))

    def node(self) -> NodeHealth:
        """The node-wide rollup and every component."""
        with self._lock:
            views = [self.component(n) for n in sorted(self._components)]
            status = rollup([HealthStatus(v.status) for v in views])
            score = sum(v.score for v in views) / len(views) if views else 100.0
            return NodeHealth(status.value, round(score, 2), all(v.live for v in views),
                              all(v.ready for v in views), views, self._alerts.open_count(),
                              self.clock())

    def alerts(self, *, open_only: bool = False) -> list[Alert]:
        """Alerts oldest first (only the unresolved ones if ``open_only``)."""
        with self._lock:
            return self._alerts.alerts(open_only=open_only)

    def ack(self, alert_id: int) -> tuple[Alert, list[Event]]:
        """Acknowledge an alert: (the alert, events); UnknownAlert if there is no such id."""
        with self._lock:
            events = self._alerts.ack(alert_id, self.clock())
            return self._alerts.get(alert_id), [_alert_event(e) for e in events]

    # -- internals ---------------------------------------------------------------------
    def _component(self, name: str, now: float) -> Component:
        c = self._components.get(name)
        if c is None:
            c = self._components[name] = Component(name, now, self.history_size)
        return c

    def _availability(self, c: Component, now: float) -> list[Event]:
        if c.uptime is None:
            return []
        c.record("availability", c.uptime.availability(now, self.availability_window), now)
        return self._judge(c.name, now, ["availability"])

    def _judge(self, name: str, now: float, metrics: list[str], *, conditions: bool = False) -> list[Event]:
        c = self._components[name]
        thresholds = self._thresholds(name)
        events: list[Event] = []
        for metric in dict.fromkeys(metrics):
            value = c.latest[metric][1]
            t = thresholds[metric]
            level = t.level(value)
            text = f"{name} {metric} {value:g}" + (f" past {level} threshold {t.limit(level):g}"
                                                   if level != "ok" else " back to normal")
            events += map(_alert_event, self._alerts.evaluate(
                name, metric, level, value, threshold=t.limit(level), now=now, text=text))
        if conditions:
            events += map(_alert_event, self._alerts.evaluate(
                name, "liveness", "ok" if c.live else "critical", float(c.live),
                threshold=1.0, now=now, text=f"{name} is not running: {c.cause or 'exited'}"))
            events += map(_alert_event, self._alerts.evaluate(
                name, "readiness", "ok" if c.ready or not c.live else "warning", float(c.ready),
                threshold=1.0, now=now, text=f"{name} is not ready: {c.cause or 'no answer'}"))
        score, status, _ = c.evaluate(thresholds)
        c.scores.add(now, score)
        if status is not c.status:
            previous, c.status, c.since = c.status, status, now
            events.append(("health.status", {"component": name, "status": status.value,
                                             "previous": previous.value, "score": round(score, 2),
                                             "time": now}))
        return events


def _alert_event(event: AlertEvent) -> Event:
    kind, alert = event
    return "health.alert", {"event": kind, **to_wire(alert)}


def _check_component(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise InvalidBody(f"component: expected a non-empty name (at most 200 characters), got {name!r}")
    return name
