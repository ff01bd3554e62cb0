"""The node's own events: lifecycle of every actor (``lifecycle.*``) and the subscription
welcome (``node.welcome``). The node publishes them from these classes and every reader
checks them against these classes (PROTOCOL.md, "Lifecycle events")."""

from __future__ import annotations

from typing import Final, Literal

import attrs

from ._registry import message

ENDED_EVENTS: Final = frozenset({"exited", "gave_up"})
"""Lifecycle events after which the incarnation named in them serves no more."""


@attrs.frozen
class LifecycleEvent:
    """Fields every ``lifecycle.<event>`` body carries; the subclasses are the four events."""

    name: str
    """The actor (or, for ``gave_up``, the supervisor)."""
    incarnation: int
    cause: str = ""
    """Why it exited or restarts (PROTOCOL.md lists the causes); ``""`` for ``started``."""
    pid: int | None = None
    event: str = ""

    @property
    def ended(self) -> bool:
        """Whether this incarnation is gone (exited, or its supervisor gave up)."""
        return self.event in ENDED_EVENTS


@message("lifecycle.started")
@attrs.frozen
class ActorStarted(LifecycleEvent):
    """An incarnation serves (its ``on_start`` returned)."""

    event: Literal["started"] = "started"


@message("lifecycle.exited")
@attrs.frozen
class ActorExited(LifecycleEvent):
    """An incarnation ended; asks in flight to it will not be answered."""

    event: Literal["exited"] = "exited"


@message("lifecycle.restarting")
@attrs.frozen
class ActorRestarting(LifecycleEvent):
    """A supervisor will start the next incarnation after ``delay`` seconds."""

    event: Literal["restarting"] = "restarting"
    delay: float = 0.0


@message("lifecycle.gave_up")
@attrs.frozen
class SupervisorGaveUp(LifecycleEvent):
    """A supervisor exceeded its restart intensity (or escalated) and stopped its children."""

    event: Literal["gave_up"] = "gave_up"


@message("node.welcome")
class Welcome:
    """The node's answer to each new subscription to its event stream: a subscriber that
    sees it knows its earlier subscriptions are in place (no slow-joiner gap)."""

    topic: str
    """The topic prefix whose subscription the node saw (the welcome's own, in practice)."""
    name: str = "node"


NODE_EVENTS: Final[tuple[type[LifecycleEvent], ...]] = (
    ActorStarted, ActorExited, ActorRestarting, SupervisorGaveUp)
"""The lifecycle event classes, one per ``lifecycle.<event>`` topic."""
