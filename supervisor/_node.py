"""The node: one thread, one poll loop over the front door, the control channel, the
process sentinels of every actor host, and timers. Supervisors run inside this loop."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import zmq

from actors import BUILTIN_ACTORS, HostSpec, ServerKeys, bind_socket, close_context, is_local, new_context
from messages import Envelope, ProtocolError, decode

from ._config import NodeConfig
from ._control import ControlChannel
from ._eventstream import EventStream
from ._frontdoor import FrontDoor
from ._process import Launcher, Standby, kill_process
from ._rundir import make_run_dir
from ._specs import ChildSpec
from ._timers import Timers
from ._tree import Supervisor
from ._worker import Worker

log = logging.getLogger("node")
PROFILER_CLASS = "actors.profiler:ProfilerActor"
LIVENESS_TICK = 0.05
"""Seconds between heartbeat-expiry checks of every actor."""


class Node:
    """Runs a config's supervision tree until stopped; see :meth:`run`."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.data_dir = str(Path(config.data_dir).resolve())
        self.run_dir = make_run_dir()
        self.keys = None if config.security is None else ServerKeys.load(config.security.keys)
        """The node's key pair and allowed clients: CURVE on every TCP socket (None: plain)."""
        self.ctx = new_context()
        self.poller = zmq.Poller()
        self.launcher = Launcher(s.actor for s in config.root.walk() if isinstance(s, ChildSpec))
        self.timers = Timers()
        self._sentinels: dict[int, Worker] = {}
        self.stop_requested = False
        self._stopping = False
        self._finished = False
        self.exit_code = 0
        self.bad_input = 0
        self.forbidden = 0
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.poller.register(self._wake_r, zmq.POLLIN)
        self.events = EventStream(self.ctx, self._endpoint("events"), self.keys)
        self.poller.register(self.events.socket, zmq.POLLIN)
        self.control = ControlChannel(self, f"ipc://{self.run_dir}/control.sock")
        self.front = FrontDoor(self, config.endpoint)
        self.root = Supervisor(config.root, None, self, self._endpoint)
        self._workers = {w.name: w for w in self.root.workers()}
        self.profiler = next((w.name for w in self._workers.values()
                              if BUILTIN_ACTORS.get(w.spec.actor, w.spec.actor) == PROFILER_CLASS), None)

    # -- Runtime protocol (used by supervisors and workers) ---------------------------
    def now(self) -> float:
        return time.monotonic()

    def launch(self, spec: HostSpec, snapshot: bytes | None) -> BaseProcess:
        return self.launcher.start(spec, snapshot)

    def launch_standby(self, name: str) -> Standby:
        return self.launcher.start_standby(name)

    def host_spec(self, name: str, incarnation: int, endpoint: str, **child: Any) -> HostSpec:
        return HostSpec(name=name, incarnation=incarnation, endpoint=endpoint,
                        control_endpoint=self.control.endpoint, node_endpoint=self.front.endpoint,
                        node_pid=os.getpid(), max_message_bytes=self.config.max_message_bytes,
                        data_dir=self.data_dir, log_level=self.config.log_level,
                        profiler=self.profiler,
                        security=None if self.config.security is None else self.config.security.keys,
                        **child)

    def watch(self, worker: Any) -> None:
        fd = worker.process.sentinel
        self._sentinels[fd] = worker
        self.poller.register(fd, zmq.POLLIN)

    def unwatch(self, worker: Any) -> None:
        fd = worker.process.sentinel
        if self._sentinels.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def publish(self, event: Any) -> None:
        self.events.publish(event)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.timers.call_later(delay, fn)

    def root_gave_up(self, reason: str) -> None:
        log.critical("node gives up: %s; exiting with code 1", reason)
        self.exit_code = 1
        self.stop_requested = True

    def bind_router(self, endpoint: str) -> zmq.Socket[bytes]:
        """A ROUTER bound at ``endpoint`` and polled by the loop (closed at shutdown)."""
        socket = bind_socket(self.ctx, zmq.ROUTER, endpoint, security=self.keys)
        self.poller.register(socket, zmq.POLLIN)
        return socket

    # -- lookups ----------------------------------------------------------------------
    def worker(self, name: str) -> Worker | None:
        """The worker named ``name``, if the tree has one."""
        return self._workers.get(name)

    def workers(self) -> list[Worker]:
        """Every worker in start order."""
        return list(self.root.workers())

    def _endpoint(self, name: str) -> str:
        endpoint = self.config.endpoint
        if endpoint.startswith("ipc://"):
            return f"ipc://{self.run_dir}/{name}.sock"
        host = endpoint[len("tcp://"):].rsplit(":", 1)[0]
        return f"tcp://{host}:*"

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> int:
        """Start the tree, serve until stopped, stop the tree; return the exit code.

        The loop serves from the first moment: while children start (the ready line is
        printed once every one serves) and while they stop, in reverse order, at the end.
        """
        os.makedirs(self.data_dir, exist_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.set_wakeup_fd(self._wake_w)
        log.info("node pid %d starting %d actor(s) from %s%s", os.getpid(), len(self._workers),
                 self.config.endpoint, "" if self.keys is None else
                 f" (CURVE; {len(self.keys.clients)} client key(s) allowed)")
        if self.keys is None and not is_local(self.config.endpoint):
            log.warning("node serves %s WITHOUT authentication (\"insecure\": true): anyone who "
                        "reaches it can ask every actor and stop the node; see `run_node.py keys`",
                        self.config.endpoint)
        try:
            self.root.start(self._started)
            while not self._finished:
                if self.stop_requested and not self._stopping:
                    self._stopping = True
                    log.info("node stopping every actor in reverse start order")
                    self.root.stop(self._stopped)
                if not self._finished:
                    self._turn()
        finally:
            self._shutdown()
        return self.exit_code

    def _started(self, ok: bool) -> None:
        if self.stop_requested:
            return
        if not ok:
            self.root_gave_up("supervisor 'root' failed to start its children")
            return
        print(f"agent-cellphone node ready at {self.front.endpoint} (pid {os.getpid()}, "
              f"{len(self._workers)} actors, events at {self.events.endpoint}, data in "
              f"{self.data_dir})", flush=True)

    def _stopped(self) -> None:
        self._finished = True

    def _turn(self) -> None:
        ready = dict(self.poller.poll(int(self.timers.wait(LIVENESS_TICK) * 1000)))
        if self.control.socket in ready:
            self.control.drain()
        if self.front.socket in ready:
            self.front.drain()
        if self.events.socket in ready:
            self.events.welcome_subscribers()
        for fd in [fd for fd in ready if fd in self._sentinels]:
            worker = self._sentinels.get(fd)
            if worker is not None:
                worker.ended()
        if self._wake_r in ready:
            try:
                os.read(self._wake_r, 512)
            except BlockingIOError:
                pass
        now = time.monotonic()
        self.timers.run_due(now)
        for worker in self._workers.values():
            worker.check_liveness(now)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if not self.stop_requested:
            log.info("node got %s; stopping", signal.Signals(signum).name)
        self.stop_requested = True

    def _shutdown(self) -> None:
        for worker in self._workers.values():
            if worker.pid is not None and worker.process is not None:  # the loop failed
                log.error("actor %r still runs at node exit; killing pid %s", worker.name,
                          worker.pid)
                kill_process(worker.process)
                worker.process.join(5.0)
            worker.standby.discard()
        self.launcher.close()
        close_context(self.ctx)  # every socket of the loop: front door, control, events
        shutil.rmtree(self.run_dir, ignore_errors=True)
        signal.set_wakeup_fd(-1)
        log.info("node stopped (exit code %d)", self.exit_code)
        sys.stdout.flush()

    def decode_or_count(self, payload: bytes) -> Envelope | ProtocolError:
        """Decode an inbound payload; a ProtocolError is counted as bad input."""
        try:
            return decode(payload, max_bytes=self.config.max_message_bytes)
        except ProtocolError as exc:
            self.bad_input += 1
            return exc
