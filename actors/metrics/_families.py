"""A :class:`~actors.observe.NodeState` as Prometheus metric families (pure, no I/O).

Names follow Prometheus' conventions: the ``agentcell_`` prefix, ``_total`` on counters
(added by ``CounterMetricFamily``), base units (seconds), one label per dimension
(``actor``, ``component``, ``op``, ``resource``, ``state``...). A state is exported the
way Prometheus' state sets are: one series per possible state, 1 for the current one.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any, Final

import attrs
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

from actors.health import HealthStatus
from actors.observe import NodeState
from actors.pool import PoolStatistics
from actors.profiler import Histogram

ACTOR_STATES: Final = ("starting", "running", "stopping", "stopped", "restarting")
BREAKER_STATES: Final = ("closed", "open", "half_open")
HEALTH_STATES: Final = tuple(s.value for s in HealthStatus)
POOL_CONNECTION_STATES: Final = ("in_use", "idle", "connecting")


def families(state: NodeState, bounds: Sequence[float]) -> Iterator[Metric]:
    """Every family for one read; ``bounds`` are the histogram buckets (seconds)."""
    yield from actor_families(state)
    yield from supervisor_families(state.tree)
    yield from health_families(state)
    yield from breaker_families(state)
    yield from pool_families(state.pools, bounds)
    yield from profiler_families(state.buckets, bounds)
    missing = GaugeMetricFamily("agentcell_scrape_source_missing",
                                "1 for each source that did not answer this scrape",
                                labels=["source"])
    for source in sorted(state.missing):
        missing.add_metric([source], 1)
    yield missing


def actor_families(state: NodeState) -> Iterator[Metric]:
    """Per actor, from ``node.status``."""
    states = GaugeMetricFamily("agentcell_actor_state", "1 for the state the actor is in",
                               labels=["actor", "state"])
    counters = {key: CounterMetricFamily(f"agentcell_actor_{key}", doc, labels=["actor"])
                for key, doc in (("restarts", "Restarts of the actor by its supervisor"),
                                 ("handled", "Messages handled by the current incarnation"),
                                 ("errors", "Handler errors in the current incarnation "
                                  "that the actor does not list as expected (its faults)"),
                                 ("expected_errors", "Handler errors the actor lists as "
                                  "expected (answers, such as an SQL error) in the current "
                                  "incarnation"),
                                 ("bad_input", "Undecodable or invalid messages refused by "
                                  "the current incarnation"))}
    incarnation = GaugeMetricFamily("agentcell_actor_incarnation",
                                    "Number of the actor's current incarnation", labels=["actor"])
    uptime = GaugeMetricFamily("agentcell_actor_uptime_seconds",
                               "Seconds since the current incarnation started", labels=["actor"])
    waiting = GaugeMetricFamily("agentcell_actor_mailbox_waiting",
                                "Most messages found waiting in the mailbox at once during the "
                                "last heartbeat interval", labels=["actor"])
    for row in state.actors:
        for s in ACTOR_STATES:
            states.add_metric([row.name, s], 1 if row.state == s else 0)
        for key, family in counters.items():
            family.add_metric([row.name], getattr(row, key))
        incarnation.add_metric([row.name], row.incarnation)
        uptime.add_metric([row.name], row.uptime)
        waiting.add_metric([row.name], row.mailbox)
    yield from (states, *counters.values(), incarnation, uptime, waiting)
    yield CounterMetricFamily("agentcell_node_bad_input",
                              "Messages the node's front door refused as bad input",
                              value=state.node_bad_input)


def supervisor_families(tree: dict[str, Any] | None) -> Iterator[Metric]:
    """Restarts per supervisor, from ``node.tree``."""
    family = CounterMetricFamily("agentcell_supervisor_restarts",
                                 "Restarts of children the supervisor carried out",
                                 labels=["supervisor"])
    for node in _walk(tree):
        if node.get("kind") == "supervisor" and isinstance(node.get("restarts"), int):
            family.add_metric([str(node.get("name"))], node["restarts"])
    yield family


def _walk(node: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    yield node
    for child in node.get("children") or []:
        yield from _walk(child)


def health_families(state: NodeState) -> Iterator[Metric]:
    """Per component, from ``health.status``; open alerts from ``health.alerts``."""
    health = state.health
    if health is None:
        return
    score = GaugeMetricFamily("agentcell_health_score", "Weighted health score (0 to 100)",
                              labels=["component"])
    status = GaugeMetricFamily("agentcell_health_status", "1 for the component's status",
                               labels=["component", "state"])
    live = GaugeMetricFamily("agentcell_health_live", "1 if the component is alive",
                             labels=["component"])
    ready = GaugeMetricFamily("agentcell_health_ready", "1 if the component is ready",
                              labels=["component"])
    for c in health.components:
        score.add_metric([c.component], c.score)
        for s in HEALTH_STATES:
            status.add_metric([c.component, s], 1 if c.status == s else 0)
        live.add_metric([c.component], 1 if c.live else 0)
        ready.add_metric([c.component], 1 if c.ready else 0)
    yield from (score, status, live, ready)
    yield GaugeMetricFamily("agentcell_health_node_score", "The node's rollup health score",
                            value=health.score)
    alerts = GaugeMetricFamily("agentcell_health_open_alerts",
                               "Open alerts by component, severity and acknowledgement",
                               labels=["component", "severity", "acknowledged"])
    counts: dict[tuple[str, str, str], int] = {}
    for a in state.alerts:
        key = (a.component, a.severity, "true" if a.acknowledged else "false")
        counts[key] = counts.get(key, 0) + 1
    for key, n in sorted(counts.items()):
        alerts.add_metric(list(key), n)
    yield alerts


def breaker_families(state: NodeState) -> Iterator[Metric]:
    """Per resource, from ``breaker.stats``."""
    states = GaugeMetricFamily("agentcell_breaker_state", "1 for the breaker's state",
                               labels=["resource", "state"])
    calls = CounterMetricFamily("agentcell_breaker_calls", "Calls recorded, by outcome",
                                labels=["resource", "outcome"])
    simple = {key: CounterMetricFamily(f"agentcell_breaker_{key}", doc, labels=["resource"])
              for key, doc in (("rejected_calls", "Calls refused while the breaker was open"),
                               ("slow_calls", "Calls slower than the slow-call threshold"),
                               ("opens", "Times the breaker opened"))}
    errors = CounterMetricFamily("agentcell_breaker_errors", "Failures by error class",
                                 labels=["resource", "error_class"])
    failure_rate = GaugeMetricFamily("agentcell_breaker_failure_rate",
                                     "Failure rate over the breaker's sliding window (0 to 1)",
                                     labels=["resource"])
    for r in state.breakers:
        for s in BREAKER_STATES:
            states.add_metric([r.resource, s], 1 if r.state == s else 0)
        for outcome, n in (("success", r.successes), ("failure", r.failures),
                           ("ignored", r.ignored)):
            calls.add_metric([r.resource, outcome], n)
        for key, n in (("rejected_calls", r.rejected), ("slow_calls", r.slow), ("opens", r.opens)):
            simple[key].add_metric([r.resource], n)
        for kind, n in sorted(r.errors_by_class.items()):
            errors.add_metric([r.resource, kind], n)
        failure_rate.add_metric([r.resource], r.window_failure_rate)
    yield from (states, calls, *simple.values(), errors, failure_rate)


def pool_families(pools: dict[str, PoolStatistics], bounds: Sequence[float]) -> Iterator[Metric]:
    """Per pool actor, from its ``actor.statistics``."""
    conns = GaugeMetricFamily("agentcell_pool_connections", "The pool's connections by state",
                              labels=["actor", "state"])
    sizes = {key: GaugeMetricFamily(f"agentcell_pool_{key}", doc, labels=["actor"])
             for key, doc in (("min_size", "Configured minimum size"),
                              ("max_size", "Configured maximum size"),
                              ("waiting", "Operations waiting for a connection"),
                              ("availability", "Share of the connections that can serve"))}
    counters = {key: CounterMetricFamily(f"agentcell_pool_{key}", doc, labels=["actor"])
                for key, doc in (("operations", "Operations run, leased ones included"),
                                 ("retries", "Operations retried on a fresh connection"),
                                 ("acquires", "Connections leased for an operation"))}
    errors = CounterMetricFamily("agentcell_pool_errors", "Failed operations by kind",
                                 labels=["actor", "kind"])
    wait = HistogramMetricFamily("agentcell_pool_acquire_wait_seconds",
                                 "Time operations waited for a connection", labels=["actor"])
    for name, p in sorted(pools.items()):
        for s, n in (("in_use", p.in_use), ("idle", p.idle), ("connecting", p.connecting)):
            conns.add_metric([name, s], n)
        for key, gauge in sizes.items():
            gauge.add_metric([name], getattr(p, key))
        for key, counter in counters.items():
            counter.add_metric([name], getattr(p, key))
        for kind, n in sorted(p.errors.items()):
            errors.add_metric([name, kind], n)
        if p.acquire_wait is not None:
            h = Histogram.from_dict(attrs.asdict(p.acquire_wait))
            wait.add_metric([name], _buckets(bounds, h.below(bounds), h.count), h.total)
    yield from (conns, *sizes.values(), *counters.values(), errors, wait)


def profiler_families(buckets: dict[str, Any] | None, bounds: Sequence[float]) -> Iterator[Metric]:
    """Per operation, from ``profiler.buckets`` (since the profiler started)."""
    ops = (buckets or {}).get("ops") or {}
    latency = HistogramMetricFamily("agentcell_operation_duration_seconds",
                                    "How long operations took (handlers, and what agents record)",
                                    labels=["op"])
    errors = CounterMetricFamily("agentcell_operation_errors", "Operations that failed",
                                 labels=["op"])
    for op, entry in sorted(ops.items()):
        latency.add_metric([op], _buckets(bounds, entry["below"], entry["count"]), entry["sum"])
        errors.add_metric([op], entry["errors"])
    yield from (latency, errors)


def _buckets(bounds: Sequence[float], below: Sequence[int], count: int) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs ending with ``+Inf`` (the text format's floats)."""
    return [*zip(_les(tuple(bounds)), map(float, below), strict=True), ("+Inf", float(count))]


@functools.lru_cache(maxsize=8)
def _les(bounds: tuple[float, ...]) -> tuple[str, ...]:
    return tuple(repr(float(b)) for b in bounds)
