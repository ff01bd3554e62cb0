"""All samples the profiler holds, per operation and window; queries and detection.

Pure of I/O: every method takes ``now`` (monotonic seconds) from the caller, so tests
drive it with a virtual clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._bottlenecks import Bottleneck, Policy, detect
from ._histogram import Histogram
from ._stats import Stats, stats_of, trend_of
from ._windows import OpWindows

ALL = "all"
"""The window label of everything since the profiler started (or since the op's reset)."""


class UnknownOperation(LookupError):
    """A query named an operation the profiler has no samples of."""


def window_label(seconds: float) -> str:
    """``10s``, ``1m``, ``5m``, ``1h``, ``90s``: the name a report uses for a window."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class ProfileStore:
    """Operations → windows of histograms, bounded by ``max_ops``."""

    def __init__(self, windows: list[float], slots: int, sub_bits: int, policy: Policy, *,
                 max_ops: int, trend_tolerance: float, now: float) -> None:
        self.windows = list(windows)
        self.slots = slots
        self.sub_bits = sub_bits
        self.policy = policy
        self.max_ops = max_ops
        self.trend_tolerance = trend_tolerance
        self.started = now
        self.ops: dict[str, OpWindows] = {}
        self.refused_ops = 0

    @property
    def labels(self) -> list[str]:
        """The window labels a report accepts, shortest first, then ``all``."""
        return [*(window_label(w) for w in self.windows), ALL]

    def add(self, op: str, hist: Histogram, now: float) -> bool:
        """Record ``hist`` for ``op``; False (and counted) when ``max_ops`` ops already exist."""
        entry = self.ops.get(op)
        if entry is None:
            if len(self.ops) >= self.max_ops:
                self.refused_ops += 1
                return False
            entry = self.ops[op] = OpWindows(self.windows, self.slots, self.sub_bits, now)
        entry.add(hist, now)
        return True

    def restore_total(self, op: str, hist: Histogram, now: float) -> bool:
        """Put back an op's since-start total saved by an earlier incarnation (not its windows)."""
        if op not in self.ops and len(self.ops) >= self.max_ops:
            self.refused_ops += 1
            return False
        entry = self.ops.setdefault(op, OpWindows(self.windows, self.slots, self.sub_bits, now))
        entry.total.merge(hist)
        return True

    def reshape(self, windows: list[float]) -> None:
        """Switch to new windows (windowed samples restart empty; since-start totals stay)."""
        self.windows = list(windows)
        for entry in self.ops.values():
            entry.reshape(self.windows, self.slots)

    def reset(self, op: str | None) -> int:
        """Forget one op (or all); returns how many ops were forgotten."""
        if op is None:
            n = len(self.ops)
            self.ops.clear()
            return n
        self._entry(op)
        del self.ops[op]
        return 1

    # -- queries -----------------------------------------------------------------------
    def _entry(self, op: str) -> OpWindows:
        entry = self.ops.get(op)
        if entry is None:
            known = ", ".join(sorted(self.ops)[:20]) or "none yet"
            raise UnknownOperation(f"no samples of operation {op!r}; known operations: {known}")
        return entry

    def _window_index(self, label: str) -> int | None:
        labels = self.labels
        if label not in labels:
            raise ValueError(f"window: expected one of {', '.join(labels)}, got {label!r}")
        index = labels.index(label)
        return None if label == ALL else index

    def stats(self, op: str, label: str, now: float) -> Stats:
        """``op``'s statistics over the window labelled ``label``."""
        entry = self._entry(op)
        index = self._window_index(label)
        if index is None:
            return stats_of(entry.total, max(now - entry.first_seen, 1e-9))
        ring = entry.rings[index]
        return stats_of(ring.current(now), ring.span(now, self.started))

    def trends(self, op: str, now: float) -> dict[str, dict[str, Any]]:
        """Per window: the current window against the one before it."""
        entry = self._entry(op)
        out = {}
        for ring in entry.rings:
            current = stats_of(ring.current(now), ring.span(now, self.started))
            previous = stats_of(ring.previous(now), ring.previous_span(now, self.started))
            trend = trend_of(current, previous, tolerance=self.trend_tolerance,
                             min_samples=self.policy.min_samples)
            out[window_label(ring.window)] = trend.to_dict()
        return out

    def report(self, op: str | None, label: str | None, now: float) -> dict[str, Any]:
        """``{"ops": {op: {"windows": {label: stats}, "trends": {...}}}, ...}``."""
        if label is not None:
            self._window_index(label)
        names = [op] if op is not None else sorted(self.ops)
        labels = [label] if label is not None else self.labels
        ops = {}
        for name in names:
            ops[name] = {"windows": {lb: self.stats(name, lb, now).to_dict() for lb in labels},
                         "trends": self.trends(name, now)}
        return {"uptime": now - self.started, "windows": self.labels, "ops": ops}

    def bottlenecks(self, now: float, only: Iterable[str] | None = None) -> list[Bottleneck]:
        """Run detection over every op (see :mod:`._bottlenecks` for the windows used).

        ``only``: check just these ops' thresholds and jumps (no share check) - the cheap
        pass run on every batch between full passes.
        """
        fast: dict[str, Stats] = {}
        baseline: dict[str, Stats] = {}
        share: dict[str, Stats] = {}
        share_index = min(1, len(self.windows) - 1)
        names = self.ops if only is None else [op for op in only if op in self.ops]
        for name in names:
            entry = self.ops[name]
            first, last = entry.rings[0], entry.rings[-1]
            fast[name] = stats_of(first.current(now), first.span(now, self.started))
            if len(entry.rings) > 1:
                base = last.ended_before(now - first.window, now)
                baseline[name] = stats_of(base, last.window)
            if only is None:
                ring = entry.rings[share_index]
                share[name] = stats_of(ring.current(now), ring.span(now, self.started))
        return detect(fast, baseline, share, self.policy)

    def config(self) -> Mapping[str, Any]:
        """The windows and policy in force, as a JSON-able map."""
        p = self.policy
        return {"windows": list(self.windows), "window_labels": self.labels, "slots": self.slots,
                "sub_bits": self.sub_bits, "percentile": p.percentile,
                "thresholds": dict(p.thresholds), "default_threshold": p.default_threshold,
                "jump_factor": p.jump_factor, "share": p.share, "min_samples": p.min_samples,
                "max_ops": self.max_ops}
