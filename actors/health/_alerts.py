"""The alert book: one open alert per condition, acknowledgement, resolution.

A *condition* is a (component, metric) pair. Hysteresis: while a condition's alert is
open, further bad samples do not open another; a worse level escalates the same alert
(and clears its acknowledgement, since it is news); the alert resolves when a sample
comes back ``ok``. Resolved alerts are kept, oldest dropped first past ``keep``.
"""

from __future__ import annotations

from typing import Any

import attrs

from messages import InvalidBody, from_wire, to_wire

from ._messages import Alert
from ._model import LEVEL_RANK, Level

AlertEvent = tuple[str, Alert]
"""(``opened`` | ``escalated`` | ``resolved`` | ``acknowledged``, the alert after it)."""


class UnknownAlert(LookupError):
    """``health.ack`` named an alert id this monitor never issued (or has forgotten)."""


class AlertBook:
    """Every alert of one monitor; not thread-safe (the monitor holds the lock)."""

    def __init__(self, keep: int = 1000, first_id: int = 1) -> None:
        if keep < 1:
            raise ValueError(f"alerts to keep must be >= 1, got {keep!r}")
        self._keep = keep
        self._next_id = first_id
        self._alerts: dict[int, Alert] = {}
        self._open: dict[tuple[str, str], int] = {}

    def evaluate(self, component: str, metric: str, level: Level, value: float, *,
                 threshold: float | None, now: float, text: str = "") -> list[AlertEvent]:
        """Open, escalate or resolve the alert of (component, metric) for a new sample."""
        key = (component, metric)
        open_id = self._open.get(key)
        if open_id is None:
            if level == "ok":
                return []
            alert = Alert(self._next_id, component, metric, level, value, threshold, now, text)
            self._next_id += 1
            self._alerts[alert.id] = alert
            self._open[key] = alert.id
            self._trim()
            return [("opened", alert)]
        current = self._alerts[open_id]
        if level == "ok":
            del self._open[key]
            done = attrs.evolve(current, resolved=True, resolved_at=now)
            self._alerts[open_id] = done
            return [("resolved", done)]
        if LEVEL_RANK[level] > LEVEL_RANK[current.severity]:
            worse = attrs.evolve(current, severity=level, value=value, threshold=threshold,
                                 message=text or current.message, acknowledged=False,
                                 acknowledged_at=None)
            self._alerts[open_id] = worse
            return [("escalated", worse)]
        return []

    def ack(self, alert_id: int, now: float) -> list[AlertEvent]:
        """Acknowledge an alert; UnknownAlert if there is none by that id."""
        if isinstance(alert_id, bool) or not isinstance(alert_id, int):
            raise InvalidBody(f"alert_id: expected an integer, got {alert_id!r}")
        alert = self._alerts.get(alert_id)
        if alert is None:
            raise UnknownAlert(f"no alert with id {alert_id} (known ids: "
                               f"{_id_range(list(self._alerts))})")
        if alert.acknowledged:
            return []
        done = attrs.evolve(alert, acknowledged=True, acknowledged_at=now)
        self._alerts[alert_id] = done
        return [("acknowledged", done)]

    def get(self, alert_id: int) -> Alert:
        """The alert by id (UnknownAlert if none)."""
        try:
            return self._alerts[alert_id]
        except KeyError:
            raise UnknownAlert(f"no alert with id {alert_id}") from None

    def alerts(self, *, open_only: bool = False) -> list[Alert]:
        """Alerts oldest first; only unresolved ones if ``open_only``."""
        return [a for a in self._alerts.values() if not (open_only and a.resolved)]

    def open_count(self, component: str | None = None) -> int:
        """How many alerts are open (for one component, or in all)."""
        return sum(1 for c, _ in self._open if component is None or c == component)

    def is_open(self, component: str, metric: str) -> bool:
        """Whether the condition (component, metric) has an open alert."""
        return (component, metric) in self._open

    def state(self, resolved: int = 20) -> dict[str, Any]:
        """Plain data for a snapshot: the next id, open alerts and the last resolved ones."""
        closed = [a for a in self._alerts.values() if a.resolved][-resolved:] if resolved else []
        kept = [a for a in self._alerts.values() if not a.resolved or a in closed]
        return {"next_id": self._next_id, "alerts": [to_wire(a) for a in kept]}

    def restore(self, state: dict[str, Any]) -> None:
        """Load :meth:`state` (ids continue where they stopped); InvalidBody if malformed."""
        if not isinstance(state, dict) or not isinstance(state.get("next_id"), int):
            raise InvalidBody("alert state: expected a map with an integer next_id")
        alerts = [from_wire(Alert, a) for a in state.get("alerts") or []]
        self._alerts = {a.id: a for a in alerts}
        self._open = {(a.component, a.metric): a.id for a in alerts if not a.resolved}
        self._next_id = max([state["next_id"], *(a.id + 1 for a in alerts)])

    def _trim(self) -> None:
        excess = len(self._alerts) - self._keep
        for alert_id in list(self._alerts):
            if excess <= 0:
                break
            if self._alerts[alert_id].resolved:
                del self._alerts[alert_id]
                excess -= 1


def _id_range(ids: list[int]) -> str:
    return f"{min(ids)}..{max(ids)}" if ids else "none yet"
