"""What ``top`` shows, as plain rows: built from reads and events, sorted and filtered (pure).

:class:`TopModel` keeps the last :class:`~actors.observe.NodeState` and the one before it
(for handled/s), and applies lifecycle events to the actor rows the moment they arrive,
so a crash shows before the next read. The app only draws what :meth:`TopModel.actor_rows`
and the other ``*_rows`` methods return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

import attrs

from actors.observe import NodeState, report_window

SORT_KEYS: Final = ("tree", "name", "state", "restarts", "score", "rate", "p99")
"""What ``s`` cycles through."""
SLOWEST: Final = 8
"""Operations listed under the slowest."""


@attrs.define
class ActorRow:
    """One actor as ``top`` shows it."""

    name: str
    state: str
    pid: int | None
    incarnation: int
    restarts: int
    mailbox: int = 0
    """Most messages found waiting at once during the last heartbeat interval."""
    status: str = "-"
    score: float | None = None
    rate: float | None = None
    """Messages handled per second since the previous read."""
    p99: float | None = None
    """Worst p99 (seconds) over the actor's operations in the profiler's short window."""
    alerts: int = 0
    depth: int = 0
    """How deep in the supervision tree (0: a child of the root supervisor)."""
    supervisor: bool = False
    """A supervisor's row (state and restarts only)."""

    def cells(self, indent: bool = False) -> tuple[str, ...]:
        """The row's text, column by column (see :data:`ACTOR_COLUMNS`); ``indent`` shows
        the depth in the tree."""
        name = ("  " * self.depth + ("▸ " if self.supervisor else "")) if indent else ""
        if self.supervisor:
            return (name + self.name, self.state, "", "", str(self.restarts), "", "", "", "",
                    "", "")
        return (name + self.name, self.state, str(self.pid or "-"), str(self.incarnation),
                str(self.restarts), str(self.mailbox), self.status,
                "-" if self.score is None else f"{self.score:.1f}",
                "-" if self.rate is None else f"{self.rate:.1f}",
                "-" if self.p99 is None else _ms(self.p99), str(self.alerts or ""))


ACTOR_COLUMNS: Final = ("NAME", "STATE", "PID", "INC", "RESTARTS", "MAILBOX", "HEALTH", "SCORE",
                        "HANDLED/S", "P99", "ALERTS")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


