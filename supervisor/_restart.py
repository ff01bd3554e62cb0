"""One restart a supervisor carries out, as a state machine driven by the node loop.

A restart terminates its bystanders one at a time in reverse start order, waits out the
backoff delay, then starts its children one at a time in start order, each once the one
before serves: OTP's order, without blocking the loop while a child stops or starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ._runtime import Runtime


class Child(Protocol):
    """What a restart needs of a child, worker or supervisor alike."""

    name: str
    state: str

    def start(self, done: Callable[[bool], None]) -> None:
        """Begin starting; ``done(ok)`` once it serves or failed to start."""

    def stop(self, done: Callable[[], None]) -> None:
        """Begin stopping; ``done()`` once it is down."""


class Restart:
    """Stop ``terminate`` (in this order), wait ``delay`` seconds, start ``start`` (in this
    order). A later decision that touches a child this restart has still to act on cancels
    it (:meth:`cancel`): what is in flight finishes, nothing more is begun."""

    def __init__(self, terminate: list[Child], start: list[Child], delay: float, runtime: Runtime,
                 *, failed: Callable[[Restart, Child], None],
                 finished: Callable[[Restart], None]) -> None:
        self._terminate = list(terminate)
        self._start = list(start)
        self._delay = delay
        self._runtime = runtime
        self._failed = failed
        self._finished = finished
        self.cancelled = False

    def pending(self) -> set[str]:
        """Names of the children this restart has still to stop or start."""
        return {c.name for c in self._terminate} | {c.name for c in self._start}

    def terminating(self, name: str) -> bool:
        """Whether child ``name`` is still to be stopped by this restart (its own exit
        meanwhile is no news: OTP consumes it while terminating the child)."""
        return any(c.name == name for c in self._terminate)

    def cancel(self) -> None:
        """Begin nothing more (a later decision took over these children)."""
        self.cancelled = True

    def begin(self) -> None:
        """Stop the first bystander (or go on to the delay and the starts)."""
        if self.cancelled:
            return
        if self._terminate:
            self._terminate[0].stop(self._terminated)
            return
        if self._delay > 0:
            for child in self._start:
                if child.state == "stopped":
                    child.state = "restarting"
            delay, self._delay = self._delay, 0.0
            self._runtime.call_later(delay, self.begin)
            return
        if not self._start:
            self.cancelled = True
            self._finished(self)
            return
        self._start[0].start(self._started)

    def _terminated(self) -> None:
        if not self.cancelled:
            self._terminate.pop(0)
            self.begin()

    def _started(self, ok: bool) -> None:
        if self.cancelled:
            return
        child = self._start.pop(0)
        if ok:
            self.begin()
        else:
            self.cancelled = True
            self._failed(self, child)
