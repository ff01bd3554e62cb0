"""What ``run_node.py health`` does: a probe with an exit code, a table, or a live watch.

``health_cli(endpoint)`` prints every component's status and exits 0 when the probe
passes (``ready``: every component live and ready; ``live``: every component running),
``EXIT_UNHEALTHY`` when it fails — the exit-code contract of Kubernetes exec probes.
With ``watch`` it prints each ``health.alert`` / ``health.status`` event as it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final, Literal

import msgpack
import zmq

from actors import connect
from actors._wire import subscribe_confirmed

from ._messages import ComponentHealth, NodeHealth, StatusQuery

EXIT_HEALTHY: Final = 0
EXIT_UNHEALTHY: Final = 4
"""The probe failed: some component is not live (or not ready, for the readiness probe)."""
Probe = Literal["live", "ready"]
WATCH_POLL: Final = 0.5
"""Seconds each poll of the watch waits before it checks for the idle timeout."""


def format_health(view: NodeHealth | ComponentHealth) -> str:
    """A fixed-width table: one line per component, then the node rollup."""
    rows = view.components if isinstance(view, NodeHealth) else [view]
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


def probe_passes(view: NodeHealth | ComponentHealth, probe: Probe) -> bool:
    """Whether the liveness or readiness probe passes for this answer."""
    rows = view.components if isinstance(view, NodeHealth) else [view]
    return all(c.live and (probe == "live" or c.ready) for c in rows if not _on_purpose(c))


def _on_purpose(c: ComponentHealth) -> bool:
    return not c.live and c.cause == "shutdown"


def _yn(flag: bool) -> str:
    return "yes" if flag else "NO"


def health_cli(endpoint: str, *, component: str | None = None, probe: Probe = "ready",
               watch: bool = False, count: int | None = None, timeout: float = 5.0,
               health: str = "health", out: Callable[[str], None] = print) -> int:
    """Run ``run_node.py health``: print the table and return the probe's exit code.

    With ``watch``, print events after the table until ``count`` events (or forever).
    """
    with connect(endpoint, timeout=timeout) as conn:
        view = conn.ask(health, StatusQuery(component), timeout=timeout)
        assert isinstance(view, (NodeHealth, ComponentHealth))
        out(format_health(view))
        if watch:
            watch_events(conn.about(timeout=timeout).events, count=count, out=out)
    return EXIT_HEALTHY if probe_passes(view, probe) else EXIT_UNHEALTHY


def watch_events(events_endpoint: str, *, count: int | None = None, out: Callable[[str], None] = print,
                 idle_timeout: float | None = None) -> int:
    """Print ``health.*`` events from the node's stream as JSON lines; how many were printed."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    printed = 0
    try:
        sub.connect(events_endpoint)
        subscribe_confirmed(sub, b"health.")
        idle = 0.0
        while count is None or printed < count:
            if not sub.poll(int(WATCH_POLL * 1000)):  # finite polls keep Ctrl-C responsive
                idle += WATCH_POLL
                if idle_timeout is not None and idle >= idle_timeout:
                    break
                continue
            idle = 0.0
            topic, data = sub.recv_multipart()[:2]
            if not topic.startswith(b"health."):  # a late node.welcome
                continue
            body = msgpack.unpackb(data, raw=False).get("body")
            out(f"{topic.decode()} {json.dumps(body, sort_keys=True, default=str)}")
            printed += 1
    finally:
        sub.close(linger=0)
        ctx.term()
    return printed
