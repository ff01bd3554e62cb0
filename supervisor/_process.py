"""Starting, stopping and classifying the exit of actor host processes.

Children start from a forkserver with the runtime preloaded (fast restarts, shared code
pages, no inherited ZeroMQ state). Only a JSON string and msgpack bytes pass to the child
(a warm standby gets them as a :class:`messages.HostOrder` through the codec).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import select
import signal
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Final

import psutil

from actors import BUILTIN_ACTORS, HostSpec, host_main, host_standby
from actors._exitcodes import (
    EXIT_ESCALATE_DIRECTIVE,
    EXIT_HOST_FAULT,
    EXIT_NODE_GONE,
    EXIT_RESTART_DIRECTIVE,
    EXIT_START_FAILED,
    EXIT_STOP_DIRECTIVE,
)
from messages import KIND_TELL, Envelope, HostOrder, encode, to_wire, type_tag

log = logging.getLogger("supervisor")
CANNOT_RUN: Final = frozenset({psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP,
                               psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD})
"""Process states in which a warm standby would not take its orders until something else
happens (SIGCONT, a debugger letting go): it is discarded and a fresh host forked."""

PRELOAD: Final = ("__main__", "actors", "actors._host", "actors.examples", "messages", "zmq",
                  "msgpack", "pykka")
"""Imported once in the forkserver, so a restart is a fork, not an import. ``__main__``
(run_node.py) is multiprocessing's own default: children would otherwise re-import it."""


class Launcher:
    """Starts actor hosts from one preloaded forkserver per node process.

    The forkserver preloads the runtime and the modules of the actors this node runs — not
    every built-in: a host forked from it carries what was preloaded, so preloading, say,
    the model actor's PyTorch would put some 200 MiB into every host's RSS (and its
    ``max_memory``) and seconds into every node's start.
    """

    def __init__(self, actors: Iterable[str] = ()) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        modules = sorted({BUILTIN_ACTORS.get(a, a).partition(":")[0] for a in actors} - set(PRELOAD))
        self._ctx.set_forkserver_preload([*PRELOAD, *modules])

    def start(self, spec: HostSpec, snapshot: bytes | None) -> BaseProcess:
        """Start a host process for ``spec``; returns once the child exists."""
        return self._started(lambda: self._ctx.Process(
            target=host_main, args=(spec.to_json(), snapshot),
            name=f"actor-{spec.name}-{spec.incarnation}", daemon=False))

    def start_standby(self, name: str) -> Standby:
        """Fork a host that waits for its orders: a restart then skips the fork."""
        orders, child_end = self._ctx.Pipe(duplex=False)
        process = self._started(lambda: self._ctx.Process(
            target=host_standby, args=(orders,), name=f"actor-{name}-standby", daemon=False))
        orders.close()
        return Standby(process, child_end)

    def _started(self, make: Callable[[], BaseProcess]) -> BaseProcess:
        """``make()`` started from the forkserver, which is started first if need be.

        The forkserver starts with SIGTERM blocked (hosts unblock it): a SIGTERM sent to
        the node's whole process group, as systemd's default ``KillMode`` does, must not
        end it, since every host dies with it (``PR_SET_PDEATHSIG``) before the node can
        stop them in order. A forkserver that died (killed, OOM) is reaped first so that
        multiprocessing starts a new one: left alone, it would try the dead one's address.
        """
        _reap_dead_forkserver()
        process = make()
        # started apart first: starting it unblocks SIGTERM in the caller, whatever was blocked
        multiprocessing.resource_tracker.ensure_running()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            try:
                process.start()
            except (OSError, EOFError):
                if not _reap_dead_forkserver():
                    raise
                process = make()
                process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return process

    def close(self) -> None:
        """End the forkserver and multiprocessing's resource tracker once every host is
        gone (node shutdown): left alone they notice the node's exit up to a second after
        it, and no process of a node may outlive it."""
        for helper, pid_attr in ((multiprocessing.forkserver._forkserver, "_forkserver_pid"),
                                 (multiprocessing.resource_tracker._resource_tracker, "_pid")):
            pid = getattr(helper, pid_attr, None)  # stdlib privates: absent, nothing to end
            if isinstance(pid, int):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # neither holds anything of ours
            stop = getattr(helper, "_stop", None)
            if callable(stop):
                with contextlib.suppress(OSError):
                    stop()  # closes our end and reaps it


