"""The control channel: actor hosts report readiness, heartbeats, snapshots and events.

Total like the front door: a report that does not decode or check is counted as bad input
and logged; nothing a host sends stops the node's loop.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import zmq

from messages import (
    HostHeartbeat,
    HostPublish,
    HostReady,
    HostSnapshot,
    HostStartFailed,
    Ok,
    ProtocolError,
    encode,
    from_wire,
    to_wire,
    type_tag,
)

from ._reports import supervisor_report

if TYPE_CHECKING:
    from ._node import Node

log = logging.getLogger("supervisor")
_RESERVED_TOPICS = ("lifecycle.",)


class ControlChannel:
    """A ROUTER on an ipc path in the node's run directory; hosts connect a DEALER."""

    def __init__(self, node: Node, endpoint: str) -> None:
        self.node = node
        self.socket = node.bind_router(endpoint)
        self.endpoint = endpoint

    def drain(self) -> None:
        """Handle every control message waiting now."""
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            env = self.node.decode_or_count(frames[-1])
            if isinstance(env, ProtocolError):
                log.warning("control channel refused a message: %s", env)
                continue
            try:
                self._handle(env.type, env.body)
                if env.kind == "ask":  # only snapshots ask: confirm the node holds it
                    ok = Ok()
                    self.socket.send_multipart([frames[0], encode(env.reply(type_tag(ok), to_wire(ok)))])
            except ProtocolError as exc:
                self.node.bad_input += 1
                log.warning("control channel refused %r: %s", env.type, exc)
            except Exception:  # a fault in handling a host's report: log it, serve on
                self.node.bad_input += 1
                log.exception("control channel failed handling %r", env.type)

    def _handle(self, type_: str, body: Any) -> None:
        if type_ == "host.heartbeat":
            beat = from_wire(HostHeartbeat, body)
            worker = self._current(beat.name, beat.incarnation)
            if worker is not None:
                worker.heartbeat(beat.busy_for, {"handled": beat.handled, "errors": beat.errors,
                                                 "bad_input": beat.bad_input,
                                                 "mailbox": beat.mailbox,
                                                 "expected_errors": beat.expected_errors})
        elif type_ == "host.ready":
            ready = from_wire(HostReady, body)
            worker = self._current(ready.name, ready.incarnation)
            if worker is not None and worker.state == "starting":
                worker.mark_ready(ready.endpoint, ready.pid)
        elif type_ == "host.start_failed":
            failed = from_wire(HostStartFailed, body)
            worker = self._current(failed.name, failed.incarnation)
            if worker is not None:
                worker.start_failure = f"start_error: {failed.reason}"
                supervisor_report(worker.parent.name, "start_error", failed.reason, failed.name,
                                  incarnation=failed.incarnation)
        elif type_ == "host.snapshot":
            snapshot = from_wire(HostSnapshot, body)
            worker = self._current(snapshot.name, snapshot.incarnation)
            if worker is not None:
                worker.snapshot = snapshot.state
        elif type_ == "host.publish":
            published = from_wire(HostPublish, body)
            if not published.topic or published.topic.startswith(_RESERVED_TOPICS):
                raise ProtocolError(f"actor {published.name!r} may not publish on topic "
                                    f"{published.topic!r} (lifecycle.* is the node's own)")
            self.node.events.publish_body(published.topic, published.name,
                                   {"name": published.name, **_as_dict(published.body)})
        else:
            raise ProtocolError(f"unknown control message {type_!r}")

    def _current(self, name: str, incarnation: Any) -> Any:
        worker = self.node.worker(name)
        if worker is None or worker.incarnation != incarnation:
            return None
        return worker


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}
