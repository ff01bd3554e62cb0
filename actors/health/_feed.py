"""What feeds the monitor without user code: lifecycle events and process sampling.

Two background threads of the health actor, each owning its sockets:

- :class:`LifecycleFeed` owns a reader of the node's event stream (topics ``lifecycle.*``)
  and turns started/exited/gave_up into liveness and availability.
- :class:`Sampler` every ``interval`` reads ``node.status`` (pids, counters, restarts),
  samples each process's memory and CPU with psutil, derives throughput and error rate
  from the counters, and probes each running actor with ``actor.statistics``
  (readiness; the round trip is its response time, unless the statistics carry numeric
  fields named ``response_time``, ``error_rate``, ``availability`` or ``throughput``,
  which are then read as those metrics).

The error rate from counts is the share of messages that were the actor's faults:
``errors`` over ``handled + errors + expected_errors`` (an error the actor lists as
expected is an answer, not a fault), or, when the statistics carry the cumulative
integers ``rate_faults`` and ``rate_calls``, their growth (a pool counts the operations
agents run on leased connections there too). The monitor judges it only once the sample
holds ``min_rate_messages`` messages. An ``error_rate`` the statistics state as a figure
is taken as it is, in place of the counts.

Both hand what they learn to the thread-safe :class:`HealthMonitor` and pass the events
it returns to ``emit``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import attrs
import psutil

from actors import EventReader
from messages import PLANNED_EXIT_CAUSES, InvalidBody, LifecycleEvent, to_wire

from ._judge import Event
from ._monitor import HealthMonitor

log = logging.getLogger("actors.health")
Emit = Callable[[list[Event]], None]
POLL_INTERVAL = 0.2
"""Longest a feed thread waits before it checks whether it was told to stop (seconds)."""
MIB = 1024.0 * 1024.0
CPU_WINDOW = 5.0
"""CPU is the mean over this many seconds, so one busy instant (start-up imports) is no alarm."""
CPU_MIN_SPAN = 1.0
"""No CPU figure until a process has been watched this long."""
STATISTICS_METRICS = ("availability", "error_rate", "response_time", "throughput")
"""Fields of an actor's ``statistics`` that, when numeric, are read as these metrics."""
RATE_COUNTS = ("rate_faults", "rate_calls")
"""Cumulative integer fields of an actor's ``statistics`` its error rate is counted from
(faults; calls, faults included), in place of the node's counters."""


class LifecycleFeed(threading.Thread):
    """Subscribes to ``lifecycle.*`` and records liveness; stops when ``stop`` is set.

    ``subscribe`` opens the confirmed reader (on this thread, which then owns it).
    """

    def __init__(self, monitor: HealthMonitor, subscribe: Callable[[], EventReader], emit: Emit,
                 stop: threading.Event) -> None:
        super().__init__(name="health-lifecycle", daemon=True)
        self.monitor, self.subscribe, self.emit, self.stop = monitor, subscribe, emit, stop
        self.subscribed = threading.Event()
        self.received = 0

    def run(self) -> None:
        try:
            reader = self.subscribe()
        except Exception:
            log.exception("health: cannot subscribe to the node's events; no lifecycle feed")
            return
        with reader:
            self.subscribed.set()
            while not self.stop.is_set():
                event = reader.next(POLL_INTERVAL)
                if event is not None and event.lifecycle is not None:
                    self.handle(event.lifecycle)

    def handle(self, event: LifecycleEvent) -> None:
        """Apply one lifecycle event."""
        self.received += 1
        name, kind, cause = event.name, event.event, event.cause
        if kind == "started":
            events = self.monitor.set_live(name, True, incarnation=event.incarnation, pid=event.pid)
        elif kind == "exited":
            events = self.monitor.set_live(name, False, cause=cause, incarnation=event.incarnation,
                                           on_purpose=cause.startswith(PLANNED_EXIT_CAUSES))
        elif kind == "gave_up":
            events = self.monitor.set_live(name, False, cause=f"gave up: {cause}")
        else:
            return
        self.emit(events)


