"""Bottleneck detection: pure functions from statistics to alerts with their evidence.

Three kinds, each a function of :class:`~._stats.Stats` only (no clock, no state):

- ``threshold``: the policy's percentile of the fast window exceeds the op's threshold;
- ``jump``: that percentile exceeds ``jump_factor`` times the same percentile of the op's
  own baseline (the long window without the fast window's seconds);
- ``share``: one op takes the largest share of all recorded time, at least ``share``.

Each needs ``min_samples`` samples in every window it reads, so one stray slow call is
not an alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ._stats import Stats

Kind = Literal["threshold", "jump", "share"]


@attrs.frozen
class Policy:
    """What counts as a bottleneck (the detection part of the profiler's settings)."""

    percentile: str = "p99"
    thresholds: Mapping[str, float] = attrs.field(factory=dict)
    default_threshold: float | None = None
    jump_factor: float = 3.0
    share: float = 0.5
    min_samples: int = 20

    def threshold_for(self, op: str) -> float | None:
        """The op's own threshold, else the default one (None: no threshold check)."""
        return self.thresholds.get(op, self.default_threshold)


@attrs.frozen
class Bottleneck:
    """One detected bottleneck: which op, which kind, a one-line summary, and the evidence."""

    op: str
    kind: Kind
    summary: str
    evidence: Mapping[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """(op, kind): a bottleneck stays the same alert while this key stays detected."""
        return self.op, self.kind

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able map (the body of a ``profiler.bottleneck`` event)."""
        return {"op": self.op, "kind": self.kind, "summary": self.summary,
                "evidence": dict(self.evidence)}


def over_threshold(op: str, fast: Stats, policy: Policy) -> Bottleneck | None:
    """``threshold`` if the fast window's percentile is above the op's threshold."""
    limit = policy.threshold_for(op)
    if limit is None or fast.count < policy.min_samples:
        return None
    value = fast.percentile(policy.percentile)
    if value <= limit:
        return None
    return Bottleneck(op, "threshold",
                      f"{op}: {policy.percentile} {value * 1e3:.1f} ms over threshold "
                      f"{limit * 1e3:.1f} ms in the last {fast.window_seconds:.0f} s",
                      {"percentile": policy.percentile, "value": value, "threshold": limit,
                       "count": fast.count, "window_seconds": fast.window_seconds})


def jumped(op: str, fast: Stats, baseline: Stats, policy: Policy) -> Bottleneck | None:
    """``jump`` if the fast window's percentile is ``jump_factor`` times the baseline's."""
    if fast.count < policy.min_samples or baseline.count < policy.min_samples:
        return None
    value, before = fast.percentile(policy.percentile), baseline.percentile(policy.percentile)
    if before <= 0 or value <= policy.jump_factor * before:
        return None
    return Bottleneck(op, "jump",
                      f"{op}: {policy.percentile} jumped {value / before:.1f}x "
                      f"({before * 1e3:.1f} ms -> {value * 1e3:.1f} ms)",
                      {"percentile": policy.percentile, "value": value, "baseline": before,
                       "ratio": value / before, "factor": policy.jump_factor,
                       "count": fast.count, "baseline_count": baseline.count})


def largest_share(per_op: Mapping[str, Stats], policy: Policy) -> Bottleneck | None:
    """``share`` for the op with the most total time, if two or more ops ran and its share
    is at least ``policy.share``."""
    busy = {op: s for op, s in per_op.items() if s.count >= policy.min_samples}
    total = sum(s.total_seconds for s in busy.values())
    if len(busy) < 2 or total <= 0:
        return None
    op = max(busy, key=lambda name: (busy[name].total_seconds, name))
    share = busy[op].total_seconds / total
    if share < policy.share:
        return None
    return Bottleneck(op, "share",
                      f"{op}: {share:.0%} of all recorded time "
                      f"({busy[op].total_seconds:.3f} s of {total:.3f} s)",
                      {"share": share, "op_seconds": busy[op].total_seconds,
                       "total_seconds": total, "ops": len(busy),
                       "window_seconds": busy[op].window_seconds})


def detect(fast: Mapping[str, Stats], baseline: Mapping[str, Stats],
           share_window: Mapping[str, Stats], policy: Policy) -> list[Bottleneck]:
    """Every bottleneck, sorted by op then kind: the per-op checks and the share check."""
    found: list[Bottleneck] = []
    for op, stats in fast.items():
        hit = over_threshold(op, stats, policy)
        if hit is not None:
            found.append(hit)
        base = baseline.get(op)
        if base is not None:
            hit = jumped(op, stats, base, policy)
            if hit is not None:
                found.append(hit)
    share = largest_share(share_window, policy)
    if share is not None:
        found.append(share)
    return sorted(found, key=lambda b: b.key)
