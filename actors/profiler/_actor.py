"""The profiler actor: aggregates batches, answers reports, raises bottleneck alerts."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from actors import Actor, ActorContext, handler
from messages import InvalidBody

from ._bottlenecks import Bottleneck, Policy
from ._histogram import Histogram
from ._messages import (
    Bottlenecks,
    Buckets,
    Configure,
    ProfilerSettings,
    ProfilerStatistics,
    Record,
    RecordBatch,
    Report,
    Reset,
    Snapshot,
)
from ._store import ProfileStore, UnknownOperation

log = logging.getLogger(__name__)

ALERT_TOPIC = "profiler.bottleneck"
"""Event topic of bottleneck alerts; body: op, kind, summary, evidence, state, profiler."""


class ProfilerActor(Actor):
    """Response times per operation: windows, percentiles, trends, bottleneck alerts.

    Detection runs on every query and whenever samples arrive: a full pass at most every
    ``detect_interval`` seconds, in between a cheap pass over the ops just recorded (it only
    raises alerts, so an alert never waits for the next full pass). A bottleneck is
    published once when it appears (``state: "raised"``) and once when it goes
    (``state: "cleared"``).
    """

    expected_errors = (UnknownOperation,)

    settings_class = ProfilerSettings

    def __init__(self, context: ActorContext, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(context)
        self.clock = clock

    def on_start(self) -> None:
        s: ProfilerSettings = self.context.settings
        self.store = ProfileStore(s.windows, s.slots, s.sub_bits, _policy(s), max_ops=s.max_ops,
                                  trend_tolerance=s.trend_tolerance, now=self.clock())
        self.detect_interval = s.detect_interval
        self.active: dict[tuple[str, str], tuple[Bottleneck, float]] = {}
        self._detected_at = -math.inf
        self.samples = self.batches = self.refused = self.alerts = self.unpublished = 0
        self.snapshot_interval = s.snapshot_interval
        self._saved_at = self.clock()
        self.restored = self._restore(self.context.snapshot)

    def on_stop(self) -> None:
        self._save()

    # -- surviving a restart -----------------------------------------------------------
    def _save(self) -> None:
        """Hand the since-start totals to the node; the next incarnation starts with them."""
        if not self.snapshot_interval:
            return
        self._saved_at = self.clock()
        totals = {op: entry.total.to_dict() for op, entry in self.store.ops.items()}
        try:
            self.context.save_snapshot({"v": 1, "totals": totals})
        except RuntimeError as exc:  # no snapshot channel (an actor run outside a node)
            log.debug("profiler %r: totals not saved: %s", self.context.name, exc)

    def _restore(self, snapshot: Any) -> int:
        """Since-start totals from the previous incarnation's snapshot; how many ops came back."""
        if not isinstance(snapshot, dict) or snapshot.get("v") != 1:
            return 0
        restored, now = 0, self.clock()
        for op, data in dict(snapshot.get("totals") or {}).items():
            try:
                hist = Histogram.from_dict(data)
            except (ValueError, TypeError, AttributeError) as exc:
                log.warning("profiler %r: snapshot entry %r ignored: %s", self.context.name, op, exc)
                continue
            if hist.sub_bits != self.store.sub_bits:
                hist = hist.rebucket(self.store.sub_bits)
            if isinstance(op, str) and op and self.store.restore_total(op, hist, now):
                restored += 1
        return restored

    # -- recording ---------------------------------------------------------------------
    @handler
    def on_record(self, msg: Record) -> int:
        if not msg.op:
            raise InvalidBody("Record.op: expected a non-empty operation name")
        if msg.seconds < 0 or math.isinf(msg.seconds):
            self.refused += 1
            raise InvalidBody(f"Record.seconds: expected a finite duration >= 0, got {msg.seconds!r}")
        hist = Histogram(self.store.sub_bits)
        hist.record(msg.seconds, msg.ok)
        return self._accept({msg.op: hist})

    @handler
    def on_record_batch(self, msg: RecordBatch) -> int:
        parts: dict[str, Histogram] = {}
        for op, data in msg.ops.items():
            if not op:
                self.refused += 1
                raise InvalidBody("RecordBatch.ops: an operation name is empty")
            try:
                hist = Histogram.from_dict(attrs.asdict(data))
            except ValueError as exc:
                self.refused += 1
                raise InvalidBody(f"RecordBatch.ops.{op}: {exc}") from exc
            if hist.sub_bits != self.store.sub_bits:
                hist = hist.rebucket(self.store.sub_bits)
            parts[op] = hist
        self.batches += 1
        return self._accept(parts)

    def _accept(self, parts: dict[str, Histogram]) -> int:
        now = self.clock()
        accepted = 0
        for op, hist in parts.items():
            if hist.count and self.store.add(op, hist, now):
                accepted += hist.count
        self.samples += accepted
        if now - self._detected_at >= self.detect_interval:
            self._detect(now)
        else:
            self._detect(now, only=parts)
        return accepted

    # -- queries -----------------------------------------------------------------------
    @handler
    def on_report(self, msg: Report) -> dict[str, Any]:
        try:
            return self.store.report(msg.op, msg.window, self.clock())
        except ValueError as exc:
            raise InvalidBody(f"Report.{exc}") from exc

    @handler
    def on_bottlenecks(self, msg: Bottlenecks) -> dict[str, Any]:
        now = self.clock()
        self._detect(now)
        return {"bottlenecks": [{**b.to_dict(), "active_seconds": now - since}
                                for b, since in self.active.values()]}

    @handler
    def on_configure(self, msg: Configure) -> dict[str, Any]:
        policy = self.store.policy
        changes: dict[str, Any] = {k: v for k, v in attrs.asdict(msg).items()
                                   if v is not None and k in attrs.fields_dict(Policy)}
        if msg.clear_default_threshold:
            changes["default_threshold"] = None
        self.store.policy = attrs.evolve(policy, **changes)
        if msg.windows is not None and msg.windows != self.store.windows:
            self.store.reshape(msg.windows)
        self._detect(self.clock())
        return dict(self.store.config())

    @handler
    def on_snapshot(self, msg: Snapshot) -> dict[str, Any]:
        now = self.clock()
        self._detect(now)
        return {"profiler": self.context.name, "wall_time": time.time(),
                "config": dict(self.store.config()),
                "statistics": attrs.asdict(self.statistics()),
                "report": self.store.report(None, None, now),
                "bottlenecks": [{**b.to_dict(), "active_seconds": now - since}
                                for b, since in self.active.values()]}

    @handler
    def on_buckets(self, msg: Buckets) -> dict[str, Any]:
        """``{"ops": {op: {"count", "sum", "errors", "below": [per bound]}}}`` since start."""
        try:  # checks the bounds once, so a bad scrape config shows with no ops too
            Histogram(self.store.sub_bits).below(msg.bounds)
        except ValueError as exc:
            raise InvalidBody(f"Buckets.{exc}") from exc
        ops = {op: {"count": e.total.count, "sum": e.total.total, "errors": e.total.errors,
                    "below": e.total.below(msg.bounds)} for op, e in self.store.ops.items()}
        return {"ops": ops}

    @handler
    def on_reset(self, msg: Reset) -> int:
        forgotten = self.store.reset(msg.op)
        self._detect(self.clock())
        return forgotten

    def statistics(self) -> ProfilerStatistics:
        return ProfilerStatistics(ops=len(self.store.ops), samples=self.samples, batches=self.batches,
                                  refused=self.refused, refused_ops=self.store.refused_ops,
                                  bottlenecks=len(self.active), alerts=self.alerts,
                                  unpublished=self.unpublished)

    # -- detection and alerts ----------------------------------------------------------
    def _detect(self, now: float, only: Iterable[str] | None = None) -> None:
        """Full pass (``only`` None): raise new bottlenecks and clear gone ones. Cheap pass
        over the ops of one batch: only raise, so an alert never waits for the next full pass."""
        found = {b.key: b for b in self.store.bottlenecks(now, only)}
        if only is None:
            self._detected_at = now
            if self.snapshot_interval and now - self._saved_at >= self.snapshot_interval:
                self._save()
            for key in [k for k in self.active if k not in found]:
                gone, _ = self.active.pop(key)
                self._publish(gone, "cleared")
        for key, b in found.items():
            if key in self.active:
                self.active[key] = (b, self.active[key][1])
            else:
                self.active[key] = (b, now)
                self._publish(b, "raised")

    def _publish(self, b: Bottleneck, state: str) -> None:
        if state == "raised":
            self.alerts += 1
            log.warning("profiler %r: bottleneck %s", self.context.name, b.summary)
        try:
            self.context.publish(ALERT_TOPIC, {**b.to_dict(), "state": state,
                                               "profiler": self.context.name})
        except RuntimeError as exc:  # no event channel (an actor run outside a node)
            self.unpublished += 1
            log.debug("profiler %r: alert not published: %s", self.context.name, exc)

def _policy(s: ProfilerSettings) -> Policy:
    return Policy(percentile=s.percentile, thresholds=dict(s.thresholds),
                  default_threshold=s.default_threshold, jump_factor=s.jump_factor, share=s.share,
                  min_samples=s.min_samples)
