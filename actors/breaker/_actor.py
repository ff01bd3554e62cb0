"""BreakerActor: the breakers every agent of a node shares, behind ``breaker.*`` messages."""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import random
import threading
import time
from typing import Any

from actors import Actor, Reply, handler
from messages import InvalidBody

from ._book import BreakerBook
from ._caller import run_call
from ._errors import BreakerError, CircuitOpenError
from ._machine import Transition
from ._messages import (
    Acquire,
    AcquireReply,
    BreakerSettings,
    BreakerStatistics,
    Call,
    Configure,
    ForceClosed,
    ForceOpen,
    Record,
    RecordBatch,
    RecordReply,
    Reset,
    StateInfo,
    States,
    StatesReply,
    Stats,
    StatsReply,
)

log = logging.getLogger("actors.breaker")

STATE_TOPIC = "breaker.state"
"""Topic of the events published on every state change (client helpers subscribe)."""


class BreakerActor(Actor):
    """Circuit breakers per named resource, retry policies, and error analytics.

    Decisions are central (one breaker shared by every agent); see ``_guard`` for the
    client helper that checks locally from pushed state.
    """

    expected_errors = (BreakerError,)

    settings_class = BreakerSettings

    def on_start(self) -> None:
        self.settings: BreakerSettings = self.context.settings
        self._stopping = threading.Event()
        self._random = random.Random()
        self.book = BreakerBook(self.settings, time.monotonic, time.time, self._on_transition)
        snapshot: Any = self.context.snapshot
        if isinstance(snapshot, dict):
            for name, state in dict(snapshot.get("forced", {})).items():
                if state == "open":
                    self.book.force_open(str(name), "forced open (restored after restart)")
                elif state == "closed":
                    self.book.force_closed(str(name), "forced closed (restored after restart)")

    def on_stop(self) -> None:
        self._stopping.set()

    # -- the guard protocol ------------------------------------------------------------
    @handler
    def on_acquire(self, msg: Acquire) -> AcquireReply:
        d = self.book.acquire(msg.resource)
        return AcquireReply(d.permitted, d.state, _finite(d.retry_after), d.permit)

    @handler
    def on_record(self, msg: Record) -> RecordReply:
        verdict = self.book.record(msg.resource, msg.ok, msg.seconds, msg.error_class,
                                   message=msg.message, permit=msg.permit,
                                   error_types=msg.error_types)
        return RecordReply(verdict, _wire_state(self.book.state(msg.resource)))

    @handler
    def on_record_batch(self, msg: RecordBatch) -> StatesReply:
        outcomes = msg.outcomes()
        self.book.record_many(outcomes)
        names = sorted({o[0] for o in outcomes})
        return StatesReply([_wire_state(s) for s in self.book.states(names)])

    @handler
    def on_states(self, msg: States) -> StatesReply:
        return StatesReply([_wire_state(s) for s in self.book.states(msg.resources)])

    # -- guarding a call to another actor ----------------------------------------------
    @handler
    def on_call(self, msg: Call) -> concurrent.futures.Future[Any]:
        try:
            policy = msg.retry.apply(self.book.retry_policy(msg.resource)) if msg.retry \
                else self.book.retry_policy(msg.resource)
        except ValueError as exc:
            raise InvalidBody(f"Call.retry: {exc}") from exc
        first = self.book.acquire(msg.resource)
        self.book.calls += 1
        if not first.permitted:
            raise CircuitOpenError(msg.resource, first.state, _finite(first.retry_after))
        timeout = msg.timeout or self.settings.call_timeout
        deadline = time.monotonic() + timeout
        if self.context.deadline is not None:  # never retry past the asker's own deadline
            deadline = min(deadline, time.monotonic() + self.context.deadline - time.time())
        body = {} if msg.body is None else msg.body

        def ask(remaining: float) -> Reply:  # replied as it came: the target's type and body
            reply: Reply = self.context.connection().ask_reply(msg.target, msg.type, body,
                                                               timeout=remaining)
            return reply

        def sleep(seconds: float) -> bool:
            return not self._stopping.wait(seconds)

        return self.context.run_in_thread(
            lambda: run_call(self.book, msg.resource, ask, policy, first=first, deadline=deadline,
                             clock=time.monotonic, sleep=sleep, random=self._random.random))

    # -- analytics and control ---------------------------------------------------------
    @handler
    def on_stats(self, msg: Stats) -> StatsReply:
        return StatsReply(self.book.stats(msg.resource))

    @handler
    def on_force_open(self, msg: ForceOpen) -> StateInfo:
        return self._saved(self.book.force_open(msg.resource, msg.reason))

    @handler
    def on_force_closed(self, msg: ForceClosed) -> StateInfo:
        return self._saved(self.book.force_closed(msg.resource, msg.reason))

    @handler
    def on_reset(self, msg: Reset) -> StateInfo:
        return self._saved(self.book.reset(msg.resource, msg.reason))

    @handler
    def on_configure(self, msg: Configure) -> StateInfo:
        return _wire_state(self.book.configure(msg.resource, msg.breaker, msg.retry))

    def statistics(self) -> BreakerStatistics:
        return self.book.statistics()

    # -- internals -----------------------------------------------------------------------
    def _saved(self, state: StateInfo) -> StateInfo:
        with contextlib.suppress(RuntimeError):  # no snapshot channel in a test harness
            self.context.save_snapshot({"forced": self.book.forced_states()})
        return _wire_state(state)

    def _on_transition(self, t: Transition) -> None:
        log.warning("breaker %r: %s -> %s (%s)%s", t.resource, t.from_state, t.to_state, t.reason,
                    f"; open for {t.open_seconds:.3f} s" if math.isfinite(t.open_seconds)
                    and t.to_state == "open" else "")
        try:
            self.context.publish(STATE_TOPIC, {
                "actor": self.context.name, "resource": t.resource, "state": t.to_state,
                "from": t.from_state, "reason": t.reason, "forced": t.forced,
                "retry_after": _finite(t.open_seconds), "at": time.time()})
        except RuntimeError:  # no event channel (in-process use): the log line is all
            pass
        except Exception:  # an event lost must never fail the call that caused it
            log.exception("breaker %r: could not publish the state change", t.resource)


_FOREVER = 1e9
"""retry_after sent for a breaker forced open (msgpack floats may be inf, JSON may not)."""


def _finite(seconds: float) -> float:
    return seconds if math.isfinite(seconds) else _FOREVER


def _wire_state(state: StateInfo) -> StateInfo:
    return StateInfo(state.resource, state.state, state.forced, _finite(state.retry_after))
