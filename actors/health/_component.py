"""One component's state: latest values, history rings, liveness, uptime, status.

Pure bookkeeping: time comes in as an argument, and the thresholds to judge by are passed
in by the monitor (which resolves per-component overrides over the defaults).
"""

from __future__ import annotations

from typing import Any

from ._history import Ring, Trend, trend
from ._messages import ComponentHealth, MetricHealth
from ._model import LEVEL_RANK, HealthStatus, Level, Threshold, status_of, weighted_score
from ._rates import RateSample


class Uptime:
    """Up/down transitions of a supervised component; availability over a window."""

    def __init__(self, now: float, up: bool, keep: int = 256) -> None:
        self._changes: list[tuple[float, bool]] = [(now, up)]
        self._keep = keep

    def mark(self, now: float, up: bool) -> None:
        """Record that the component went up or down at ``now`` (repeats are ignored)."""
        if self._changes[-1][1] != up:
            self._changes.append((now, up))
            del self._changes[:-self._keep]

    def availability(self, now: float, window: float) -> float | None:
        """Share of the observed time within ``window`` seconds before ``now`` spent up.

        None when no time has been observed yet (one instant says nothing about a share).
        """
        start = max(now - window, self._changes[0][0])
        if now <= start:
            return None
        up_time = 0.0
        for i, (t, up) in enumerate(self._changes):
            end = self._changes[i + 1][0] if i + 1 < len(self._changes) else now
            lo, hi = max(t, start), min(end, now)
            if up and hi > lo:
                up_time += hi - lo
        return up_time / (now - start)


class Component:
    """Everything the monitor knows about one component."""

    def __init__(self, name: str, now: float, history_size: int) -> None:
        self.name = name
        self.history_size = history_size
        self.latest: dict[str, tuple[float, float]] = {}
        self.history: dict[str, Ring] = {}
        self.rates: dict[str, RateSample] = {}
        """Counts of each rate metric not judged yet (too few messages so far)."""
        self.scores = Ring(history_size)
        self.live = True
        self.ready = True
        self.cause = ""
        self.stopped_on_purpose = False
        self.supervisor: str | None = None
        self.restarts = 0
        self.incarnation: int | None = None
        self.pid: int | None = None
        self.uptime: Uptime | None = None
        self.details: dict[str, Any] = {}
        self.reported_availability: tuple[float, float] | None = None
        """(time, value) of the last availability the component reported itself, if any."""
        self.status = HealthStatus.EXCELLENT
        self.since = now

    def record(self, metric: str, value: float, now: float) -> None:
        """Store a sample as the latest value and in the metric's ring."""
        self.latest[metric] = (now, value)
        ring = self.history.get(metric)
        if ring is None:
            ring = self.history[metric] = Ring(self.history_size)
        ring.add(now, value)

    def record_counts(self, metric: str, faults: int, messages: int, now: float, *,
                      minimum: int, window: float) -> bool:
        """Add a rate metric's counts; whether its rate was recorded (once the sample
        holds ``minimum`` messages within ``window`` seconds, see :mod:`._rates`)."""
        rate = self.rates.setdefault(metric, RateSample()).add(
            now, faults, messages, minimum=minimum, window=window)
        if rate is None:
            return False
        self.record(metric, rate, now)
        return True

    def record_reported(self, metric: str, value: float, now: float, window: float) -> None:
        """Store a sample the component reported; an availability it reports is capped by
        its uptime over ``window`` (see :meth:`availability`)."""
        if metric == "availability":
            self.reported_availability = (now, value)
            capped = self.availability(now, window)
            value = value if capped is None else capped
        self.record(metric, value, now)

    def availability(self, now: float, window: float) -> float | None:
        """Availability from uptime, capped by the component's own recent figure.

        A component may report availability itself (a pool: the share of connections that
        serve); its process being up must not overwrite that, or the two would take turns and
        the alert would open and resolve at every sampling round."""
        if self.uptime is None or self.stopped_on_purpose:
            return None
        share = self.uptime.availability(now, window)
        reported = self.reported_availability
        if share is not None and reported is not None and now - reported[0] <= window:
            share = min(share, reported[1])
        return share

    def mark_live(self, live: bool, now: float, *, cause: str, incarnation: int | None,
                  pid: int | None, restarts: int | None, on_purpose: bool) -> None:
        """Record that the component's process started (live) or exited; a stop
        ``on_purpose`` (shutdown) does not count against availability."""
        self.stopped_on_purpose = on_purpose and not live
        self.live = live
        self.ready = live  # a started component is taken as ready until a probe says otherwise
        if self.uptime is None:
            self.uptime = Uptime(now, live or self.stopped_on_purpose)
        elif not self.stopped_on_purpose:
            self.uptime.mark(now, live)
        self.cause = cause
        if restarts is not None:
            self.restarts = restarts
        if incarnation is not None:
            self.incarnation = incarnation
        self.pid = pid if live else None

    def mark_ready(self, ready: bool, cause: str) -> bool:
        """Record a readiness probe's outcome; whether readiness changed (a component
        that is down stays not ready)."""
        if self.ready == ready or (ready and not self.live):
            return False
        self.ready = ready
        if cause:
            self.cause = cause
        return True

    def attach(self, details: dict[str, Any] | None, restarts: int | None,
               supervisor: str | None) -> None:
        """Keep the component's ``statistics``, restart count and supervisor's name."""
        self.supervisor = supervisor or self.supervisor
        if details is not None:
            self.details = details
        if restarts is not None:
            self.restarts = restarts

    def evaluate(self, thresholds: dict[str, Threshold]) -> tuple[float, HealthStatus, Level]:
        """(score, status, worst metric level) from the latest values and liveness."""
        pairs: list[tuple[float, float]] = []
        worst: Level = "ok"
        for metric, (_, value) in self.latest.items():
            t = thresholds[metric]
            pairs.append((t.score(value), t.weight))
            level = t.level(value)
            if LEVEL_RANK[level] > LEVEL_RANK[worst]:
                worst = level
        score = weighted_score(pairs) if self.live else 0.0
        if not self.ready and self.live and worst == "ok":
            worst = "warning"
        return score, status_of(score, worst, alive=self.live), worst

    def view(self, thresholds: dict[str, Threshold], window: float, now: float,
             open_alerts: int) -> ComponentHealth:
        """The ``health.component`` answer for this component."""
        score, status, _ = self.evaluate(thresholds)
        metrics = {m: self._metric_view(m, thresholds[m], window, now) for m in sorted(self.latest)}
        score_trend: Trend = trend(self.scores.window(now, window), window, "higher", 30.0)
        return ComponentHealth(self.name, status.value, round(score, 2), self.live, self.ready,
                               score_trend, metrics, open_alerts, self.restarts,
                               self.incarnation, self.pid, self.since, self.cause,
                               dict(self.details))

    def _metric_view(self, metric: str, t: Threshold, window: float, now: float) -> MetricHealth:
        when, value = self.latest[metric]
        ring = self.history[metric]
        scale = abs(t.critical - t.warning) if t.warning is not None and t.critical is not None \
            and t.critical != t.warning else None
        return MetricHealth(metric, value, t.level(value), round(t.score(value), 2), t.direction,
                            t.warning, t.critical, t.weight,
                            trend(ring.window(now, window), window, t.direction, scale),
                            len(ring), when)
