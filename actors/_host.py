"""The actor host process: one user actor, its ROUTER socket, and the control channel.

:func:`host_main` is the entry point the supervisor starts in a fresh process. The main
thread runs the control loop (ready report, heartbeats, snapshots, SIGTERM); the pykka
actor thread owns the actor's socket and does all message work.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import attrs
import pykka
import zmq

from messages import (
    KIND_ASK,
    KIND_TELL,
    NODE_TARGET,
    ConfigError,
    Envelope,
    HostHeartbeat,
    HostOrder,
    HostPublish,
    HostReady,
    HostSnapshot,
    HostStartFailed,
    InvalidBody,
    ProtocolError,
    decode,
    encode,
    from_wire,
    pack_value,
    to_wire,
    type_tag,
    unpack_value,
)

from ._actor import Actor, ActorContext
from ._bridge import BridgeActor, HostCounters
from ._exitcodes import EXIT_HOST_FAULT, EXIT_NODE_GONE, EXIT_NORMAL, EXIT_START_FAILED
from ._security import ServerKeys, node_client_environment
from ._transport import bind_socket, bound_endpoint, connect_socket, new_context

log = logging.getLogger("actors.host")
_PR_SET_PDEATHSIG = 1
_FORKED_FROM = os.getpid()
"""The process that imported this module: the forkserver (it preloads it), and so the
parent of every host forked from it."""
SNAPSHOT_TIMEOUT = 5.0
"""Seconds ``save_snapshot`` waits for the node to confirm it holds the snapshot."""


@attrs.frozen(kw_only=True)
class HostSpec:
    """Everything an actor host needs, passed from the node as JSON (never pickled state)."""

    name: str
    incarnation: int
    actor: str
    settings: dict[str, Any]
    endpoint: str
    control_endpoint: str
    node_endpoint: str
    node_pid: int
    heartbeat_interval: float
    max_message_bytes: int
    mailbox_size: int
    on_error: str
    data_dir: str = "."
    log_level: str = "INFO"
    profiler: str | None = None
    """Name of the node's profiler actor: every handler's time is shipped to it."""
    security: str | None = None
    """The node's keys directory when it has ``security``: the actor's TCP socket is a CURVE
    server with the node's key pair, and the host's own clients speak as the node."""

    def to_json(self) -> str:
        """Serialise for the process arguments."""
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> HostSpec:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def load_actor_class(path: str) -> type[Actor]:
    """Import ``"module:Class"`` and check it is an :class:`Actor`; ConfigError otherwise."""
    from ._builtins import BUILTIN_ACTORS

    path = BUILTIN_ACTORS.get(path, path)
    module_name, _, class_name = path.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"actor {path!r} must be a built-in name or 'module:Class'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"actor class {path!r}: module {module_name!r} does not import: "
                          f"{type(exc).__name__}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Actor)):
        raise ConfigError(f"actor class {path!r}: {class_name!r} is not an Actor subclass "
                          f"in module {module_name!r}")
    return cls


def build_settings(cls: type[Actor], settings: dict[str, Any], where: str) -> Any:
    """The actor's settings object from the config's map; ConfigError names the key."""
    if cls.settings_class is None:
        return dict(settings)
    try:
        return from_wire(cls.settings_class, settings)
    except InvalidBody as exc:
        raise ConfigError(f"{where}.settings: {exc}") from exc


def _die_with_parent() -> None:
    # the forkserver runs with SIGTERM blocked (supervisor._process) and its children
    # inherit that mask: a host takes SIGTERM as its order to stop
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the heartbeat's node check still applies
        pass
    # A parent that died between the fork and the prctl sends no signal: the node has
    # already counted this host as dead with it (and starts another on the same endpoint).
    if os.getpid() != _FORKED_FROM and os.getppid() != _FORKED_FROM:
        os._exit(EXIT_HOST_FAULT)


def host_main(spec_json: str, snapshot: bytes | None) -> None:
    """Process entry: run one actor until told to stop; exit with a code from _exitcodes."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the node's to handle
    _run(spec_json, snapshot)


def host_standby(orders: Connection) -> None:
    """Process entry of a warm standby: wait, already forked and imported, for the node to
    send the spec of the next incarnation, then run it as :func:`host_main` would.

    The orders are a :class:`HostOrder` encoded by the codec, read with ``recv_bytes``
    (never unpickled). If the node goes away first, the standby just exits.
    """
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        orders_bytes = orders.recv_bytes()
    except (EOFError, OSError):
        os._exit(EXIT_NORMAL)
    orders.close()
    order = from_wire(HostOrder, decode(orders_bytes, max_bytes=len(orders_bytes)).body)
    _run(order.spec, order.snapshot)


