"""One read of a node's state, from the answers it already gives: no hot-path hooks.

:class:`NodeReader` asks the front door (``node.status``, ``node.tree``) and the built-in
actors (``health.status``, ``health.alerts``, ``breaker.stats``, ``profiler.report``,
``profiler.buckets``, each pool's ``actor.statistics``) through an ordinary client
connection. Each source is read on its own, with a short timeout; one that is down or
slow is listed in :attr:`NodeState.missing` and the rest is returned, so a view never
stalls on one actor. The metrics collector, ``run_node.py top`` and the dashboard all
read through this class.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import attrs

from actors import Connection
from actors.breaker import ResourceStats, Stats, StatsReply
from actors.health import Alert, AlertList, AlertsQuery, NodeHealth, StatusQuery
from actors.pool import PoolStatistics
from actors.profiler import Buckets, Report
from messages import ActorStatus, CellphoneError

from ._settings import Sources

POOL_TAG = "pool.statistics"
"""The type tag of a pool's ``actor.statistics`` answer: how pools are found."""


@attrs.frozen
class NodeState:
    """Everything one read found; sources that did not answer are in ``missing``."""

    at: float
    """When the read began (Unix time)."""
    actors: list[ActorStatus]
    node_bad_input: int = 0
    tree: dict[str, Any] | None = None
    health: NodeHealth | None = None
    alerts: list[Alert] = attrs.field(factory=list)
    """Open alerts, oldest first."""
    breakers: list[ResourceStats] = attrs.field(factory=list)
    pools: dict[str, PoolStatistics] = attrs.field(factory=dict)
    report: dict[str, Any] | None = None
    """``profiler.report`` for the window asked for."""
    buckets: dict[str, Any] | None = None
    """``profiler.buckets`` at the bounds asked for."""
    missing: dict[str, str] = attrs.field(factory=dict)
    """Source → why it was not read."""


class NodeReader:
    """Reads a node's state through ``connection`` (one thread at a time)."""

    def __init__(self, connection: Connection, sources: Sources | None = None, *,
                 me: str = "") -> None:
        self.connection = connection
        self.sources = sources or Sources()
        self.me = me
        """This observer's own actor name: never probed for being a pool."""
        self._kinds: dict[str, tuple[int, bool]] = {}  # name -> (incarnation, is a pool)

    def read(self, *, tree: bool = True, window: str | None = "10s",
             bounds: Sequence[float] | None = None, alerts: bool = True) -> NodeState:
        """One pass over every source; ``window`` None skips the profiler report, ``bounds``
        None skips the profiler's buckets. Raises only if the node itself does not answer."""
        at = time.time()
        status = self.connection.status(timeout=self.sources.timeout)
        missing: dict[str, str] = {}
        got: dict[str, Any] = {"at": at, "actors": status.actors,
                               "node_bad_input": status.node_bad_input}
        running = {row.name: row for row in status.actors if row.state == "running"}
        s = self.sources
        if tree:
            got["tree"] = self._node("node.tree", missing)
        if s.health and s.health in running:
            health = self._ask(s.health, StatusQuery(), missing)
            got["health"] = health if isinstance(health, NodeHealth) else None
            if alerts:
                found = self._ask(s.health, AlertsQuery(open_only=True), missing, "alerts")
                got["alerts"] = found.alerts if isinstance(found, AlertList) else []
        if s.breaker and s.breaker in running:
            found = self._ask(s.breaker, Stats(), missing)
            got["breakers"] = found.resources if isinstance(found, StatsReply) else []
        if s.profiler and s.profiler in running:
            if window is not None:
                got["report"] = self._ask(s.profiler, Report(window=window), missing, "report")
            if bounds is not None:
                got["buckets"] = self._ask(s.profiler, Buckets(list(bounds)), missing, "buckets")
        got["pools"] = self._pools(running, missing)
        return NodeState(**got, missing=missing)

    def _pools(self, running: dict[str, ActorStatus], missing: dict[str, str]) -> dict[str, PoolStatistics]:
        """Statistics of every pool; an actor is asked what it is once per incarnation."""
        skip = {self.me, self.sources.health, self.sources.breaker, self.sources.profiler}
        pools: dict[str, PoolStatistics] = {}
        for name, row in running.items():
            known = self._kinds.get(name)
            if name in skip or (known is not None and known == (row.incarnation, False)):
                continue
            try:
                reply = self.connection.ask_reply(name, "actor.statistics", {},
                                                  timeout=self.sources.timeout)
            except (CellphoneError, TimeoutError) as exc:
                missing[name] = _why(exc)
                continue
            is_pool = reply.type == POOL_TAG and isinstance(reply.value, PoolStatistics)
            self._kinds[name] = (row.incarnation, is_pool)
            if is_pool:
                pools[name] = reply.value
        for gone in set(self._kinds) - set(running):
            del self._kinds[gone]
        return pools

    def _node(self, tag: str, missing: dict[str, str]) -> Any:
        try:
            return self.connection.ask("node", tag, {}, timeout=self.sources.timeout)
        except (CellphoneError, TimeoutError) as exc:
            missing[tag] = _why(exc)
            return None

    def _ask(self, actor: str, message: Any, missing: dict[str, str], what: str = "") -> Any:
        try:
            return self.connection.ask(actor, message, timeout=self.sources.timeout)
        except (CellphoneError, TimeoutError) as exc:
            missing[f"{actor}.{what}" if what else actor] = _why(exc)
            return None


def report_window(report: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """``(op, stats)`` for each op with samples in a ``profiler.report`` asked for one window."""
    out = []
    for op, entry in ((report or {}).get("ops") or {}).items():
        for stats in (entry.get("windows") or {}).values():
            if stats.get("count"):
                out.append((op, stats))
            break
    return out


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
