"""A supervisor at run time: starts its children in order, applies its strategy when one
exits, counts restart intensity, and escalates to its parent when that is exceeded.

Every operation is a state driven by the node loop (a child is ``starting`` until it
serves, ``stopping`` until it is gone), so the loop serves the front door, deaths and
heartbeats while children start and stop; the order within one operation is OTP's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from messages import ActorRestarting, SupervisorGaveUp

from ._policy import ExitDecision, RestartIntensity, decide_exit
from ._reports import supervisor_report
from ._restart import Child, Restart
from ._runtime import Runtime
from ._specs import SupervisorSpec
from ._worker import Worker

log = logging.getLogger("supervisor")


class Supervisor:
    """Runtime of one :class:`SupervisorSpec` (see module doc)."""

    def __init__(self, spec: SupervisorSpec, parent: Supervisor | None, runtime: Runtime,
                 endpoint_for: Callable[[str], str]) -> None:
        self.spec = spec
        self.name = spec.name
        self.parent = parent
        self.runtime = runtime
        self.state = "stopped"
        self.restarts = 0
        self.intensity = RestartIntensity(spec.max_restarts, spec.max_seconds)
        self._boot_token = 0
        self._boot_waiters: list[Callable[[bool], None]] = []
        self._stop_waiters: list[Callable[[], None]] = []
        self._deferred: list[tuple[Worker | Supervisor, str]] = []
        self._in_progress: list[Restart] = []  # restarts under way
        self.children: list[Worker | Supervisor] = [
            Supervisor(c, self, runtime, endpoint_for) if isinstance(c, SupervisorSpec)
            else Worker(c, self, runtime, endpoint_for(c.name))
            for c in spec.children
        ]

    # -- lifecycle -------------------------------------------------------------------
    def start(self, done: Callable[[bool], None]) -> None:
        """Start every child in order, each once the one before serves; ``done(True)`` then.

        As in OTP, if one fails to start, the ones already started are stopped again (in
        reverse order) and the supervisor fails to start: ``done(False)``. A child that
        exits while its siblings are still starting is dealt with once the start is
        complete, as OTP handles exits only after ``init``.
        """
        if self.state == "running":
            done(True)
        elif self.state == "starting":
            self._boot_waiters.append(done)
        elif self.state == "stopping":
            self._stop_waiters.append(lambda: self.start(done))
        else:
            self.state = "starting"
            self.intensity = RestartIntensity(self.spec.max_restarts, self.spec.max_seconds)
            self._boot_waiters = [done]
            self._boot_token += 1
            self._boot(0, self._boot_token)

    def _boot(self, index: int, token: int) -> None:
        if token != self._boot_token or self.state != "starting":
            return
        if index < len(self.children):
            child = self.children[index]
            child.start(lambda ok: self._boot(index + 1, token) if ok
                        else self._boot_failed(index, token))
            return
        self.state = "running"
        waiters, self._boot_waiters = self._boot_waiters, []
        deferred, self._deferred = self._deferred, []
        for waiter in waiters:
            waiter(True)
        for child, cause in deferred:
            if child.state == "stopped":
                self.child_exited(child, cause)

    def _boot_failed(self, index: int, token: int) -> None:
        if token == self._boot_token:
            log.error("supervisor %r: child %r failed to start; stopping the %d started "
                      "before it", self.name, self.children[index].name, index)
            self.stop(lambda: None)

    def stop(self, done: Callable[[], None]) -> None:
        """Stop every child in reverse start order, each given its grace, then killed;
        ``done()`` once all are down. A start or restart in progress is called off."""
        if self.state == "stopped":
            done()
            return
        self._stop_waiters.append(done)
        if self.state == "stopping":
            return
        self.state = "stopping"
        self._boot_token += 1
        booting, self._boot_waiters = self._boot_waiters, []
        for restart in self._in_progress:
            restart.cancel()
        self._in_progress, self._deferred = [], []

        def stopped() -> None:
            self.state = "stopped"
            waiters, self._stop_waiters = self._stop_waiters, []
            for waiter in booting:
                waiter(False)
            for stopped_waiter in waiters:
                stopped_waiter()
        self._stop_each(list(reversed(self.children)), stopped)

    def _stop_each(self, children: list[Worker | Supervisor], then: Callable[[], None]) -> None:
        if not children:
            then()
        else:
            children[0].stop(lambda: self._stop_each(children[1:], then))

    # -- failures --------------------------------------------------------------------
    def child_exited(self, child: Worker | Supervisor, cause: str) -> None:
        """A child ended on its own (it died, failed to start, or gave up): decide as OTP."""
        if self.state == "starting":
            self._deferred.append((child, cause))
            return
        if self.state != "running" or any(r.terminating(child.name) for r in self._in_progress):
            return
        held = [(c.name, c.spec.restart) for c in self.children
                if c is child or c.spec.restart != "temporary" or c.state != "stopped"]
        decision = decide_exit(self.spec.strategy, held, child.name, cause, self.intensity,
                               self.runtime.now())
        if decision.action == "give_up":
            self.fail(decision, offender=child.name)
        elif decision.action == "keep_down":
            log.info("supervisor %r: %s child %r exited (%s); not restarted",
                     self.name, child.spec.restart, child.name, cause)
        else:
            self._restart(child, cause, decision)

    def _restart(self, child: Worker | Supervisor, cause: str, decision: ExitDecision) -> None:
        by_name = {c.name: c for c in self.children}
        touched = set(decision.terminate) | set(decision.start)
        for other in self._in_progress:
            if other.pending() & touched:
                other.cancel()
        for name in decision.terminate:
            if name not in decision.start:
                log.info("supervisor %r (%s): temporary child %r is terminated with %r and "
                         "not restarted", self.name, self.spec.strategy, name, child.name)
        plan = [by_name[name] for name in decision.start]
        for c in plan:
            c.restarts += 1
        now = self.runtime.now()
        delay = child.backoff.next_delay(now, child.healthy_since) if isinstance(child, Worker) else 0.0
        log.info("supervisor %r (%s) restarting %s after %r exited (%s)%s", self.name,
                 self.spec.strategy, [c.name for c in plan], child.name, cause,
                 f" in {delay:.3f} s" if delay else "")
        for c in plan:
            self.runtime.publish(ActorRestarting(c.name, getattr(c, "incarnation", 0) + 1, cause,
                                                 delay=delay))
        restart = Restart([by_name[name] for name in decision.terminate], list(plan), delay,
                          self.runtime, failed=self._start_failed, finished=self._finished)
        self._in_progress = [r for r in self._in_progress if not r.cancelled] + [restart]
        restart.begin()

    def _finished(self, restart: Restart) -> None:
        self._in_progress = [r for r in self._in_progress if r is not restart]

    def _start_failed(self, restart: Restart, child: Child) -> None:
        """A child of a restart failed to start: as OTP's try_again, it counts as a new
        exit of that child (the strategy and the intensity apply again)."""
        self._finished(restart)
        cause = (child.start_failure or "start_error") if isinstance(child, Worker) else "start_error"
        log.error("supervisor %r: child %r failed to start (%s)", self.name, child.name, cause)

        def again() -> None:
            if isinstance(child, (Worker, Supervisor)) and child.state == "stopped":
                self.child_exited(child, cause)
        self.runtime.call_later(0.0, again)

    def fail(self, decision: ExitDecision, offender: str) -> None:
        """Intensity exceeded or escalation: stop all children, then exit to the parent
        with the decision's cause (OTP's ``shutdown`` past the intensity)."""
        log.error("supervisor %r gave up: %s; stopping its children", self.name, decision.reason)
        supervisor_report(self.name, "shutdown", "reached_max_restart_intensity"
                          if decision.exit_cause == "shutdown" else "escalate_directive", offender)
        self.runtime.publish(SupervisorGaveUp(self.name, 0, decision.reason))
        parent = self.parent
        if parent is None:
            self.stop(lambda: self.runtime.root_gave_up(
                f"supervisor {self.name!r} gave up: {decision.reason}"))
        else:
            self.stop(lambda: parent.child_exited(self, decision.exit_cause))

    # -- run-time view ---------------------------------------------------------------
    def workers(self) -> Iterator[Worker]:
        """Every worker below this supervisor, in start order."""
        for child in self.children:
            if isinstance(child, Supervisor):
                yield from child.workers()
            else:
                yield child

    def describe(self) -> dict[str, Any]:
        """This subtree with states and restart counts (for ``tree``)."""
        return {"name": self.name, "kind": "supervisor", "state": self.state,
                "strategy": self.spec.strategy, "restarts": self.restarts,
                "intensity": f"{self.intensity.count(self.runtime.now())}/{self.spec.max_restarts}"
                             f" in {self.spec.max_seconds:g}s",
                "children": [c.describe() for c in self.children]}

