"""The node's front door: resolve names, report status, take commands. Never hot path."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import zmq

from actors import ROLE_OPERATOR, authenticated_peer
from messages import (
    KIND_ASK,
    KIND_TELL,
    NODE_TARGET,
    PROTOCOL_VERSION,
    ActorPing,
    ActorPong,
    ActorStatus,
    ChildCommand,
    Envelope,
    NodeAbout,
    NodeInfo,
    Ok,
    ProtocolError,
    Resolve,
    Resolved,
    RestartChild,
    StartChild,
    Status,
    StatusReply,
    StopChild,
    StopNode,
    TreeRequest,
    encode,
    exception_summary,
    from_wire,
    payload_frame,
    summary,
    to_wire,
    type_tag,
)

if TYPE_CHECKING:
    from ._node import Node
    from ._tree import Supervisor
    from ._worker import Worker

log = logging.getLogger("node")
OPERATOR_COMMANDS: Final = frozenset({"node.stop", "node.restart", "node.stop_child",
                                      "node.start_child"})
"""Commands only an operator key may send to a secured node (an agent key gets ``forbidden``)."""
try:
    SOFTWARE_VERSION = importlib.metadata.version("agent-cellphone")
    """The installed release of this software, as ``node.info`` reports it."""
except importlib.metadata.PackageNotFoundError:  # run from a checkout that was not installed
    SOFTWARE_VERSION = "unknown"


class _Later:
    """An answer that comes when a command that takes time (a child's stop or start) is
    done: ``begin(reply)`` starts it and calls ``reply(value)`` once, from the node loop."""

    def __init__(self, begin: Callable[[Callable[[Any], None]], None]) -> None:
        self.begin = begin


class _Refused(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code


class FrontDoor:
    """A ROUTER at the node's endpoint; every reply names what went wrong and what to do.

    Serving is total: bad input is an error reply and counted, a failing command is a
    ``handler_error`` reply and logged; nothing a client sends stops the node's loop.
    """

    def __init__(self, node: Node, endpoint: str) -> None:
        self.node = node
        self.socket = node.bind_router(endpoint)
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._commands: dict[str, tuple[type[Any], Callable[[Any], Any]]] = {
            "actor.ping": (ActorPing, lambda _: ActorPong(NODE_TARGET, 0)),
            "node.resolve": (Resolve, self._resolve),
            "node.info": (NodeInfo, lambda _: NodeAbout(
                self.endpoint, node.events.endpoint, os.getpid(), PROTOCOL_VERSION,
                node.data_dir, PROTOCOL_VERSION, SOFTWARE_VERSION)),
            "node.status": (Status, self._status),
            "node.stop": (StopNode, self._stop),
            "node.tree": (TreeRequest, lambda _: node.root.describe()),
            "node.restart": (RestartChild, self._restart),
            "node.stop_child": (StopChild, self._stop_child),
            "node.start_child": (StartChild, self._start_child),
        }

    def drain(self) -> None:
        """Answer every request waiting now."""
        while True:
            try:
                received = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._serve([frame.bytes for frame in received], authenticated_peer(received[-1]))

    def _serve(self, frames: list[bytes], peer: tuple[str, str] | None) -> None:
        """Answer one request; ``peer`` is the client's (role, key name) on a secured TCP
        front door, None where there is no authentication (every command allowed)."""
        try:
            payload = payload_frame(frames)
        except ProtocolError as exc:
            self.node.bad_input += 1
            self._send(frames[:1], Envelope.refused(exc, NODE_TARGET).error(exc.code, str(exc)))
            return
        route = frames[:-1]
        env = self.node.decode_or_count(payload)
        if isinstance(env, ProtocolError):
            refused = Envelope.refused(env, NODE_TARGET)
            if refused.kind == KIND_ASK:  # a refused tell, reply or event is only counted
                self._send(route, refused.error(env.code, str(env)))
            return
        try:
            result = self._answer(env, peer)
            if isinstance(result, _Later):
                result.begin(lambda value: self._reply(route, env, value))
            else:
                self._reply(route, env, result)
            return
        except _Refused as exc:
            self.node.bad_input += exc.code not in ("not_found", "forbidden")
            reply = env.error(exc.code, str(exc))
        except ProtocolError as exc:
            self.node.bad_input += 1
            reply = env.error(exc.code, f"node front door, message {env.type!r}: {exc}")
        except Exception as exc:  # a fault of the node's own command: answer it, serve on
            reply = self._failed(env, exc)
        if env.kind == KIND_ASK:
            self._send(route, reply)

    def _reply(self, route: list[bytes], env: Envelope, result: Any) -> None:
        if env.kind != KIND_ASK:
            return
        try:
            tag = type_tag(result) if hasattr(result, "__message_type__") else "value"
            reply = env.reply(tag, to_wire(result))
        except Exception as exc:  # a command's answer that cannot be put on the wire
            reply = self._failed(env, exc)
        self._send(route, reply)

    def _failed(self, env: Envelope, exc: Exception) -> Envelope:
        log.exception("node front door failed handling %r", env.type)
        return env.error("handler_error", f"node front door failed handling {env.type!r}: "
                         f"{exception_summary(exc)}", actor=NODE_TARGET, type=env.type,
                         exception=type(exc).__name__)

    def _answer(self, env: Envelope, peer: tuple[str, str] | None) -> Any:
        if env.kind not in (KIND_ASK, KIND_TELL):
            raise _Refused("malformed", f"the front door takes ask or tell, not {env.kind!r}")
        if env.to != NODE_TARGET:
            raise _Refused("not_found", f"this is the node's front door (to='node'); ask actor "
                                        f"{env.to!r} at the endpoint that node.resolve gives")
        if env.deadline is not None and time.time() > env.deadline:
            raise _Refused("deadline_expired", f"the node skipped {env.type!r}: its deadline had "
                                               f"passed {time.time() - env.deadline:.3f} s before "
                                               "the front door reached it")
        command = self._commands.get(env.type)
        if command is None:
            raise _Refused("unknown_type", f"the node has no command {env.type!r}; it takes: "
                                           f"{', '.join(sorted(self._commands))}")
        if env.type in OPERATOR_COMMANDS and peer is not None and peer[0] != ROLE_OPERATOR:
            self.node.forbidden += 1
            log.warning("node front door: %r refused for %s key %r (operator only)", env.type,
                        peer[0], peer[1])
            raise _Refused("forbidden", f"{env.type!r} is an operator's command, and this "
                                        f"client's key ({peer[1]!r}) is an {peer[0]} key: it may "
                                        "ask actors and read the node's state only; use an "
                                        "operator key (run_node.py keys DIR --operator NAME)")
        cls, handler = command
        return handler(from_wire(cls, env.body))

    def _send(self, route: list[bytes], env: Envelope) -> None:
        """Send ``env``; a reply over max_message_bytes becomes a ``too_large`` error."""
        limit = self.node.config.max_message_bytes
        data = encode(env)
        if len(data) > limit:
            log.warning("node front door: the reply to %r is %d bytes, over the limit of %d",
                        env.type, len(data), limit)
            data = encode(env.error("too_large", f"node front door: the reply is {len(data)} bytes, "
                                    f"over the limit of {limit} bytes (max_message_bytes); raise "
                                    "max_message_bytes in the node config", limit=limit,
                                    size=len(data)))
        self.socket.send_multipart([*route, data])

    def _worker(self, name: str) -> Worker:
        worker = self.node.worker(name)
        if worker is None:
            known = ", ".join(w.name for w in self.node.workers()) or "none"
            raise _Refused("not_found", f"no actor named {summary(name)} on this node; actors: {known}")
        return worker

    def _resolve(self, msg: Resolve) -> Resolved:
        worker = self._worker(msg.name)
        if "*" in worker.endpoint:
            raise _Refused("not_found", f"actor {msg.name!r} has not started yet (state "
                                        f"{worker.state}); try again shortly")
        return Resolved(worker.name, worker.endpoint, worker.incarnation, worker.state)

    def _status(self, msg: Status) -> StatusReply:
        workers = [self._worker(msg.name)] if msg.name else self.node.workers()
        now = self.node.now()
        rows = [ActorStatus(w.name, w.state, w.pid, w.incarnation,
                            round(now - w.started_at, 3) if w.state == "running" else 0.0,
                            w.counters["handled"], w.counters["errors"], w.counters["bad_input"],
                            w.restarts, w.endpoint, w.parent.name,
                            w.counters.get("mailbox", 0),
                            expected_errors=w.counters["expected_errors"]) for w in workers]
        return StatusReply(rows, self.node.bad_input, self.node.forbidden)

    def _stop(self, _: Any) -> Ok:
        log.info("node asked to stop by a client")
        self.node.stop_requested = True
        return Ok("stopping")

    def _settled(self, name: str, command: str, *states: str) -> Worker:
        """The worker named ``name`` if it is in one of ``states`` and every supervisor above
        it runs; refused otherwise (OTP's restart_child is a call to a running supervisor)."""
        worker = self._worker(name)
        if worker.state not in states:
            raise _Refused("handler_error", f"actor {name!r} is {worker.state}; {command} "
                                            f"needs it {' or '.join(states)}")
        if self.node.stop_requested:
            raise _Refused("handler_error", f"the node is stopping; {command} of actor {name!r} "
                                            "is refused")
        idle = _idle_supervisor(worker)
        if idle is not None:
            raise _Refused("handler_error", f"actor {name!r} is under supervisor {idle.name!r}, "
                                            f"which is {idle.state}; {command} needs it running")
        return worker

    def _restart(self, msg: ChildCommand) -> _Later:
        worker = self._settled(msg.name, "restart", "running", "stopped")
        log.info("restart of actor %r asked by a client", msg.name)

        def stopped(reply: Callable[[Any], None]) -> None:
            idle = _idle_supervisor(worker)
            if self.node.stop_requested or idle is not None:  # stopping began meanwhile
                reply(Ok(f"actor {msg.name!r} stopped; not started again: "
                         + ("the node is stopping" if self.node.stop_requested or idle is None
                            else f"supervisor {idle.name!r} is {idle.state}")))
                return
            worker.start(lambda ok: reply(Ok(
                f"actor {msg.name!r} restarted as incarnation {worker.incarnation}" if ok
                else f"actor {msg.name!r} failed to start: {worker.start_failure}")))
        return _Later(lambda reply: worker.stop(lambda: stopped(reply)))

    def _stop_child(self, msg: ChildCommand) -> _Later:
        worker = self._settled(msg.name, "stop-child", "running", "stopped")
        log.info("stop of actor %r asked by a client", msg.name)
        return _Later(lambda reply: worker.stop(lambda: reply(Ok(
            f"actor {msg.name!r} stopped; start it with start-child"))))

    def _start_child(self, msg: ChildCommand) -> _Later:
        worker = self._settled(msg.name, "start-child", "stopped")
        return _Later(lambda reply: worker.start(lambda ok: reply(Ok(
            f"actor {msg.name!r} started as incarnation {worker.incarnation}" if ok
            else f"actor {msg.name!r} failed to start: {worker.start_failure}"))))


def _idle_supervisor(worker: Worker) -> Supervisor | None:
    """The closest supervisor above ``worker`` that is not running (stopped after giving up,
    or stopping with the node), or None when all of them run."""
    supervisor: Supervisor | None = worker.parent
    while supervisor is not None:
        if supervisor.state != "running":
            return supervisor
        supervisor = supervisor.parent
    return None
