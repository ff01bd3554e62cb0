"""The chaos bench's picture: latency, error rate, health score and faults over time.

Needs matplotlib (the ``plot`` extra); bench_chaos.py prints the figures without it.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"kill": "#d62728", "hang": "#9467bd", "db-down": "#1f77b4", "backends": "#17becf",
           "slow": "#ff7f0e", "corrupt": "#8c564b", "pg-restart": "#2ca02c"}


def draw(figures: dict[str, Any], health: list[tuple[float, float | None, str]], path: str,
         *, title: str) -> None:
    """Four panels over one time axis (seconds from the first fault), faults shaded in all."""
    seconds, faults = figures["seconds"], figures["faults"]
    zero = faults[0]["start"] if faults else (seconds[0]["t"] if seconds else 0.0)
    fig, (lat, err, score, marks) = plt.subplots(
        4, 1, figsize=(13, 9), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2, 1]})
    t = [s["t"] + 0.5 - zero for s in seconds]
    lat.plot(t, [max(s["p50"], 0.01) for s in seconds], lw=1, color="#555", label="p50 (median of agents)")
    lat.plot(t, [max(s["p99"], 0.01) for s in seconds], lw=1.2, color="#d62728", label="p99 (worst agent)")
    lat.set_yscale("log")
    lat.set_ylabel("request latency (ms)")
    lat.legend(loc="upper left", fontsize=8)
    err.fill_between(t, [100 * s["error_rate"] for s in seconds], step="mid", color="#d62728", alpha=0.5)
    err.set_ylabel("failed or rejected (%)")
    err.set_ylim(0, 105)
    ht = [h[0] - zero for h in health if h[1] is not None]
    score.plot(ht, [h[1] for h in health if h[1] is not None], lw=1.2, color="#2ca02c")
    gaps = [h[0] - zero for h in health if h[1] is None]
    score.plot(gaps, [0] * len(gaps), "x", color="#999", ms=4, label="health not answering")
    score.set_ylabel("health score")
    score.set_ylim(0, 105)
    if gaps:
        score.legend(loc="lower left", fontsize=8)
    for i, f in enumerate(faults):
        colour = COLOURS.get(f["fault"], "#333")
        start, end = f["start"] - zero, max(f["end"] - zero, f["start"] - zero + 0.3)
        for ax in (lat, err, score):
            ax.axvspan(start, end, color=colour, alpha=0.15, lw=0)
        marks.axvspan(start, end, color=colour, alpha=0.8, lw=0)
        label = f["fault"] + (f" {f['target']}" if f["fault"] in ("kill", "hang") else "")
        marks.text(start, 0.85 - 0.3 * (i % 3), label, fontsize=7, va="center", ha="left")
        if f.get("recover") is not None:
            marks.plot([end, end + f["recover"]], [0.05, 0.05], color=colour, lw=3)
    marks.set_yticks([])
    marks.set_ylim(0, 1)
    marks.set_ylabel("faults")
    marks.set_xlabel("seconds since the first fault (bars under a fault: time until the fleet "
                     "served cleanly again)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
