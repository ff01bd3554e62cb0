"""What ``run_node.py health`` does: a probe with an exit code, a table, or a live watch.

``health_cli(endpoint)`` prints every component's status, then a verdict line, and
returns 0 when the probe passes, ``EXIT_UNHEALTHY`` when it fails — the exit-code
contract of Kubernetes exec probes. The rule (README states it the same way):

- ``ready``: every component is live, ready (answers its probe) and at ``min_status`` or
  better (default ``WARNING``: a CRITICAL or FAILED component fails readiness);
- ``live``: every component is live (its process runs).

A child stopped on purpose (``stop-child``, or a clean stop of its supervisor) is left
out of both probes, and the verdict line names it. With ``watch`` the command then
prints each ``health.alert`` / ``health.status`` event as it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final, Literal

from actors import EventReader, connect

from ._messages import ComponentHealth, NodeHealth, StatusQuery
from ._model import HealthStatus

EXIT_HEALTHY: Final = 0
EXIT_UNHEALTHY: Final = 4
"""The probe failed: some component is not live (or not ready, for the readiness probe)."""
Probe = Literal["live", "ready"]
DEFAULT_READY_STATUS: Final = "WARNING"
"""The worst status a component may have and still count as ready."""
WATCH_POLL: Final = 0.5
"""Seconds each poll of the watch waits before it checks for the idle timeout."""


def format_health(view: NodeHealth | ComponentHealth) -> str:
    """A fixed-width table: one line per component, then the node rollup."""
    rows = _rows(view)
    lines = [f"{'COMPONENT':<20} {'STATUS':<9} {'SCORE':>6} {'LIVE':<5} {'READY':<5} "
             f"{'ALERTS':>6} {'TREND':<10} METRICS"]
    for c in rows:
        metrics = " ".join(f"{m}={v.value:.3g}{'!' if v.level != 'ok' else ''}"
                           for m, v in c.metrics.items())
        lines.append(f"{c.component:<20} {c.status:<9} {c.score:>6.1f} {_yn(c.live):<5} "
                     f"{_yn(c.ready):<5} {c.open_alerts:>6} {c.trend:<10} {metrics}")
    if isinstance(view, NodeHealth):
        lines.append(f"node: {view.status} score {view.score:.1f}, {view.open_alerts} open alert(s)")
    return "\n".join(lines)


def probe_passes(view: NodeHealth | ComponentHealth, probe: Probe, *,
                 min_status: str = DEFAULT_READY_STATUS) -> bool:
    """Whether the liveness or readiness probe passes for this answer (rule: module doc)."""
    return not probe_failures(view, probe, min_status=min_status)


def probe_failures(view: NodeHealth | ComponentHealth, probe: Probe, *,
                   min_status: str = DEFAULT_READY_STATUS) -> list[str]:
    """Why the probe fails: one ``"name: reason"`` per failing component (empty: it passes)."""
    floor = HealthStatus(min_status).rank
    failures = []
    for c in _rows(view):
        if _on_purpose(c):
            continue
        if not c.live:
            failures.append(f"{c.component}: not live ({c.cause or 'not running'})")
        elif probe == "ready" and not c.ready:
            failures.append(f"{c.component}: not ready ({c.cause or 'its probe failed'})")
        elif probe == "ready" and HealthStatus(c.status).rank > floor:
            failures.append(f"{c.component}: {c.status}, worse than {min_status}")
    return failures


def verdict(view: NodeHealth | ComponentHealth, probe: Probe, *,
            min_status: str = DEFAULT_READY_STATUS) -> str:
    """The line under the table: whether the probe passes, why not, and who was left out."""
    failures = probe_failures(view, probe, min_status=min_status)
    rule = (f"every component live, ready and {min_status} or better" if probe == "ready"
            else "every component live")
    line = (f"{probe}: yes ({rule})" if not failures
            else f"{probe}: NO ({rule}) — {'; '.join(failures)}")
    left_out = [c.component for c in _rows(view) if _on_purpose(c)]
    if left_out:
        line += f"; not counted, stopped on purpose: {', '.join(left_out)}"
    return line


def _rows(view: NodeHealth | ComponentHealth) -> list[ComponentHealth]:
    return view.components if isinstance(view, NodeHealth) else [view]


def _on_purpose(c: ComponentHealth) -> bool:
    return not c.live and c.cause == "shutdown"


def _yn(flag: bool) -> str:
    return "yes" if flag else "NO"


def health_cli(endpoint: str, *, component: str | None = None, probe: Probe = "ready",
               watch: bool = False, count: int | None = None, timeout: float = 5.0,
               health: str = "health", out: Callable[[str], None] = print,
               min_status: str = DEFAULT_READY_STATUS) -> int:
    """Run ``run_node.py health``: print the table and the verdict, return the exit code.

    With ``watch``, print events after the table until ``count`` events (or forever).
    """
    HealthStatus(min_status)  # ValueError before anything is asked
    with connect(endpoint, timeout=timeout) as conn:
        view = conn.ask(health, StatusQuery(component), timeout=timeout)
        assert isinstance(view, (NodeHealth, ComponentHealth))
        out(format_health(view))
        out(verdict(view, probe, min_status=min_status))
        if watch:
            watch_events(conn.about(timeout=timeout).events, count=count, out=out)
    return EXIT_HEALTHY if probe_passes(view, probe, min_status=min_status) else EXIT_UNHEALTHY


def watch_events(events_endpoint: str, *, count: int | None = None, out: Callable[[str], None] = print,
                 idle_timeout: float | None = None) -> int:
    """Print ``health.*`` events from the node's stream as JSON lines; how many were printed."""
    printed = 0
    with EventReader(events_endpoint, "health.") as reader:
        idle = 0.0
        while count is None or printed < count:
            event = reader.next(WATCH_POLL)  # finite waits keep Ctrl-C responsive
            if event is None:
                idle += WATCH_POLL
                if idle_timeout is not None and idle >= idle_timeout:
                    break
                continue
            idle = 0.0
            out(f"{event.topic} {json.dumps(event.body, sort_keys=True, default=str)}")
            printed += 1
    return printed