class Standby:
    """A forked, waiting actor host and the pipe that gives it its spec."""

    def __init__(self, process: BaseProcess, orders: Connection) -> None:
        self.process = process
        self._orders = orders

    def activate(self, spec: HostSpec, snapshot: bytes | None) -> BaseProcess | None:
        """Send the spec; the process (now that incarnation), or None if it cannot take it:
        it died, or it is stopped (SIGSTOP, a debugger), which would hold the restart for
        the whole start timeout (hosts do not heartbeat in ``on_start``). A stopped one is
        killed; the caller forks a fresh host instead."""
        state = _state(self.process)
        if state in CANNOT_RUN:
            log.warning("the warm standby of actor %r (pid %s) is %s: discarded, a fresh host "
                        "is forked instead", spec.name, self.process.pid, state)
            self._orders.close()
            stop_process(self.process, grace=None)
            return None
        try:
            order = HostOrder(spec.to_json(), snapshot)
            self._orders.send_bytes(encode(Envelope(KIND_TELL, 0, spec.name, type_tag(order),
                                                    to_wire(order))))
        except OSError:
            return None
        finally:
            self._orders.close()
        return self.process

    def discard(self) -> None:
        """Close the pipe (the standby exits on EOF) and reap it."""
        self._orders.close()
        stop_process(self.process, grace=1.0)


def _state(process: BaseProcess) -> str:
    """The process's state as psutil names it (``dead`` once it has exited)."""
    if process.exitcode is not None or process.pid is None:
        return psutil.STATUS_DEAD
    try:
        return str(psutil.Process(process.pid).status())
    except psutil.NoSuchProcess:
        return psutil.STATUS_DEAD
    except psutil.Error:  # cannot be read: let the order decide
        return psutil.STATUS_RUNNING


def stop_process(process: BaseProcess, grace: float | None) -> bool:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL (``grace=None``: kill at once);
    blocking, for processes outside the node loop's care (a discarded standby).

    Returns True if the process had to be killed.
    """
    killed = False
    if process.exitcode is None:
        if grace is not None:
            terminate_process(process)
            multiprocessing.connection.wait([process.sentinel], grace)
        if process.exitcode is None and not _reaped(process):
            _signal(process, signal.SIGKILL)
            killed = True
    process.join(5.0)
    return killed


def terminate_process(process: BaseProcess) -> None:
    """SIGTERM now: the host stops its actor (``on_stop`` runs) and exits."""
    _signal(process, signal.SIGTERM)


def kill_process(process: BaseProcess) -> None:
    """SIGKILL now (for hung actors and brutal_kill); the sentinel reports the death."""
    _signal(process, signal.SIGKILL)


def _reaped(process: BaseProcess) -> bool:
    process.join(0)
    return process.exitcode is not None


def _signal(process: BaseProcess, sig: signal.Signals) -> None:
    if process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)


def exit_cause(exitcode: int | None, *, stopping: bool, killed_for: str | None) -> str:
    """Why a host ended, in the words the logs and lifecycle events use."""
    if killed_for is not None:
        return killed_for
    if stopping:
        return "shutdown"
    if exitcode == 0:
        return "normal"
    named = {
        EXIT_START_FAILED: "start_error",
        EXIT_RESTART_DIRECTIVE: "restart_directive",
        EXIT_STOP_DIRECTIVE: "stop_directive",
        EXIT_ESCALATE_DIRECTIVE: "escalate_directive",
        EXIT_NODE_GONE: "node_gone",
        EXIT_HOST_FAULT: "host_fault",
    }
    if exitcode in named:
        return named[exitcode]
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _reap_dead_forkserver() -> bool:
    """If the forkserver has died, reap it and forget it (the next start starts another);
    whether it had. Dead means the read end of its "alive" pipe, which only it holds, is
    closed: a poll of our write end reports POLLERR (nothing is written, so nothing reaches
    a live one). Reads multiprocessing's private state; where it differs, nothing is done."""
    server = multiprocessing.forkserver._forkserver
    fd = getattr(server, "_forkserver_alive_fd", None)
    stop = getattr(server, "_stop", None)
    if not isinstance(fd, int) or not callable(stop):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    if not any(events & select.POLLERR for _, events in poller.poll(0)):
        return False
    log.warning("the forkserver has died (hosts forked from it died with it); starting another")
    stop()  # closes our end of its pipe, reaps it
    return True
