"""A supervised actor: its current process, incarnation, counters and health."""

from __future__ import annotations

import logging
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from ._policy import BackoffState
from ._process import Standby, exit_cause, kill_process, stop_process
from ._runtime import Runtime
from ._specs import ChildSpec

if TYPE_CHECKING:
    from ._tree import Supervisor

log = logging.getLogger("supervisor")
START_TIMEOUT = 30.0
"""Seconds a host may take from process start to ``on_start`` returning."""


class Worker:
    """One supervised actor; at most one process (incarnation) alive at a time."""

    def __init__(self, spec: ChildSpec, parent: Supervisor, runtime: Runtime, endpoint: str) -> None:
        self.spec = spec
        self.name = spec.name
        self.parent = parent
        self.runtime = runtime
        self.endpoint = endpoint
        self.incarnation = 0
        self.process: BaseProcess | None = None
        self.state = "stopped"
        self.restarts = 0
        self.started_at = 0.0
        self.healthy_since: float | None = None
        self.last_beat = 0.0
        self.busy_for = 0.0
        self.counters = {"handled": 0, "errors": 0, "bad_input": 0}
        self.snapshot: bytes | None = None
        self.backoff = BackoffState(spec.backoff)
        self._kill_reason: str | None = None
        self.start_failure: str | None = None
        self._standby: Standby | None = None

    @property
    def pid(self) -> int | None:
        """The pid of the live incarnation, if any."""
        return self.process.pid if self.process is not None and self.state != "stopped" else None

    def start(self) -> bool:
        """Start the next incarnation and wait for it to serve; False if it failed to start."""
        self.incarnation += 1
        self._kill_reason, self.start_failure = None, None
        spec = self.runtime.host_spec(
            self.name, self.incarnation, self.endpoint, actor=self.spec.actor,
            settings=self.spec.settings, heartbeat_interval=self.spec.heartbeat_interval,
            mailbox_size=self.spec.mailbox_size, on_error=self.spec.on_error)
        self.state = "starting"
        standby, self._standby = self._standby, None
        process = standby.activate(spec, self.snapshot) if standby is not None else None
        self.process = process or self.runtime.launch(spec, self.snapshot)
        self.runtime.watch(self)
        if self.runtime.wait_ready(self, START_TIMEOUT):
            return True
        if self.process.exitcode is None:  # timed out: OTP kills a child whose init hangs
            self._kill_reason = "start_error: on_start did not return in time"
            kill_process(self.process)
        self.process.join(5.0)
        self.runtime.unwatch(self)
        self.state = "stopped"
        cause = exit_cause(self.process.exitcode, stopping=False, killed_for=self._kill_reason)
        self.start_failure = self.start_failure or cause
        self._publish_exit(cause, context="start_error")
        return False

    def mark_ready(self, endpoint: str, pid: int) -> None:
        """The host reported ``on_start`` done: it serves at ``endpoint``."""
        now = self.runtime.now()
        self.endpoint, self.state = endpoint, "running"
        self.started_at = self.last_beat = now
        self.healthy_since = now
        self.busy_for = 0.0
        log.info("started actor %r incarnation %d pid %d at %s (supervisor %r)",
                 self.name, self.incarnation, pid, endpoint, self.parent.name)
        if self.spec.warm_standby and self._standby is None:
            self._standby = self.runtime.launch_standby(self.name)
        self.runtime.publish("lifecycle.started", {
            "name": self.name, "incarnation": self.incarnation, "event": "started",
            "pid": pid, "cause": ""})

    def heartbeat(self, busy_for: float, counters: dict[str, int]) -> None:
        """A heartbeat from the live incarnation."""
        self.last_beat = self.runtime.now()
        self.busy_for = busy_for
        self.counters = counters

    def check_liveness(self, now: float) -> None:
        """Kill the process if it missed its heartbeats or one handler ran past max_busy."""
        if self.state != "running" or self.process is None or self._kill_reason:
            return
        expiry = self.spec.heartbeat_interval * self.spec.heartbeat_liveness
        silent = now - self.last_beat
        if silent > expiry:
            self._kill(f"hung: no heartbeat for {silent:.2f} s (expiry {expiry:g} s)")
        elif self.spec.max_busy is not None and self.busy_for > self.spec.max_busy:
            self._kill(f"hung: one handler busy for {self.busy_for:.2f} s "
                       f"(max_busy {self.spec.max_busy:g} s)")

    def _kill(self, reason: str) -> None:
        assert self.process is not None
        log.error("actor %r incarnation %d %s; killing pid %s", self.name, self.incarnation,
                  reason, self.process.pid)
        self._kill_reason = reason
        kill_process(self.process)

    def died(self) -> str:
        """The process ended on its own (sentinel fired): record and return the cause."""
        assert self.process is not None
        self.process.join(1.0)
        self.runtime.unwatch(self)
        cause = exit_cause(self.process.exitcode, stopping=False, killed_for=self._kill_reason)
        self.state = "stopped"
        self.healthy_since = None
        self._publish_exit(cause)
        return cause

    def stop(self) -> None:
        """Stop the live incarnation: SIGTERM, grace, then SIGKILL (or brutal_kill)."""
        if self.process is None or self.state == "stopped":
            self.state = "stopped"
            return
        self.runtime.unwatch(self)
        self.state = "stopping"
        grace = None if self.spec.shutdown == "brutal_kill" else float(self.spec.shutdown)
        process = self.process
        killed = stop_process(process, grace,
                              wait=lambda seconds: self.runtime.wait_exit(process, seconds))
        if killed and grace is not None:
            log.error("supervisor report: supervisor=%r context=shutdown_error reason=%r "
                      "offender=%r incarnation=%d", self.parent.name,
                      f"ignored shutdown for {grace:g} s; killed", self.name, self.incarnation)
        self.state = "stopped"
        self.healthy_since = None
        self._publish_exit("shutdown", context="shutdown")

    def _publish_exit(self, cause: str, context: str = "child_terminated") -> None:
        code = self.process.exitcode if self.process is not None else None
        if cause in ("shutdown", "normal"):
            log.info("actor %r incarnation %d exited: %s (exit code %s, supervisor %r)",
                     self.name, self.incarnation, cause, code, self.parent.name)
        else:
            log.error("supervisor report: supervisor=%r context=%s reason=%r offender=%r "
                      "incarnation=%d exit_code=%s", self.parent.name, context, cause, self.name,
                      self.incarnation, code)
        self.runtime.publish("lifecycle.exited", {
            "name": self.name, "incarnation": self.incarnation, "event": "exited",
            "cause": cause, "pid": self.process.pid if self.process else None})

    def discard_standby(self) -> None:
        """Let the waiting standby go (node shutdown): it exits on its closed pipe."""
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.discard()

    def describe(self) -> dict[str, Any]:
        """This worker's node in the tree (for ``tree`` and restart counts)."""
        return {"name": self.name, "kind": "worker", "state": self.state,
                "incarnation": self.incarnation, "restarts": self.restarts, "pid": self.pid}
