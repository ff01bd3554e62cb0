"""A supervisor at run time: starts its children in order, applies its strategy when one
exits, counts restart intensity, and escalates to its parent when that is exceeded."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ._policy import ExitDecision, RestartIntensity, decide_exit
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
        self._generation = 0
        self.children: list[Worker | Supervisor] = [
            Supervisor(c, self, runtime, endpoint_for) if isinstance(c, SupervisorSpec)
            else Worker(c, self, runtime, endpoint_for(c.name))
            for c in spec.children
        ]

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> bool:
        """Start every child in order, each waiting until it serves.

        As in OTP, if one fails to start, the ones already started are stopped again and
        the supervisor itself fails to start (False).
        """
        self.state = "running"
        self.intensity = RestartIntensity(self.spec.max_restarts, self.spec.max_seconds)
        for child in self.children:
            if not child.start():
                log.error("supervisor %r: child %r failed to start; stopping the %d started "
                          "before it", self.name, child.name, self.children.index(child))
                self.stop()
                return False
        return True

    def stop(self) -> None:
        """Stop every child in reverse start order, each with its grace period."""
        self._generation += 1
        self.state = "stopped"
        for child in reversed(self.children):
            child.stop()

    def _start_children(self, children: list[Worker | Supervisor]) -> None:
        """(Re)start ``children`` after a failure; one that fails counts as a new failure."""
        generation = self._generation
        for child in children:
            if generation != self._generation or self.state != "running":
                return
            if not child.start():
                cause = "start_error" if isinstance(child, Supervisor) else \
                    (child.start_failure or "start_error")
                log.error("supervisor %r: child %r failed to start (%s)", self.name, child.name, cause)
                self.runtime.call_later(0.0, self._checked(functools.partial(
                    self.child_exited, child, cause)))

    # -- failures --------------------------------------------------------------------
    def child_exited(self, child: Worker | Supervisor, cause: str) -> None:
        """A child ended (it died, failed to start, or gave up): decide as OTP, then act."""
        if self.state != "running":
            return
        held = [(c.name, c.spec.restart) for c in self.children
                if c is child or c.spec.restart != "temporary" or c.state != "stopped"]
        decision = decide_exit(self.spec.strategy, held, child.name, cause, self.intensity,
                               self.runtime.now())
        if decision.action == "give_up":
            self.fail(decision, offender=child.name)
            return
        if decision.action == "keep_down":
            log.info("supervisor %r: %s child %r exited (%s); not restarted",
                     self.name, child.spec.restart, child.name, cause)
            return
        by_name = {c.name: c for c in self.children}
        for name in decision.terminate:
            other = by_name[name]
            other.stop()
            if name not in decision.start:
                log.info("supervisor %r (%s): temporary child %r terminated with %r and not "
                         "restarted", self.name, self.spec.strategy, name, child.name)
        plan = [by_name[name] for name in decision.start]
        for c in plan:
            c.restarts += 1
        now = self.runtime.now()
        delay = child.backoff.next_delay(now, child.healthy_since) if isinstance(child, Worker) else 0.0
        self._generation += 1
        log.info("supervisor %r (%s) restarting %s after %r exited (%s)%s", self.name,
                 self.spec.strategy, [c.name for c in plan], child.name, cause,
                 f" in {delay:.3f} s" if delay else "")
        for c in plan:
            self.runtime.publish("lifecycle.restarting", {
                "name": c.name, "incarnation": getattr(c, "incarnation", 0) + 1,
                "event": "restarting", "cause": cause, "pid": None, "delay": delay})
        if delay > 0:
            for c in plan:
                c.state = "restarting"
            self.runtime.call_later(delay, self._checked(lambda: self._start_children(plan)))
        else:
            self._start_children(plan)

    def fail(self, decision: ExitDecision, offender: str) -> None:
        """Intensity exceeded or escalation: stop all children, then exit to the parent
        with the decision's cause (OTP's ``shutdown`` past the intensity)."""
        log.error("supervisor %r gave up: %s; stopping its children", self.name, decision.reason)
        log.error("supervisor report: supervisor=%r context=shutdown reason=%r offender=%r",
                  self.name, "reached_max_restart_intensity" if decision.exit_cause == "shutdown"
                  else "escalate_directive", offender)
        self.runtime.publish("lifecycle.gave_up", {
            "name": self.name, "incarnation": 0, "event": "gave_up", "cause": decision.reason,
            "pid": None})
        self.stop()
        if self.parent is None:
            self.runtime.root_gave_up(f"supervisor {self.name!r} gave up: {decision.reason}")
        else:
            self.parent.child_exited(self, decision.exit_cause)

    def _checked(self, fn: Callable[[], None]) -> Callable[[], None]:
        """``fn`` that does nothing if this supervisor restarted or stopped meanwhile."""
        generation = self._generation

        def run() -> None:
            if generation == self._generation and self.state == "running":
                fn()
        return run

    # -- run-time control ------------------------------------------------------------
    def find(self, name: str) -> Worker | Supervisor | None:
        """The child (at any depth) named ``name``."""
        for child in self.children:
            if child.name == name:
                return child
            if isinstance(child, Supervisor):
                found = child.find(name)
                if found is not None:
                    return found
        return None

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

