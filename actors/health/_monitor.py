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

from messages import InvalidBody

from ._alerts import AlertBook
from ._component import Component
from ._judge import Event, alert_event, judge, node_health
from ._messages import Alert, ComponentHealth, NodeHealth, ThresholdInfo
from ._model import Threshold, check_counts, check_metric, check_value
from ._thresholds import ThresholdTable

Clock = Callable[[], float]


class UnknownComponent(LookupError):
    """``health.status`` named a component the monitor has no data for."""


class HealthMonitor:
    """Per-component metrics, scores, status, alerts and history for one node."""

    def __init__(self, *, clock: Clock = time.time, history_size: int = 256,
                 trend_window: float = 60.0, availability_window: float = 60.0,
                 keep_alerts: int = 1000, min_rate_messages: int = 10, rate_window: float = 60.0,
                 thresholds: dict[str, Threshold] | None = None) -> None:
        self.clock = clock
        self.history_size = history_size
        self.trend_window = trend_window
        self.availability_window = availability_window
        self.min_rate_messages = min_rate_messages
        self.rate_window = rate_window
        self._lock = threading.RLock()
        self._table = ThresholdTable(thresholds)
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
                self._component(name, now).record_reported(metric, value, now,
                                                           self.availability_window)
                touched[name] = None
            events: list[Event] = []
            for name in touched:
                events += self._judge(name, now, [m for c, m, _ in checked if c == name])
            return events

    def report_rate(self, component: str, metric: str, faults: object,
                    messages: object) -> list[Event]:
        """Record the counts of a rate metric (``error_rate``) since the last call.

        The rate is judged only once its sample holds ``min_rate_messages`` messages
        within ``rate_window`` seconds (see :mod:`._rates`); until then nothing changes.
        InvalidBody (nothing changed) if the counts are bad.
        """
        name = _check_component(component)
        counts = check_counts(check_metric(metric), faults, messages)
        with self._lock:
            now = self.clock()
            if not self._component(name, now).record_counts(
                    metric, *counts, now, minimum=self.min_rate_messages, window=self.rate_window):
                return []
            return self._judge(name, now, [metric])

    # -- lifecycle feed ----------------------------------------------------------------
    def set_live(self, component: str, live: bool, *, cause: str = "", incarnation: int | None = None,
                 pid: int | None = None, restarts: int | None = None,
                 on_purpose: bool = False) -> list[Event]:
        """Record that a supervised component started (live) or exited (not live).

        ``on_purpose`` marks a deliberate stop (shutdown): FAILED status, but no alert.
        """
        with self._lock:
            now = self.clock()
            c = self._component(_check_component(component), now)
            c.mark_live(live, now, cause=cause, incarnation=incarnation, pid=pid, restarts=restarts,
                        on_purpose=on_purpose)
            events = self._availability(c, now) + self._judge(c.name, now, [], conditions=True)
            parent = self._components.get(c.supervisor or "")
            if live and parent is not None and not parent.live:  # a supervisor that gave up is back
                events += self.set_live(parent.name, True, cause=f"child {c.name!r} started again")
            return events

    def set_ready(self, component: str, ready: bool, cause: str = "") -> list[Event]:
        """Record a readiness probe's outcome (can the component serve right now)."""
        with self._lock:
            now = self.clock()
            c = self._component(_check_component(component), now)
            if not c.mark_ready(ready, cause):
                return []
            return self._judge(c.name, now, [], conditions=True)

    def set_details(self, component: str, details: dict[str, Any] | None = None, *,
                    restarts: int | None = None, supervisor: str | None = None) -> None:
        """Attach a component's ``statistics``, restart count and supervisor's name."""
        with self._lock:
            self._component(_check_component(component), self.clock()).attach(
                details, restarts, supervisor)

    def knows_liveness(self, component: str) -> bool:
        """Whether the lifecycle feed (or a seed) has said if ``component`` runs."""
        with self._lock:
            c = self._components.get(component)
            return c is not None and c.uptime is not None

    def tick(self) -> list[Event]:
        """Refresh the availability of every supervised component (call periodically)."""
        with self._lock:
            now = self.clock()
            events: list[Event] = []
            for c in list(self._components.values()):
                events += self._availability(c, now)
            return events

    def configure(self, metric: str, component: str | None = None, *, warning: float | None = None,
                  critical: float | None = None,
                  weight: float | None = None) -> tuple[ThresholdInfo, list[Event]]:
        """Change a metric's thresholds/weight (None keeps a value); InvalidBody if inconsistent.

        Components holding a value of ``metric`` are judged again at once, so a tightened
        threshold raises its alert now rather than at the next sample.
        """
        check_metric(metric)
        if component is not None:
            _check_component(component)
        with self._lock:
            new = self._table.set(metric, component, warning=warning, critical=critical,
                                  weight=weight)
            now = self.clock()
            events: list[Event] = []
            for name, c in self._components.items():
                if metric in c.latest and component in (None, name):
                    events += self._judge(name, now, [metric])
            return ThresholdInfo(metric, component, new.direction, new.warning, new.critical,
                                 new.weight), events

    def threshold(self, metric: str, component: str | None = None) -> Threshold:
        """The threshold in force for ``metric`` of ``component`` (or the default)."""
        with self._lock:
            return self._table.get(metric, component)

    # -- answers -----------------------------------------------------------------------
    def component(self, name: str) -> ComponentHealth:
        """One component's health; UnknownComponent if nothing is known of it."""
        with self._lock:
            c = self._components.get(name)
            if c is None:
                known = ", ".join(sorted(self._components)) or "none yet"
                raise UnknownComponent(f"no health data for component {name!r} (known: {known})")
            return c.view(self._table.for_component(name), self.trend_window, self.clock(),
                          self._alerts.open_count(name))

    def node(self) -> NodeHealth:
        """The node-wide rollup and every component."""
        with self._lock:
            views = [self.component(n) for n in sorted(self._components)]
            return node_health(views, self._alerts.open_count(), self.clock())

    def alerts(self, *, open_only: bool = False) -> list[Alert]:
        """Alerts oldest first (only the unresolved ones if ``open_only``)."""
        with self._lock:
            return self._alerts.alerts(open_only=open_only)

    def ack(self, alert_id: int) -> tuple[Alert, list[Event]]:
        """Acknowledge an alert: (the alert, events); UnknownAlert if there is no such id."""
        with self._lock:
            events = self._alerts.ack(alert_id, self.clock())
            return self._alerts.get(alert_id), [alert_event(e) for e in events]

    def snapshot(self) -> dict[str, Any]:
        """Alerts and run-time threshold changes, as plain data for the next incarnation."""
        with self._lock:
            return {"alerts": self._alerts.state(), "thresholds": list(self._table.changes)}

    def restore(self, state: dict[str, Any]) -> None:
        """Load a :meth:`snapshot`: alert ids continue, thresholds are set again."""
        with self._lock:
            self._alerts.restore(state.get("alerts") or {"next_id": 1})
            self._table.replay(state.get("thresholds") or [])

    def _component(self, name: str, now: float) -> Component:
        c = self._components.get(name)
        if c is None:
            c = self._components[name] = Component(name, now, self.history_size)
        return c

    def _judge(self, name: str, now: float, metrics: list[str], *,
               conditions: bool = False) -> list[Event]:
        return judge(self._components[name], self._table.for_component(name), self._alerts, now, metrics,
                     conditions=conditions)

    def _availability(self, c: Component, now: float) -> list[Event]:
        share = c.availability(now, self.availability_window)
        if share is None:
            return []
        c.record("availability", share, now)
        return self._judge(c.name, now, ["availability"])


def _check_component(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 200:
        raise InvalidBody(f"component: expected a non-empty name (at most 200 characters), got {name!r}")
    return name
