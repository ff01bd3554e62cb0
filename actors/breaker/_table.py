"""A plain-text table of breakers for the shell (``run_node.py breakers``)."""

from __future__ import annotations

from ._messages import ResourceStats

COLUMNS = ("RESOURCE", "STATE", "RETRY IN", "CALLS", "FAILED", "ERR% (recent)", "SLOW",
           "OPENS", "REJECTED", "RECOVERED", "TOP ERROR")


def breakers_table(rows: list[ResourceStats]) -> str:
    """One line per resource, columns aligned; ``(forced)`` marks a pinned state."""
    lines = [COLUMNS]
    for r in rows:
        top = max(r.errors_by_class.items(), key=lambda kv: kv[1], default=None)
        retry = "forever" if r.forced and r.state == "open" else \
            (f"{r.retry_after:.1f}s" if r.retry_after else "-")
        lines.append((
            r.resource, r.state + (" (forced)" if r.forced else ""), retry, str(r.calls),
            str(r.failures), f"{r.recent_error_rate:.1%}", str(r.slow), str(r.opens),
            str(r.rejected), f"{r.recovery_rate:.0%}", f"{top[0]} x{top[1]}" if top else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)
