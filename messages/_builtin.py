"""Message types every node and actor understands (tags under ``actor.``, ``node.``, ``host.``)."""

from __future__ import annotations

from typing import Any

from ._constants import PROTOCOL_VERSION
from ._registry import message


@message("actor.ping")
class ActorPing:
    """Readiness check every actor answers, whatever its handlers."""


@message("actor.pong")
class ActorPong:
    """Answer to ``actor.ping``: which actor, which incarnation."""

    name: str
    incarnation: int


@message("actor.statistics")
class StatisticsRequest:
    """Ask an actor for its statistics: built-ins answer with a frozen attrs object, others nil."""


@message("node.resolve")
class Resolve:
    """Ask the node where an actor listens."""

    name: str


@message("node.resolved")
class Resolved:
    """Where an actor listens, and which incarnation serves there now."""

    name: str
    endpoint: str
    incarnation: int
    state: str


@message("node.info")
class NodeInfo:
    """Ask the node for its endpoints."""


@message("node.about")
class NodeAbout:
    """The node's endpoints and identity. ``version`` is the protocol version, kept for
    agents that read it; ``protocol`` says the same under a clearer name."""

    endpoint: str
    events: str
    pid: int
    version: int
    data_dir: str = ""
    """Absolute path of the node's data directory (SQLite files, actor state)."""
    protocol: int = PROTOCOL_VERSION
    """The wire protocol's version: the ``v`` of every envelope (``version`` says the same)."""
    software: str = ""
    """The release of the node's software (``""`` from a node that does not say)."""


@message("node.status")
class Status:
    """Ask for the state of every actor (or of one, by name)."""

    name: str | None = None


@message("node.actor_status")
class ActorStatus:
    """One actor's row in ``node.status``."""

    name: str
    state: str
    pid: int | None
    incarnation: int
    uptime: float
    handled: int
    errors: int
    bad_input: int
    restarts: int
    endpoint: str
    supervisor: str
    mailbox: int = 0
    """The most messages found waiting in the actor's mailbox at once during its last
    heartbeat interval (0: none waited); see ``mailbox_size`` for the capacity."""
    expected_errors: int = 0
    """Errors the actor answered as expected (domain errors: an SQL error, an unknown name);
    not in ``errors``, which counts the actor's faults (0 from an older node)."""


@message("node.status_reply")
class StatusReply:
    """Every actor's row, and what the front door itself refused."""

    actors: list[ActorStatus]
    node_bad_input: int = 0
    forbidden: int = 0
    """Node commands the front door refused because the client's key may not send them."""


@message("node.stop")
class StopNode:
    """Stop the node: every actor in reverse start order, then the node process."""


@message("node.ok")
class Ok:
    """A command was accepted."""

    detail: str = ""


@message("host.ready")
class HostReady:
    """Actor host → node: ``on_start`` returned; the actor serves at ``endpoint``."""

    name: str
    incarnation: int
    endpoint: str
    pid: int


@message("host.start_failed")
class HostStartFailed:
    """Actor host → node: ``on_start`` raised (OTP's start_error)."""

    name: str
    incarnation: int
    reason: str


@message("host.heartbeat")
class HostHeartbeat:
    """Actor host → node on the control channel, every heartbeat interval.

    ``busy_for`` is how long the current handler has run (0 when idle), so that the node
    tells a hung actor from a merely busy one. ``errors`` are the actor's faults;
    ``expected_errors`` the errors it lists as expected (answers, not faults).
    """

    name: str
    incarnation: int
    busy_for: float
    handled: int
    errors: int
    bad_input: int
    mailbox: int = 0
    """The most messages found waiting in the mailbox at once since the last heartbeat."""
    expected_errors: int = 0
    """Errors the actor lists as expected (0 from an older host, whose ``errors`` hold them)."""


@message("host.snapshot")
class HostSnapshot:
    """Actor host → node, an ask: keep ``state`` (msgpack bytes from ``pack_value``) for
    the next incarnation; the node answers ``node.ok`` once it holds it."""

    name: str
    incarnation: int
    state: bytes


@message("host.publish")
class HostPublish:
    """Actor host → node: put ``body`` on the event stream under ``topic`` (the node adds
    ``name``; topics under ``lifecycle.`` are the node's own and refused)."""

    name: str
    incarnation: int
    topic: str
    body: Any = None


@message("host.order")
class HostOrder:
    """Node → warm standby host, over its pipe: become this incarnation (``spec`` is the
    HostSpec JSON; ``snapshot`` the previous incarnation's state, if any)."""

    spec: str
    snapshot: bytes | None = None


@message("node.child")
class ChildCommand:
    """A command about one child of the node's tree: the fields of ``node.restart``,
    ``node.stop_child`` and ``node.start_child`` (each a subclass under its own tag)."""

    name: str


@message("node.restart")
class RestartChild(ChildCommand):
    """Restart child ``name`` (a new incarnation); answered once it serves again."""


@message("node.stop_child")
class StopChild(ChildCommand):
    """Stop child ``name`` on purpose (it stays stopped); answered once it is down."""


@message("node.start_child")
class StartChild(ChildCommand):
    """Start child ``name`` stopped with ``node.stop_child``; answered once it serves."""


@message("node.tree")
class TreeRequest:
    """Ask for the supervision tree with states and restart counts (the reply is a plain map)."""