@attrs.define
class _Baseline:
    incarnation: int
    handled: int
    errors: int
    expected_errors: int
    when: float


class _Watched:
    """One actor process: its psutil handle and recent (time, CPU seconds) readings."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.readings: collections.deque[tuple[float, float]] = collections.deque()

    def cpu_percent(self, now: float, cpu_seconds: float) -> float | None:
        """Mean CPU (% of one core) over the last ``CPU_WINDOW`` s; None before ``CPU_MIN_SPAN``."""
        self.readings.append((now, cpu_seconds))
        while len(self.readings) > 2 and now - self.readings[1][0] >= CPU_WINDOW:
            self.readings.popleft()
        then, before = self.readings[0]
        if now - then < CPU_MIN_SPAN:
            return None
        return max(0.0, 100.0 * (cpu_seconds - before) / (now - then))


class Sampler(threading.Thread):
    """Samples every actor's process and counters each ``interval`` seconds."""

    def __init__(self, monitor: HealthMonitor, connection: Any, emit: Emit, stop: threading.Event,
                 *, interval: float, probe_timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="health-sampler", daemon=True)
        self.monitor, self.connection, self.emit, self.stop = monitor, connection, emit, stop
        self.interval, self.probe_timeout, self.clock = interval, probe_timeout, clock
        self.rounds = 0
        self._procs: dict[int, _Watched] = {}
        self._base: dict[str, _Baseline] = {}
        self._rate_base: dict[str, tuple[int, int]] = {}
        self._probes = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="health-probe")

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                started = self.clock()
                try:
                    self.sample_once()
                except TimeoutError as exc:  # the node is busy (or stopping): skip this round
                    log.warning("health: sampling round skipped: %s", exc)
                except Exception:
                    log.exception("health: a sampling round failed")
                self.rounds += 1
                self.stop.wait(max(0.0, self.interval - (self.clock() - started)))
        finally:
            self._probes.shutdown(wait=True, cancel_futures=True)

    def sample_once(self) -> None:
        """One round: node status, process metrics, counters, probes, availability."""
        rows = self.connection.status(timeout=max(self.probe_timeout, 1.0)).actors
        probes = {row.name: self._probes.submit(self._probe, row.name)
                  for row in rows if row.state == "running"}
        events: list[Event] = []
        counted: dict[str, tuple[int, int]] = {}
        for row in rows:
            events += self._reconcile(row)
            self.monitor.set_details(row.name, restarts=row.restarts, supervisor=row.supervisor)
            samples = self._process_samples(row) + self._counter_samples(row, counted)
            if samples:
                events += self.monitor.report_many(samples)
        pids = {row.pid for row in rows}
        for pid in [p for p in self._procs if p not in pids]:
            del self._procs[pid]
        for name, future in probes.items():
            ok, seconds, details = future.result()
            events += self.monitor.set_ready(name, ok, "" if ok else "probe timed out or failed")
            if ok:
                self.monitor.set_details(name, details)
                events += self._report_statistics(name, details, seconds, counted)
        for name, (faults, messages) in counted.items():
            events += self.monitor.report_rate(name, "error_rate", faults, messages)
        events += self.monitor.tick()
        self.emit(events)

    def _reconcile(self, row: Any) -> list[Event]:
        """Seed liveness from ``node.status``, and repair it if a lifecycle event was missed.

        A row may be older than the events already applied, so it only overrides them when
        it cannot be stale: a newer incarnation running, or the known incarnation stopped.
        """
        running = row.state == "running"
        if not self.monitor.knows_liveness(row.name):
            if row.state in ("starting", "stopping", "restarting"):
                return []  # in between: its lifecycle event or a later round settles it
            return self.monitor.set_live(row.name, running, incarnation=row.incarnation, pid=row.pid,
                                         cause="" if running else row.state, on_purpose=not running)
        view = self.monitor.component(row.name)
        known = view.incarnation or 0
        if running and not view.live and row.incarnation > known:
            return self.monitor.set_live(row.name, True, incarnation=row.incarnation, pid=row.pid)
        if row.state == "stopped" and view.live and row.incarnation >= known:
            return self.monitor.set_live(row.name, False, incarnation=row.incarnation,
                                         cause="stopped (seen by sampling; no exit event)")
        return []

    def _report_statistics(self, name: str, details: dict[str, Any], seconds: float,
                           counted: dict[str, tuple[int, int]]) -> list[Event]:
        """Statistics fields named like a metric are that metric; else the probe's round trip.

        Counts of the error rate in the statistics replace the node's in ``counted``; a
        stated ``error_rate`` figure replaces both."""
        own = self._rate_counts(name, details)
        if own is not None:
            counted[name] = own
        samples: list[tuple[str, str, object]] = [
            (name, m, details[m]) for m in STATISTICS_METRICS
            if isinstance(details.get(m), (int, float)) and not isinstance(details.get(m), bool)
            and not (m == "error_rate" and own is not None)]
        if any(m == "error_rate" for _, m, _ in samples):
            counted.pop(name, None)
        if not any(m == "response_time" for _, m, _ in samples):
            samples.insert(0, (name, "response_time", seconds))
        try:
            return self.monitor.report_many(samples)
        except InvalidBody as exc:
            log.warning("health: statistics of %r not usable as metrics: %s", name, exc)
            return self.monitor.report(name, "response_time", seconds)

    def _rate_counts(self, name: str, details: dict[str, Any]) -> tuple[int, int] | None:
        """(faults, calls) the statistics' ``rate_faults``/``rate_calls`` grew by since the
        last round; (0, 0) the first time; None if the statistics do not carry them."""
        values = [details.get(k) for k in RATE_COUNTS]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            self._rate_base.pop(name, None)
            return None
        faults, calls = cast(list[int], values)
        base = self._rate_base.get(name, (faults, calls))
        self._rate_base[name] = (faults, calls)
        if faults < base[0] or calls < base[1]:  # counted again from zero (a new incarnation)
            base = (0, 0)
        grew = (faults - base[0], calls - base[1])
        return grew if grew[0] <= grew[1] else None

    def _probe(self, name: str) -> tuple[bool, float, dict[str, Any]]:
        started = time.perf_counter()
        try:
            value = self.connection.ask(name, "actor.statistics", {}, timeout=self.probe_timeout)
        except Exception:
            return False, 0.0, {}
        seconds = time.perf_counter() - started
        wire = to_wire(value)
        return True, seconds, wire if isinstance(wire, dict) else {"value": wire}

    def _process_samples(self, row: Any) -> list[tuple[str, str, object]]:
        if row.pid is None or row.state != "running":
            return []
        watched = self._procs.get(row.pid)
        try:
            if watched is None:
                watched = self._procs[row.pid] = _Watched(psutil.Process(row.pid))
            times = watched.proc.cpu_times()
            memory = watched.proc.memory_info().rss / MIB
        except psutil.Error:
            self._procs.pop(row.pid, None)
            return []
        samples: list[tuple[str, str, object]] = [(row.name, "memory", memory)]
        cpu = watched.cpu_percent(self.clock(), times.user + times.system)
        if cpu is not None:
            samples.append((row.name, "cpu", cpu))
        return samples

    def _counter_samples(self, row: Any,
                         counted: dict[str, tuple[int, int]]) -> list[tuple[str, str, object]]:
        """Throughput since the last round; the error rate's counts go into ``counted``."""
        now = self.clock()
        base = self._base.get(row.name)
        self._base[row.name] = _Baseline(row.incarnation, row.handled, row.errors,
                                         row.expected_errors, now)
        if base is None or base.incarnation != row.incarnation or now <= base.when:
            return []
        handled = max(0, row.handled - base.handled)
        errors = max(0, row.errors - base.errors)
        expected = max(0, row.expected_errors - base.expected_errors)
        counted[row.name] = (errors, handled + errors + expected)
        return [(row.name, "throughput", handled / (now - base.when))]
