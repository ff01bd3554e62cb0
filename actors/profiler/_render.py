"""Plain-text views of a profiler report, for ``run_node.py profile``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.2f}"


def render_top(report: Mapping[str, Any], *, window: str | None = None, limit: int = 10) -> str:
    """Two tables from a ``profiler.report`` reply: top ops by p99, and by total time.

    ``window`` picks the window (default: the report's first one).
    """
    labels = list(report.get("windows", []))
    label = window or (labels[0] if labels else "all")
    rows = []
    for op, data in report.get("ops", {}).items():
        stats = data.get("windows", {}).get(label)
        if stats and stats["count"]:
            rows.append((op, stats))
    header = (f"{'operation':<32} {'count':>8} {'rate/s':>9} {'p50 ms':>10} {'p99 ms':>10} "
              f"{'max ms':>10} {'total s':>9} {'errors':>7}")

    def table(title: str, key: str) -> list[str]:
        lines = [f"{title} (window {label})", header]
        for op, s in sorted(rows, key=lambda r: -float(r[1][key]))[:limit]:
            lines.append(f"{op[:32]:<32} {s['count']:>8} {s['rate']:>9.1f} {_ms(s['p50'])} "
                         f"{_ms(s['p99'])} {_ms(s['max'])} {s['total_seconds']:>9.3f} {s['errors']:>7}")
        if not rows:
            lines.append("(no samples in this window)")
        return lines

    return "\n".join([*table("Top operations by p99", "p99"), "",
                      *table("Top operations by total time", "total_seconds")])
