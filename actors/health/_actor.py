"""The health actor: the protocol handlers around a :class:`HealthMonitor` and its feeds.

Handlers run on the actor's thread; the lifecycle feed and the sampler run on their own
threads and share only the monitor (which locks). Events the monitor returns are put on
the node's event stream with ``context.publish`` (topics ``health.alert``, ``health.status``).
"""

from __future__ import annotations

import contextlib
import logging
import threading

import attrs

from actors import Actor, Connection, EventReader, connect, handler

from ._alerts import UnknownAlert
from ._feed import LifecycleFeed, Sampler
from ._judge import Event
from ._messages import (
    Accepted,
    Ack,
    Alert,
    AlertList,
    AlertsQuery,
    ComponentHealth,
    Configure,
    NodeHealth,
    Report,
    ReportBatch,
    StatusQuery,
    ThresholdInfo,
)
from ._monitor import UnknownComponent
from ._settings import HealthSettings, build_monitor

log = logging.getLogger("actors.health")
JOIN_TIMEOUT = 2.0
"""How long ``on_stop`` waits for each feed thread."""


@attrs.frozen
class HealthStatistics:
    """What the health actor has done (its answer to ``actor.statistics``)."""

    components: int
    reports: int
    rejected: int
    open_alerts: int
    alerts: int
    events_published: int
    lifecycle_events: int
    sample_rounds: int


class HealthActor(Actor):
    """Per-component health of a node: reports in, status and alerts out."""

    settings_class = HealthSettings
    expected_errors = (UnknownComponent, UnknownAlert)

    def on_start(self) -> None:
        self.settings: HealthSettings = self.context.settings
        self.monitor = build_monitor(self.settings)
        snapshot = getattr(self.context, "snapshot", None)
        if isinstance(snapshot, dict):
            try:
                self.monitor.restore(snapshot)
            except (ValueError, KeyError, TypeError) as exc:  # never fail a start over old state
                log.warning("health: ignored the previous incarnation's snapshot: %s", exc)
        self._reports = self._rejected = self._published = 0
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._feed_connection: Connection | None = None
        if self.settings.lifecycle or self.settings.sample_interval > 0:
            self._feed_connection = connect(self.context.node_endpoint)  # sockets open lazily
        self.lifecycle: LifecycleFeed | None = None
        self.sampler: Sampler | None = None
        if self.settings.lifecycle:
            self.lifecycle = LifecycleFeed(self.monitor, self._subscribe, self.emit, self._stop)
            self.lifecycle.start()
        if self.settings.sample_interval > 0:
            self.sampler = Sampler(self.monitor, self._connection(), self.emit, self._stop,
                                   interval=self.settings.sample_interval,
                                   probe_timeout=self.settings.probe_timeout)
            self.sampler.start()

    def on_stop(self) -> None:
        self._stop.set()
        for thread in (self.lifecycle, self.sampler):
            if thread is not None:
                thread.join(JOIN_TIMEOUT)
        if self._feed_connection is not None:
            self._feed_connection.close()

    # -- handlers ------------------------------------------------------------------------
    @handler
    def on_report(self, msg: Report) -> Accepted:
        return self._apply([(msg.component, msg.metric, msg.value)])

    @handler
    def on_report_batch(self, msg: ReportBatch) -> Accepted:
        return self._apply([(r.component, r.metric, r.value) for r in msg.reports])

    @handler
    def on_status(self, msg: StatusQuery) -> ComponentHealth | NodeHealth:
        return self.monitor.node() if msg.component is None else self.monitor.component(msg.component)

    @handler
    def on_alerts(self, msg: AlertsQuery) -> AlertList:
        return AlertList(self.monitor.alerts(open_only=msg.open_only))

    @handler
    def on_ack(self, msg: Ack) -> Alert:
        alert, events = self.monitor.ack(msg.alert_id)
        self.emit(events)
        return alert

    @handler
    def on_configure(self, msg: Configure) -> ThresholdInfo:
        info, events = self.monitor.configure(msg.metric, msg.component, warning=msg.warning,
                                              critical=msg.critical, weight=msg.weight)
        self.emit(events)
        self._save()
        return info

    def statistics(self) -> HealthStatistics:
        alerts = self.monitor.alerts()
        return HealthStatistics(
            len(self.monitor.node().components), self._reports, self._rejected,
            sum(1 for a in alerts if not a.resolved), len(alerts), self._published,
            self.lifecycle.received if self.lifecycle else 0,
            self.sampler.rounds if self.sampler else 0)

    # -- mechanism -----------------------------------------------------------------------
    def emit(self, events: list[Event]) -> None:
        """Publish monitor events on the node's stream (any thread; best effort)."""
        if not events:
            return
        publish = getattr(self.context, "publish", None)
        with self._publish_lock:
            for topic, body in events:
                if publish is None:
                    log.info("health event %s %s", topic, body)
                    continue
                try:
                    publish(topic, body)
                    self._published += 1
                except RuntimeError:  # no event channel (an actor built outside a node)
                    log.info("health event %s %s", topic, body)
        if any(topic == "health.alert" for topic, _ in events):
            self._save()

    def _save(self) -> None:
        """Hand alerts and run-time thresholds to the node for the next incarnation."""
        save = getattr(self.context, "save_snapshot", None)
        if save is not None:
            with contextlib.suppress(RuntimeError):  # no snapshot channel outside a node
                save(self.monitor.snapshot())

    def _apply(self, samples: list[tuple[str, str, object]]) -> Accepted:
        try:
            events = self.monitor.report_many(samples)
        except ValueError:
            self._rejected += 1
            raise
        self._reports += len(samples)
        self.emit(events)
        return Accepted(len(samples))

    def _connection(self) -> Connection:
        assert self._feed_connection is not None, "feed connection is made in on_start"
        return self._feed_connection

    def _subscribe(self) -> EventReader:
        return self._connection().subscribe("lifecycle.")
