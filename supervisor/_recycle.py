"""Recycling: when a child's incarnation has grown too big or served too long, replace it.

The rule is pure (:func:`recycle_cause`). :class:`Recycling`, one per worker, applies it
at every heartbeat to the handled count the host reports and, when the child has a
``max_memory``, the host process's resident set size (:class:`MemoryGauge`); when it is
due, it replaces the incarnation through the worker's own ``stop`` and ``start``.

Memory is RSS (resident set size), as uWSGI's ``reload-on-rss`` and Celery's
``worker_max_memory_per_child`` measure it: cheap to read, and it does not move when
other processes come and go (PSS, which divides shared pages among their sharers, would
grow for every actor when a sibling exits). It includes the runtime pages shared with
the forkserver, so a limit sits above the actor's idle RSS (``status``/health show it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import psutil

from ._specs import ChildSpec

if TYPE_CHECKING:
    from ._worker import Worker

log = logging.getLogger("supervisor")

MIB = 1024 * 1024


def recycle_cause(*, max_memory: float | None, max_messages: int | None, rss_mib: float | None,
                  handled: int) -> str | None:
    """The exit cause if an incarnation is due for recycling, else None.

    ``memory: N MiB > M`` once the RSS exceeds ``max_memory``; ``messages: N >= M`` once
    ``max_messages`` messages were handled (memory first when both hold).
    """
    if max_memory is not None and rss_mib is not None and rss_mib > max_memory:
        return f"memory: {rss_mib:.0f} MiB > {max_memory:g}"
    if max_messages is not None and handled >= max_messages:
        return f"messages: {handled} >= {max_messages}"
    return None


class MemoryGauge:
    """Reads one process's RSS in MiB (None once it is gone)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self._process: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._process = None

    def rss_mib(self) -> float | None:
        """Resident set size now, in MiB."""
        if self._process is None:
            return None
        try:
            return float(self._process.memory_info().rss) / MIB
        except psutil.Error:
            return None


class Recycling:
    """One worker's limits, and the replacement of an incarnation that went past them."""

    def __init__(self, spec: ChildSpec) -> None:
        self.max_memory, self.max_messages = spec.max_memory, spec.max_messages
        self.cause: str | None = None
        """The exit cause of the incarnation being recycled now (None: none is)."""
        self._gauge: MemoryGauge | None = None

    def check(self, worker: Worker, pid: int | None, handled: int) -> None:
        """At a heartbeat of ``worker``'s serving incarnation: recycle it if it is due."""
        if self.cause is not None or pid is None:
            return
        rss = None
        if self.max_memory is not None:
            if self._gauge is None or self._gauge.pid != pid:
                self._gauge = MemoryGauge(pid)
            rss = self._gauge.rss_mib()
        cause = recycle_cause(max_memory=self.max_memory, max_messages=self.max_messages,
                              rss_mib=rss, handled=handled)
        if cause is not None:
            self.recycle(worker, cause)

    def recycle(self, worker: Worker, cause: str) -> None:
        """Replace the serving incarnation by a fresh one: stop it gracefully (the message
        in hand finishes, ``on_stop`` runs and may save a snapshot), then start the next
        (the warm standby). Its exit cause is ``cause``; no restart intensity is spent,
        whatever the restart type. A failed start is then an exit like any other."""
        if worker.state != "running" or self.cause is not None:
            return
        log.info("actor %r incarnation %d is recycled: %s", worker.name, worker.incarnation, cause)
        self.cause = cause

        def started(ok: bool) -> None:
            if not ok and worker.state == "stopped" and worker.parent.state == "running":
                worker.parent.child_exited(worker, worker.start_failure or "start_error")

        def stopped() -> None:
            self.cause = None
            if worker.parent.state == "running" and worker.state == "stopped":  # no shutdown
                worker.start(started)
        worker.stop(stopped)
