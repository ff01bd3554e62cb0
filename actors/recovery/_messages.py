"""The recovery actor's protocol: ``recovery.status`` and what it answers.

Every action (or failed attempt) is also published on the node's event stream under
``recovery.action`` with the body of an :class:`ActionRecord`.
"""

from __future__ import annotations

from typing import Any

import attrs

from messages import message

ACTION_TOPIC = "recovery.action"
"""Topic of the event published after every action attempt (body: an ActionRecord)."""


@message("recovery.action_record")
@attrs.frozen
class ActionRecord:
    """One action attempt: which rule, on what subject, what was done, and how it went.

    ``step`` is ``act`` (the rule's action) or ``undo`` (reverting it once the condition
    cleared, or its time ran out); ``waited`` is the seconds from the condition appearing
    to this outcome; ``at`` is Unix time.
    """

    rule: str
    subject: str
    step: str
    action: str
    ok: bool
    detail: str
    evidence: dict[str, Any]
    attempt: int
    waited: float
    at: float


@attrs.frozen
class RuleStatus:
    """One rule: what it watches, what it does, where it stands."""

    name: str
    when: str
    do: str
    engaged: list[str]
    """Subjects on which the rule's action is in force now."""
    active: list[str]
    """Subjects on which the rule's condition holds now."""
    actions_last_hour: int


@message("recovery.status")
@attrs.frozen
class StatusQuery:
    """Ask for the rules' state and the latest action records (``last`` of them)."""

    last: int = 20


@message("recovery.status_reply")
@attrs.frozen
class RecoveryStatus:
    """Every rule's state and the latest actions, newest last."""

    rules: list[RuleStatus]
    actions: list[ActionRecord]


@attrs.frozen
class RecoveryStatistics:
    """Answer to ``actor.statistics`` (the health monitor shows it as the component's details)."""

    rules: int
    engaged: int
    in_flight: int
    actions: int
    failed: int
    throttled: int
    events: int
    rereads: int
    reread_errors: int
    last_action: str
