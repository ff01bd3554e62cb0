"""A supervised actor: its current process, incarnation, counters and health."""

from __future__ import annotations

import logging
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from messages import PLANNED_EXIT_CAUSES, ActorExited, ActorStarted

from ._policy import BackoffState, hang_cause
from ._process import exit_cause, kill_process, terminate_process
from ._recycle import Recycling
from ._reports import supervisor_report
from ._runtime import Runtime
from ._specs import ChildSpec
from ._standby import WarmStandby

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
        self.counters = {"handled": 0, "errors": 0, "bad_input": 0, "mailbox": 0,
                         "expected_errors": 0}
        self.snapshot: bytes | None = None
        self.backoff = BackoffState(spec.backoff)
        self._kill_reason: str | None = None
        self.start_failure: str | None = None
        self.standby = WarmStandby(runtime, self.name, enabled=spec.warm_standby)
        self._start_waiters: list[Callable[[bool], None]] = []
        self._stop_waiters: list[Callable[[], None]] = []
        self.recycling = Recycling(spec)

    @property
    def pid(self) -> int | None:
        """The pid of the live incarnation, if any."""
        alive = self.process is not None and self.state in ("starting", "running", "stopping")
        return self.process.pid if alive and self.process is not None else None

    def start(self, done: Callable[[bool], None]) -> None:
        """Begin starting the next incarnation; the node loop keeps serving meanwhile.

        ``done(True)`` once it serves; ``done(False)`` if it ended first, or if its
        ``on_start`` ran past :data:`START_TIMEOUT` (then it is killed, as OTP kills a child
        whose init hangs). Starting a worker that is already starting or running just waits.
        """
        if self.state == "running":
            done(True)
            return
        if self.state == "starting":
            self._start_waiters.append(done)
            return
        if self.state == "stopping":
            self._stop_waiters.append(lambda: self.start(done))
            return
        self.incarnation += 1
        self._kill_reason, self.start_failure = None, None
        spec = self.runtime.host_spec(
            self.name, self.incarnation, self.endpoint, actor=self.spec.actor,
            settings=self.spec.settings, heartbeat_interval=self.spec.heartbeat_interval,
            mailbox_size=self.spec.mailbox_size, on_error=self.spec.on_error)
        self.state = "starting"
        self._start_waiters = [done]
        process = self.standby.take(spec, self.snapshot)
        try:
            self.process = process or self.runtime.launch(spec, self.snapshot)
        except (OSError, EOFError) as exc:  # no process could be made: a failed start
            self._launch_failed(f"start_error: no host process could be started: "
                                f"{type(exc).__name__}: {exc}")
            return
        self.runtime.watch(self)
        incarnation = self.incarnation
        self.runtime.call_later(START_TIMEOUT, lambda: self._start_overdue(incarnation))

    def _launch_failed(self, cause: str) -> None:
        """Fail the start under way without a process (fork refused, forkserver gone):
        its waiters hear False from the loop, as after a host that died starting."""
        supervisor_report(self.parent.name, "start_error", cause, self.name,
                          incarnation=self.incarnation)
        self.state, self.process, self.start_failure = "stopped", None, cause
        waiters, self._start_waiters = self._start_waiters, []

        def failed() -> None:
            for waiter in waiters:
                waiter(False)
        self.runtime.call_later(0.0, failed)

    def _start_overdue(self, incarnation: int) -> None:
        if self.state == "starting" and self.incarnation == incarnation and not self._kill_reason:
            self._kill(f"start_error: on_start did not return within {START_TIMEOUT:g} s")

    def mark_ready(self, endpoint: str, pid: int) -> None:
        """The host reported ``on_start`` done: it serves at ``endpoint``."""
        now = self.runtime.now()
        self.endpoint, self.state = endpoint, "running"
        self.started_at = self.last_beat = now
        self.healthy_since = now
        self.busy_for = 0.0
        log.info("started actor %r incarnation %d pid %d at %s (supervisor %r)",
                 self.name, self.incarnation, pid, endpoint, self.parent.name)
        self.standby.fill()
        self.runtime.publish(ActorStarted(self.name, self.incarnation, pid=pid))
        waiters, self._start_waiters = self._start_waiters, []
        for waiter in waiters:
            waiter(True)

    def heartbeat(self, busy_for: float, counters: dict[str, int]) -> None:
        """A heartbeat from the live incarnation (and the moment to check its limits)."""
        self.last_beat = self.runtime.now()
        self.busy_for = busy_for
        self.counters = counters
        if self.state == "running" and self.process is not None:
            self.recycling.check(self, self.process.pid, counters.get("handled", 0))

    def check_liveness(self, now: float) -> None:
        """Kill the process if it missed its heartbeats or one handler ran past max_busy."""
        if self.state != "running" or self.process is None or self._kill_reason:
            return
        reason = hang_cause(now, self.last_beat, self.busy_for,
                            interval=self.spec.heartbeat_interval,
                            liveness=self.spec.heartbeat_liveness, max_busy=self.spec.max_busy)
        if reason is not None:
            self._kill(reason)

    def _kill(self, reason: str) -> None:
        assert self.process is not None
        log.error("actor %r incarnation %d %s; killing pid %s", self.name, self.incarnation,
                  reason, self.process.pid)
        self._kill_reason = reason
        kill_process(self.process)

    def stop(self, done: Callable[[], None]) -> None:
        """Begin stopping the live incarnation: SIGTERM, then SIGKILL once its ``shutdown``
        grace has passed (at once for ``brutal_kill``). ``done()`` once the process is gone;
        meanwhile the node loop serves on (a snapshot saved in ``on_stop`` is taken)."""
        if self.state in ("stopped", "restarting") or self.process is None:
            self.state = "stopped"
            done()
            return
        self._stop_waiters.append(done)
        if self.state == "stopping":
            return
        self.state = "stopping"
        if self.spec.shutdown == "brutal_kill":
            kill_process(self.process)
            return
        terminate_process(self.process)
        grace, incarnation = float(self.spec.shutdown), self.incarnation
        self.runtime.call_later(grace, lambda: self._grace_over(incarnation, grace))

    def _grace_over(self, incarnation: int, grace: float) -> None:
        if self.state == "stopping" and self.incarnation == incarnation and self.process is not None:
            supervisor_report(self.parent.name, "shutdown_error",
                              f"ignored shutdown for {grace:g} s; killed", self.name,
                              incarnation=self.incarnation)
            kill_process(self.process)

    def ended(self) -> None:
        """The process ended (its sentinel fired): finish the stop or the start it was in,
        or, if it was serving, report the exit to the supervisor."""
        assert self.process is not None
        self.process.join(1.0)
        self.runtime.unwatch(self)
        was, self.state, self.healthy_since = self.state, "stopped", None
        starting, self._start_waiters = self._start_waiters, []
        stopping, self._stop_waiters = self._stop_waiters, []
        if was == "stopping":
            self._publish_exit(self.recycling.cause or "shutdown", context="shutdown")
        else:
            cause = exit_cause(self.process.exitcode, stopping=False, killed_for=self._kill_reason)
            if was == "starting":
                self.start_failure = self.start_failure or cause
            self._publish_exit(cause, context="start_error" if was == "starting" else
                               "child_terminated")
            if was == "running":
                self.parent.child_exited(self, cause)
        for waiter in starting:
            waiter(False)
        for stopped in stopping:
            stopped()

    def _publish_exit(self, cause: str, context: str = "child_terminated") -> None:
        code = self.process.exitcode if self.process is not None else None
        if cause == "normal" or cause.startswith(PLANNED_EXIT_CAUSES):
            log.info("actor %r incarnation %d exited: %s (exit code %s, supervisor %r)",
                     self.name, self.incarnation, cause, code, self.parent.name)
        else:
            supervisor_report(self.parent.name, context, cause, self.name,
                              incarnation=self.incarnation, exit_code=code)
        self.runtime.publish(ActorExited(self.name, self.incarnation, cause,
                                         self.process.pid if self.process else None))

    def describe(self) -> dict[str, Any]:
        """This worker's node in the tree (for ``tree`` and restart counts)."""
        return {"name": self.name, "kind": "worker", "state": self.state,
                "incarnation": self.incarnation, "restarts": self.restarts, "pid": self.pid}
