"""The recovery actor: rules from the config acting on what the profiler, health monitor,
breakers and supervisor report. Thin: the engine decides, the driver carries out."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from actors import Actor, ActorContext, Connection, connect, handler

from ._actions import Target
from ._driver import Driver
from ._engine import RuleEngine
from ._messages import RecoveryStatistics, RecoveryStatus, StatusQuery
from ._rules import RecoverySettings
from ._watch import EventWatch

log = logging.getLogger("actors.recovery")
JOIN_TIMEOUT = 2.0
"""How long ``on_stop`` waits for the event thread."""


class RecoveryActor(Actor):
    """Runs the node's recovery rules; answers ``recovery.status``.

    Its state (what is in force, cooldowns, the action history) is saved as a snapshot
    before and after every action, so a restarted recovery actor neither repeats nor
    forgets an action.
    """

    settings_class = RecoverySettings

    def __init__(self, context: ActorContext, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(context)
        self.clock = clock

    def on_start(self) -> None:
        s: RecoverySettings = self.context.settings
        self.engine = RuleEngine(s.rules, retry_initial=s.retry_initial, retry_max=s.retry_max,
                                 history=s.history)
        restored = self.engine.restore(self.context.snapshot)
        if restored:
            log.info("recovery: %d rule state(s) taken over from the previous incarnation", restored)
        self._connection: Connection = connect(self.context.node_endpoint)
        target = Target(self._connection, self._publish, self.context.name, s.breaker, s.ask_timeout)
        self.driver = Driver(self.engine, s, target, self.context.save_snapshot, clock=self.clock)
        self._stop = threading.Event()
        self.watch = EventWatch(lambda topics: self._connection.subscribe(*topics),
                                self.driver.on_event, self.driver.on_tick, self._stop)
        self.watch.start()

    def on_stop(self) -> None:
        self._stop.set()
        self.watch.join(JOIN_TIMEOUT)
        self.driver.close()  # state was saved after every action; on_stop cannot save (the
        # host's control loop, which carries snapshots, is waiting for this actor to stop)
        self._connection.close()

    @handler
    def on_status(self, msg: StatusQuery) -> RecoveryStatus:
        with self.driver.locked():
            rules = self.engine.status(self.clock())
            actions = list(self.engine.history)[-msg.last:] if msg.last > 0 else []
        return RecoveryStatus(rules, actions)

    def statistics(self) -> RecoveryStatistics:
        d, e = self.driver, self.engine
        with d.locked():
            last = d.last
            return RecoveryStatistics(
                len(e.rules), e.engaged(), e.in_flight(), e.actions, e.failed, e.throttled,
                d.events, d.rereads, d.reread_errors,
                "" if last is None else f"{last.rule}: {last.step} {last.action} -> "
                                        f"{'ok' if last.ok else 'failed'}: {last.detail}")

    # -- mechanism -----------------------------------------------------------------------
    def _publish(self, topic: str, body: dict[str, Any]) -> None:
        self.context.publish(topic, body)