class TopModel:
    """The state behind the view; every method is called from the app's thread."""

    def __init__(self) -> None:
        self.state: NodeState | None = None
        self._rows: dict[str, ActorRow] = {}
        self._tree: list[ActorRow] = []
        self.sort = "tree"
        self.filter = ""
        self.events = 0

    def update(self, state: NodeState) -> None:
        """Take a fresh read: every row is rebuilt from it."""
        before, self.state = self.state, state
        health = {c.component: c for c in state.health.components} if state.health else {}
        p99 = _worst_p99(state.report)
        rows = {}
        for a in state.actors:
            c = health.get(a.name)
            rows[a.name] = ActorRow(
                a.name, a.state, a.pid, a.incarnation, a.restarts, a.mailbox,
                status=c.status if c else "-", score=c.score if c else None,
                rate=_rate(before, a.name, a.incarnation, a.handled, state.at),
                p99=p99.get(a.name), alerts=sum(1 for al in state.alerts if al.component == a.name))
        self._rows = rows
        self._tree = list(_tree_rows(state.tree, rows))

    def apply_event(self, topic: str, body: Any) -> bool:
        """Show a lifecycle event at once; whether a row changed."""
        if not topic.startswith("lifecycle.") or not isinstance(body, dict):
            return False
        row = self._rows.get(str(body.get("name")))
        if row is None:
            return False
        self.events += 1
        incarnation = body.get("incarnation")
        event = body.get("event")
        if event == "exited":
            row.state, row.pid = "exited", None
        elif event == "restarting":
            row.state = "restarting"
        elif event == "gave_up":
            row.state = "gave up"
        elif event == "started" and isinstance(incarnation, int):
            if incarnation > row.incarnation:
                row.restarts += 1
            row.state, row.incarnation = "running", incarnation
            pid = body.get("pid")
            row.pid = pid if isinstance(pid, int) else row.pid
        return True

    def actor_rows(self) -> list[ActorRow]:
        """The actors whose name contains the filter, in the chosen order."""
        wanted = self.filter.lower()
        if self.sort == "tree" and self._tree:
            return [r for r in self._tree if wanted in r.name.lower()]
        rows = [r for r in self._rows.values() if wanted in r.name.lower()]
        if self.sort in ("name", "tree"):
            return sorted(rows, key=lambda r: r.name)
        numeric: dict[str, Callable[[ActorRow], Any]] = {
            "restarts": lambda r: -r.restarts, "score": lambda r: r.score or 0.0,
            "rate": lambda r: -(r.rate or 0.0), "p99": lambda r: -(r.p99 or 0.0),
            "state": lambda r: r.state}
        return sorted(rows, key=lambda r: (numeric[self.sort](r), r.name))

    def next_sort(self) -> str:
        """Cycle to the next sort key; its name."""
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        return self.sort

    def summary(self, endpoint: str, error: str = "") -> str:
        """The line above the tables: node, actors, health, order, filter, trouble."""
        state = self.state
        health = state.health if state else None
        parts = [f"node {endpoint}", f"{sum(not r.supervisor for r in self.actor_rows())} actors",
                 f"health {health.status} {health.score:.1f}" if health else "health -",
                 f"sort {self.sort}"]
        if self.filter:
            parts.append(f"filter {self.filter!r}")
        if error:
            parts.append(f"[red]{error}[/red]")
        elif state and state.missing:
            parts.append(f"[yellow]not answering: {', '.join(sorted(state.missing))}[/yellow]")
        return "  |  ".join(parts)

    def alert_rows(self) -> list[tuple[str, ...]]:
        """Open alerts: id, component, metric, severity, acknowledged, message."""
        if self.state is None:
            return []
        return [(str(a.id), a.component, a.metric, a.severity, "yes" if a.acknowledged else "",
                 a.message) for a in self.state.alerts]

    def breaker_rows(self) -> list[tuple[str, ...]]:
        """Breakers: resource, state, window failure rate, calls, rejected, opens."""
        if self.state is None:
            return []
        return [(r.resource, r.state + (" (forced)" if r.forced else ""),
                 f"{r.window_failure_rate:.0%}", str(r.calls), str(r.rejected), str(r.opens))
                for r in sorted(self.state.breakers, key=lambda r: r.resource)]

    def slowest_rows(self) -> list[tuple[str, ...]]:
        """The slowest operations by p99 in the short window: op, p50, p99, rate, count."""
        windows = report_window(self.state.report if self.state else None)
        ranked = sorted(windows, key=lambda item: -item[1].get("p99", 0.0))[:SLOWEST]
        return [(op, _ms(w.get("p50", 0.0)), _ms(w.get("p99", 0.0)), f"{w.get('rate', 0.0):.1f}/s",
                 str(w.get("count", 0))) for op, w in ranked]


def _tree_rows(node: Any, rows: dict[str, ActorRow], depth: int = -1) -> Iterator[ActorRow]:
    """The rows in supervision-tree order, supervisors included (the root itself left out)."""
    if not isinstance(node, dict):
        return
    if node.get("kind") == "supervisor":
        if depth >= 0:
            yield ActorRow(str(node.get("name")), str(node.get("state")), None, 0,
                           int(node.get("restarts") or 0), depth=depth, supervisor=True)
        for child in node.get("children") or []:
            yield from _tree_rows(child, rows, depth + 1)
    elif (row := rows.get(str(node.get("name")))) is not None:
        row.depth = depth
        yield row


def _rate(before: NodeState | None, name: str, incarnation: int, handled: int, at: float) -> float | None:
    if before is None or at <= before.at:
        return None
    old = next((a for a in before.actors if a.name == name), None)
    if old is None:
        return None
    base = old.handled if old.incarnation == incarnation else 0
    return max(0, handled - base) / (at - before.at)


def _worst_p99(report: dict[str, Any] | None) -> dict[str, float]:
    """Per actor, the worst p99 of the operations the host timed (``actor:tag``)."""
    worst: dict[str, float] = {}
    for op, stats in report_window(report):
        actor, sep, _ = op.partition(":")
        if sep:
            worst[actor] = max(worst.get(actor, 0.0), float(stats.get("p99", 0.0)))
    return worst
