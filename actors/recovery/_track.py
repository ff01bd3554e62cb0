"""One rule on one subject: its state, and the pure decision of what to do next.

The decision is level-triggered, like a controller's reconcile step: from whether the
condition holds (``wanted``), whether the rule's action is in force (``engaged``) and the
clock, :func:`decide` returns ``act``, ``undo`` or nothing. Cooldown bounds both: two
actions of a rule on a subject are ``cooldown`` apart, and an action stays in force at
least that long before it is undone, so a flapping condition cannot flap the system.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ._rules import Action, BreakerAction, Rule

Step = Literal["act", "undo"]
UNDOABLE = ("breaker", "resize_pool", "publish")
"""Action kinds that have an undo (a restart has none)."""


@attrs.define
class Track:
    """The state of one rule on one subject (a ``key`` such as ``pool:pool.execute/jump``)."""

    rule: str
    key: str
    wanted: bool = False
    since: float = 0.0
    """When the condition last began to hold."""
    engaged: bool = False
    acted_at: float | None = None
    attempts: int = 0
    """Failed attempts in a row (retries back off on it)."""
    retry_at: float = 0.0
    pending: str = ""
    """``act`` or ``undo`` while an attempt is in flight (saved: at most once across a restart)."""
    pending_at: float = 0.0
    memo: dict[str, Any] = attrs.field(factory=dict)
    """What the undo needs (the pool's min_size before the first grow)."""
    fields: dict[str, Any] = attrs.field(factory=dict)
    evidence: dict[str, Any] = attrs.field(factory=dict)
    throttled: bool = False
    """The hourly cap held back an act (counted once per hold)."""

    def to_dict(self) -> dict[str, Any]:
        """Msgpack-able state for the snapshot."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Track:
        """Inverse of :meth:`to_dict`; an attempt in flight at the crash counts as done, so
        nothing is done twice (its rule acts again after the cooldown if still needed)."""
        track = cls(**data)
        if track.pending == "act":
            track.engaged, track.acted_at = True, track.pending_at
        elif track.pending == "undo":
            track.engaged, track.memo = False, {}
        track.pending = ""
        return track

    @property
    def idle(self) -> bool:
        """Nothing to remember but a cooldown."""
        return not (self.wanted or self.engaged or self.pending or self.attempts)


@attrs.frozen
class Task:
    """An action attempt to carry out now."""

    rule: str
    key: str
    step: Step
    kind: str
    action: Action
    memo: dict[str, Any]
    evidence: dict[str, Any]
    attempt: int
    waited: float


@attrs.frozen
class Outcome:
    """How an attempt went; ``memo`` is what its undo will need."""

    ok: bool
    detail: str
    memo: dict[str, Any] = attrs.field(factory=dict)


def decide(t: Track, rule: Rule, now: float, *, budget: bool) -> Step | None:
    """What ``rule`` should do now on ``t``'s subject; ``budget``: its hourly cap allows an act."""
    if t.pending or now < t.retry_at:
        return None
    cooled = t.acted_at is None or now - t.acted_at >= rule.cooldown
    seconds = timed(rule)
    if t.engaged and seconds is not None and t.acted_at is not None and now - t.acted_at >= seconds:
        return "undo"
    if t.wanted:
        return "act" if (not t.engaged or rule.repeat) and cooled and budget else None
    if t.engaged and seconds is None and undone_on_clear(rule):
        return "undo" if cooled else None
    return None


def timed(rule: Rule) -> float | None:
    """Seconds after which the rule's action is undone whatever the condition (breakers)."""
    action = rule.do.action
    return action.seconds if isinstance(action, BreakerAction) else None


def undone_on_clear(rule: Rule) -> bool:
    """Whether the rule's action is undone when its condition clears."""
    return rule.undo and rule.do.kind in UNDOABLE


def resolve(action: Action, fields: dict[str, Any]) -> Action:
    """``action`` with the condition's fields put into its placeholders."""
    values = _Blank({k: "" if v is None else v for k, v in fields.items()})
    changes = {f.name: getattr(action, f.name).format_map(values)
               for f in attrs.fields(type(action)) if isinstance(getattr(action, f.name), str)}
    return attrs.evolve(action, **changes)


def describe(kind: str, action: Action) -> str:
    """A one-line description such as ``resize_pool pool=pool grow=2``."""
    parts = [f"{k}={v}" for k, v in attrs.asdict(action).items() if v not in (None, "")]
    return " ".join([kind, *parts])


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""
