"""What the page shows, as JSON-able maps: reads, latency history, breaker transitions.

:class:`DashboardModel` is pure bookkeeping (no I/O, one thread: the server's loop):
:meth:`~DashboardModel.update` takes a read, :meth:`~DashboardModel.note_event` an event,
and :meth:`~DashboardModel.view` gives the map the page draws.
"""

from __future__ import annotations

import collections
from typing import Any

from actors.observe import NodeState, report_window
from messages import to_wire


class DashboardModel:
    """The page's state; ``history`` seconds of p50/p99 per operation are kept."""

    def __init__(self, *, history: float, charts: int, transitions: int, control: bool) -> None:
        self.history, self.charts, self.control = history, charts, control
        self.state: NodeState | None = None
        self.latency: dict[str, collections.deque[tuple[float, float, float]]] = {}
        self.transitions: collections.deque[dict[str, Any]] = collections.deque(maxlen=transitions)
        self.reads = 0

    def update(self, state: NodeState) -> dict[str, list[float]]:
        """Take a read; the latency points it added (op -> [time, p50, p99])."""
        self.state, self.reads = state, self.reads + 1
        added: dict[str, list[float]] = {}
        for op, stats in report_window(state.report):
            point = (state.at, float(stats.get("p50", 0.0)), float(stats.get("p99", 0.0)))
            self.latency.setdefault(op, collections.deque()).append(point)
            added[op] = list(point)
        for op in list(self.latency):
            points = self.latency[op]
            while points and points[0][0] < state.at - self.history:
                points.popleft()
            if not points:
                del self.latency[op]
        return added

    def note_event(self, topic: str, body: Any) -> None:
        """Remember what the page lists from events (breaker transitions)."""
        if topic == "breaker.state" and isinstance(body, dict):
            self.transitions.appendleft({k: body.get(k) for k in
                                         ("resource", "from", "state", "reason", "forced", "at")})

    def charted(self) -> list[str]:
        """The operations charted: the slowest by their latest p99."""
        latest = {op: points[-1][2] for op, points in self.latency.items() if points}
        return sorted(latest, key=lambda op: -latest[op])[:self.charts]

    def view(self, *, full_history: bool) -> dict[str, Any]:
        """The map the page draws; latency history in full, or only the charted ops' names."""
        s = self.state
        out: dict[str, Any] = {"control": self.control, "reads": self.reads,
                               "transitions": list(self.transitions), "charted": self.charted()}
        if full_history:
            out["latency"] = {op: [list(p) for p in self.latency[op]] for op in out["charted"]}
        if s is None:
            return out
        health = s.health
        out.update({
            "at": s.at,
            "tree": s.tree,
            "actors": {a.name: to_wire(a) for a in s.actors},
            "health": None if health is None else {
                "status": health.status, "score": health.score,
                "components": {c.component: {"status": c.status, "score": c.score,
                                             "live": c.live, "ready": c.ready,
                                             "open_alerts": c.open_alerts}
                               for c in health.components}},
            "alerts": [to_wire(a) for a in s.alerts],
            "breakers": [{"resource": r.resource, "state": r.state, "forced": r.forced,
                          "failure_rate": r.window_failure_rate, "calls": r.calls,
                          "rejected": r.rejected, "opens": r.opens} for r in s.breakers],
            "pools": {name: {"size": p.size, "in_use": p.in_use, "idle": p.idle,
                             "waiting": p.waiting, "min_size": p.min_size,
                             "max_size": p.max_size, "availability": p.availability,
                             "backend": p.backend, "operations": p.operations}
                      for name, p in s.pools.items()},
            "missing": s.missing,
        })
        return out