def _run(spec_json: str, snapshot: bytes | None) -> None:
    spec = HostSpec.from_json(spec_json)
    if spec.security is not None:  # every connection this process opens speaks as the node
        os.environ.update(node_client_environment(spec.security))
    logging.basicConfig(
        level=spec.log_level, stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s [{spec.name}#{spec.incarnation} pid {os.getpid()}] %(message)s",
    )
    code = _ControlLoop(spec, snapshot).run()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the actor thread may still hold its socket: do not wait on the context


class _ControlLoop:
    """Main thread of a host: starts the bridge, then heartbeats until stopped."""

    def __init__(self, spec: HostSpec, snapshot: bytes | None) -> None:
        self.spec = spec
        self.snapshot = None if snapshot is None else unpack_value(snapshot, max_bytes=len(snapshot))
        self.ctx = new_context()
        self.outbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.endpoint = spec.endpoint
        self._snapshot_id = 0
        self.recorder: Any = None
        self._unacked: dict[int, threading.Event] = {}
        self._stopping = False

    def _post(self, kind: str, payload: Any) -> None:
        self.outbox.put((kind, payload))
        os.eventfd_write(self.wake, 1)

    def run(self) -> int:
        spec = self.spec
        control = connect_socket(self.ctx, zmq.DEALER, spec.control_endpoint, linger=1000)
        try:
            bridge, counters = self._start_bridge()
        except Exception as exc:  # the class or settings would not load: a failed start
            log.exception("actor %r could not be built", spec.name)
            self._send(control, HostStartFailed(spec.name, spec.incarnation, f"{type(exc).__name__}: {exc}"))
            control.close()
            return EXIT_START_FAILED
        signal.signal(signal.SIGTERM, lambda *_: self._post("stop", None))
        poller = zmq.Poller()
        poller.register(self.wake, zmq.POLLIN)
        poller.register(control, zmq.POLLIN)
        interval_ms = max(1, int(spec.heartbeat_interval * 1000))
        next_beat = 0.0
        code: int | None = None
        while code is None:
            now = time.monotonic()
            if now >= next_beat:
                if not _alive(spec.node_pid):
                    log.error("node pid %d is gone; actor %r exits", spec.node_pid, spec.name)
                    return EXIT_NODE_GONE
                # a heartbeat vouches for the serving thread too (it ends only when stopped)
                if not bridge.is_alive() and not self._stopping:
                    return self._fault("its serving thread has stopped")
                self._heartbeat(control, counters)
                next_beat = now + spec.heartbeat_interval
            ready = dict(poller.poll(interval_ms))
            if control in ready:
                self._read_acks(control)
            if self.wake in ready:
                try:
                    os.eventfd_read(self.wake)
                except BlockingIOError:
                    pass
            code = self._drain_outbox(control, bridge)
        control.close(linger=1000)  # flush what the node must still hear (start_failed)
        return code

    def _drain_outbox(self, control: zmq.Socket[bytes], bridge: pykka.ActorRef[Any]) -> int | None:
        spec = self.spec
        while True:
            try:
                kind, payload = self.outbox.get_nowait()
            except queue.Empty:
                return None
            if kind == "started" and payload is None:
                self._send(control, HostReady(spec.name, spec.incarnation, self.endpoint, os.getpid()))
                log.info("actor %r incarnation %d serving at %s", spec.name, spec.incarnation, self.endpoint)
            elif kind == "started":
                self._send(control, HostStartFailed(spec.name, spec.incarnation,
                                                    f"{type(payload).__name__}: {payload}"))
                return EXIT_START_FAILED
            elif kind == "snapshot":
                data, saved = payload
                self._snapshot_id += 1
                self._unacked[self._snapshot_id] = saved
                self._send(control, HostSnapshot(spec.name, spec.incarnation, data),
                           ask_id=self._snapshot_id)
            elif kind == "publish":
                topic, body = payload
                self._send(control, HostPublish(spec.name, spec.incarnation, topic, body))
            elif kind == "fault":
                return self._fault(payload)
            elif kind == "stop" and not self._stopping:
                log.info("actor %r stopping", spec.name)
                self._stopping = True
                threading.Thread(target=self._stop_actor, args=(bridge,), name="host-stop",
                                 daemon=True).start()
            elif kind == "stopped":
                return EXIT_NORMAL

    def _stop_actor(self, bridge: pykka.ActorRef[Any]) -> None:
        """Stop the actor off the control loop, which keeps serving meanwhile: ``on_stop``
        may save a snapshot, and only the control loop sends it and reads the node's ack."""
        try:
            if self.recorder is not None:
                self.recorder.close()
            bridge.stop(block=True)
        finally:
            self._post("stopped", None)

    def _fault(self, cause: str) -> int:
        log.error("actor %r incarnation %d: serving failed outside any handler (%s); the host "
                  "exits with code %d so that its supervisor restarts it", self.spec.name,
                  self.spec.incarnation, cause, EXIT_HOST_FAULT)
        return EXIT_HOST_FAULT

    def _heartbeat(self, control: zmq.Socket[bytes], c: HostCounters) -> None:
        busy = time.monotonic() - c.busy_since if c.busy_since else 0.0
        waiting = c.inbox.take_waiting() if c.inbox is not None else 0
        self._send(control, HostHeartbeat(self.spec.name, self.spec.incarnation, busy,
                                          c.handled, c.errors, c.bad_input, waiting,
                                          expected_errors=c.expected_errors))

    def _send(self, control: zmq.Socket[bytes], msg: Any, *, ask_id: int | None = None) -> None:
        """Send a control message to the node (an ask when it wants a confirmation)."""
        kind, id_ = (KIND_TELL, 0) if ask_id is None else (KIND_ASK, ask_id)
        control.send(encode(Envelope(kind, id_, NODE_TARGET, type_tag(msg), to_wire(msg))))

    def _start_bridge(self) -> tuple[pykka.ActorRef[Any], HostCounters]:
        spec = self.spec
        cls = load_actor_class(spec.actor)
        settings = build_settings(cls, spec.settings, f"actor {spec.name!r}")
        context = ActorContext(spec.name, spec.incarnation, settings, spec.node_endpoint,
                               self.snapshot, spec.data_dir, snapshot_sink=self._save_snapshot,
                               publish_sink=lambda topic, body: self._post("publish", (topic, body)),
                               stop_sink=lambda: self._post("stop", None))
        actor = cls(context)
        # own context: the actor thread closes it with the socket
        keys = None if spec.security is None else ServerKeys.load(spec.security)
        socket = bind_socket(new_context(), zmq.ROUTER, spec.endpoint, rcvhwm=spec.mailbox_size,
                             sndhwm=spec.mailbox_size, router_mandatory=False, security=keys)
        self.endpoint = bound_endpoint(socket)
        counters = HostCounters()
        ref = BridgeActor.start(actor, socket, counters, max_message_bytes=spec.max_message_bytes,
                                on_error=spec.on_error,
                                on_started=lambda exc: self._post("started", exc),
                                on_fault=lambda cause: self._post("fault", cause),
                                observer=self._observer(context))
        return ref, counters

    def _observer(self, context: ActorContext) -> Callable[[str, float, bool], None] | None:
        """Automatic profiling: each handler's duration, as ``<actor>:<type>``, in batches.

        The recorder is also the process's default, so ``profiled(...)`` in the actor's
        own code (and the connectors' per-topic timings) reach the node's profiler too.
        """
        profiler = self.spec.profiler
        if profiler is None or profiler == self.spec.name:
            return None
        from .profiler import Recorder, connection_sink, set_default_recorder

        self.recorder = Recorder(connection_sink(context.connection(), profiler),
                                 source=f"{self.spec.name}#{self.spec.incarnation}")
        set_default_recorder(self.recorder)
        # Learn where the profiler is now, in the background (the node answers once this
        # start is done): a flush while the node is stopping us must not wait on the node.
        threading.Thread(target=_resolve_quietly, args=(context.connection(), profiler),
                         name="profiler-resolve", daemon=True).start()
        record, prefix = self.recorder.record, f"{self.spec.name}:"
        return lambda type_, seconds, ok: record(prefix + type_, seconds, ok)

    def _save_snapshot(self, state: Any) -> None:
        saved = threading.Event()
        self._post("snapshot", (pack_value(state), saved))
        if not saved.wait(SNAPSHOT_TIMEOUT):
            raise TimeoutError(f"actor {self.spec.name!r}: the node did not confirm the snapshot "
                               f"within {SNAPSHOT_TIMEOUT:g} s")

    def _read_acks(self, control: zmq.Socket[bytes]) -> None:
        while True:
            try:
                env = decode(control.recv(zmq.NOBLOCK))
            except zmq.Again:
                return
            except ProtocolError:
                continue
            saved = self._unacked.pop(env.id, None) if isinstance(env.id, int) else None
            if saved is not None:
                saved.set()


def _resolve_quietly(connection: Any, name: str) -> None:
    try:
        connection.resolve(name)
    except Exception as exc:  # the flush will try again, and count a failure if it must
        log.debug("could not resolve %r ahead of time: %s", name, exc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
