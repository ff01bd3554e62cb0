"""The thin mechanism around the rule engine: facts in, attempts out, on real threads.

:class:`Driver` holds the engine behind one lock. Events (from the watch thread) and
re-read replies become facts; after each change the attempts due now are saved as in
flight (snapshot first, so a crash never repeats them), then carried out on worker
threads. Each outcome is recorded, logged, published as ``recovery.action`` and saved.
Re-reads run on a thread of their own, so a hung source never delays an action.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.breaker import States
from actors.health import AlertsQuery
from actors.profiler import Bottlenecks
from messages import to_wire

from . import _observe
from ._actions import Target, perform
from ._engine import RuleEngine
from ._messages import ACTION_TOPIC, ActionRecord
from ._rules import RecoverySettings
from ._track import Outcome, Task

log = logging.getLogger("actors.recovery")
Clock = Callable[[], float]


class Driver:
    """Runs one :class:`RuleEngine` against a node (thread-safe)."""

    def __init__(self, engine: RuleEngine, settings: RecoverySettings, target: Target,
                 save: Callable[[dict[str, Any]], None], *, clock: Clock = time.monotonic,
                 wall: Clock = time.time) -> None:
        self.engine, self.settings, self.target, self._save_sink = engine, settings, target, save
        self.clock, self.wall = clock, wall
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._actions = concurrent.futures.ThreadPoolExecutor(
            settings.worker_threads, thread_name_prefix="recovery-action")
        self._reads = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recovery-read")
        self.sources = {"bottleneck": settings.profiler, "alert": settings.health,
                        "breaker": settings.breaker}
        self._reading: set[str] = set()
        self._read_at = -float("inf")
        self.events = self.rereads = self.reread_errors = 0
        self.last: ActionRecord | None = None

    def locked(self) -> threading.Lock:
        """The lock around the engine (hold it to read the engine from another thread)."""
        return self._lock

    def close(self) -> None:
        """Stop taking work; attempts in flight finish in the background."""
        self._actions.shutdown(wait=False, cancel_futures=True)
        self._reads.shutdown(wait=False, cancel_futures=True)

    # -- facts in ---------------------------------------------------------------------------
    def on_event(self, topic: str, body: Any) -> None:
        """One event from the node's stream (the watch thread)."""
        try:
            fact = _observe.from_event(topic, body, self.sources) if isinstance(body, dict) else None
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("recovery: skipped a malformed %r event: %s", topic, exc)
            return
        if fact is None:
            return
        with self._lock:
            self.engine.observe(fact, self.clock())
        self.run_due()
        with self._lock:  # counted once its attempts are in flight (tests wait on it)
            self.events += 1

    def on_tick(self) -> None:
        """Timers: attempts that came due, and a re-read every ``sync_interval``."""
        now = self.clock()
        if now - self._read_at >= self.settings.sync_interval:
            self._read_at = now
            with self._lock:
                sources = sorted(self.engine.sources & set(self.sources) - self._reading)
                self._reading.update(sources)
            for source in sources:
                self._reads.submit(self._reread, source)
        self.run_due()

    def _reread(self, source: str) -> None:
        asked_at = self.clock()
        try:
            facts = self._read(source)
        except Exception as exc:  # a source that is down: events and the next re-read cover it
            with self._lock:
                self.reread_errors += 1
                self._reading.discard(source)
            log.debug("recovery: re-reading %s from %r failed: %s", source, self.sources[source], exc)
            return
        with self._lock:
            self._reading.discard(source)
            self.rereads += 1
            self.engine.reread(source, facts, asked_at, self.clock())  # type: ignore[arg-type]
        self.run_due()

    def _read(self, source: str) -> list[_observe.Observation]:
        conn, actor, timeout = self.target.connection, self.sources[source], self.target.timeout
        if source == "bottleneck":
            found = conn.ask(actor, Bottlenecks(), timeout=timeout)["bottlenecks"]
            return [_observe.bottleneck(b, True) for b in found]
        if source == "alert":
            alerts = conn.ask(actor, AlertsQuery(open_only=True), timeout=timeout).alerts
            return [_observe.alert(to_wire(a)) for a in alerts]
        states = conn.ask(actor, States(), timeout=timeout).states
        return [_observe.breaker(to_wire(s)) for s in states]

    # -- attempts out -----------------------------------------------------------------------
    def run_due(self) -> None:
        """Start every attempt due now (saved as in flight before it starts)."""
        with self._lock:
            tasks = self.engine.due(self.clock())
        if not tasks:
            return
        self.save()
        for task in tasks:
            try:
                self._actions.submit(self._attempt, task)
            except RuntimeError:  # shutting down: the snapshot counts it as done
                return

    def _attempt(self, task: Task) -> None:
        outcome = perform(task, self.target)
        with self._lock:
            record = self.engine.finished(task, outcome, self.clock(), self.wall())
            self.last = record
        _log(record, outcome)
        try:
            self.target.publish(ACTION_TOPIC, to_wire(record))
        except Exception as exc:  # an event lost must not lose the action's record
            log.warning("recovery: could not publish the action record: %s", exc)
        self.save()
        self.run_due()

    def save(self) -> None:
        """Hand the engine's state to the node (serialised, so the newest state lands last)."""
        with self._save_lock:
            with self._lock:
                state = self.engine.snapshot()
            try:
                self._save_sink(state)
            except (RuntimeError, TimeoutError) as exc:  # outside a node, or the node is busy
                log.debug("recovery: state not saved: %s", exc)


def _log(record: ActionRecord, outcome: Outcome) -> None:
    if outcome.ok:
        log.info("recovery rule %r on %s: %s %s: %s", record.rule, record.subject, record.step,
                    record.action, record.detail)
    else:
        log.warning("recovery rule %r on %s: %s %s failed (attempt %d, will retry): %s",
                    record.rule, record.subject, record.step, record.action, record.attempt,
                    record.detail)
