"""Recovery rules as the node config spells them: frozen, validated, naming the offender.

A rule maps one condition (``when``) to one action (``do``)::

    "rules": {
      "grow-pool-when-slow": {
        "when": {"bottleneck": {"op": "pool:pool.execute", "kind": "jump", "min_ratio": 3}},
        "do": {"resize_pool": {"pool": "pool", "grow": 2}},
        "cooldown": 10, "repeat": true
      }
    }

``when`` holds exactly one of ``bottleneck``, ``alert``, ``breaker``, ``restarts``; ``do``
exactly one of ``breaker``, ``resize_pool``, ``restart``, ``publish``. Names are globs
(``fnmatch``); string fields of an action may use the condition's fields as placeholders
(``{"restart": {"actor": "{component}"}}``). Settings are built with
``messages.from_wire``, so an error reads ``RecoverySettings.rules.<rule>.<key>: ...``.
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Literal

import attrs

from messages import integer_at_least, positive_number

SEVERITY_RANK = {"warning": 1, "critical": 2}
BOTTLENECK_KINDS = ("threshold", "jump", "share")
_RULE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")


def _glob(instance: Any, attribute: Any, value: str) -> None:
    if not value:
        raise ValueError(f"{attribute.name}: expected a name or glob pattern, got ''")


def _kinds(instance: Any, attribute: Any, value: Any) -> None:
    given = value if isinstance(value, list) else [value]
    if value is not None and (not given or any(k not in BOTTLENECK_KINDS for k in given)):
        raise ValueError(f"{attribute.name}: expected one of {', '.join(BOTTLENECK_KINDS)} or a "
                         f"list of them, got {value!r}")


# -- conditions ------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class OnBottleneck:
    """The profiler reports a bottleneck on ``op`` (of ``kind``, one or a list; a jump of
    ``min_ratio``×). Whichever kinds fire, the subject is the op: one action per op."""

    op: str = attrs.field(validator=_glob)
    kind: str | list[str] | None = attrs.field(default=None, validator=_kinds)
    min_ratio: float | None = attrs.field(default=None, validator=attrs.validators.optional(positive_number))
    """For jumps: the fast window's percentile over the baseline's, at least this."""

    placeholders: ClassVar[tuple[str, ...]] = ("op", "kind", "actor")


@attrs.frozen(kw_only=True)
class OnAlert:
    """The health monitor has an alert open on ``component``/``metric`` of ``severity`` or worse."""

    component: str = attrs.field(validator=_glob)
    metric: str = attrs.field(default="*", validator=_glob)
    severity: Literal["warning", "critical"] = "warning"

    placeholders: ClassVar[tuple[str, ...]] = ("component", "metric", "severity")


@attrs.frozen(kw_only=True)
class OnBreaker:
    """A breaker guarding ``resource`` is in ``state`` (``open`` includes forced open)."""

    resource: str = attrs.field(validator=_glob)
    state: Literal["open", "half_open", "not_closed"] = "open"

    placeholders: ClassVar[tuple[str, ...]] = ("resource", "state")


@attrs.frozen(kw_only=True)
class OnRestarts:
    """Actor ``actor`` exited on its own more than ``more_than`` times within ``within`` s.

    Exits with cause ``shutdown`` (asked for) and recycling (``memory:``, ``messages:``)
    do not count."""

    actor: str = attrs.field(validator=_glob)
    more_than: int = attrs.field(validator=integer_at_least(0))
    within: float = attrs.field(validator=positive_number)

    placeholders: ClassVar[tuple[str, ...]] = ("actor", "count")


Condition = OnBottleneck | OnAlert | OnBreaker | OnRestarts


@attrs.frozen(kw_only=True)
class When:
    """Exactly one condition."""

    bottleneck: OnBottleneck | None = None
    alert: OnAlert | None = None
    breaker: OnBreaker | None = None
    restarts: OnRestarts | None = None

    def __attrs_post_init__(self) -> None:
        _exactly_one(self, "condition")

    @property
    def kind(self) -> str:
        """Which condition this is: bottleneck, alert, breaker or restarts."""
        return _chosen(self)[0]

    @property
    def condition(self) -> Condition:
        """The one condition set."""
        return _chosen(self)[1]  # type: ignore[no-any-return]


# -- actions ---------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class BreakerAction:
    """Force ``resource``'s breaker ``open`` or ``closed``; reset it after ``seconds``, or
    (``seconds`` null) when the condition clears."""

    resource: str = attrs.field(validator=_glob)
    state: Literal["open", "closed"] = "open"
    seconds: float | None = attrs.field(default=None, validator=attrs.validators.optional(positive_number))
    actor: str = ""
    """The breaker actor (default: the settings' ``breaker``)."""


@attrs.frozen(kw_only=True)
class ResizePoolAction:
    """Grow pool ``pool`` by ``grow`` connections (its ``min_size``), at most to ``up_to``
    (default: the pool's ``max_size``); undone by restoring the ``min_size`` it had, after
    which the pool shrinks idle connections by itself."""

    pool: str = "pool"
    grow: int = attrs.field(default=2, validator=integer_at_least(1))
    up_to: int | None = attrs.field(default=None, validator=attrs.validators.optional(integer_at_least(1)))


@attrs.frozen(kw_only=True)
class RestartAction:
    """Restart actor ``actor`` (the front door's ``node.restart``); nothing to undo."""

    actor: str = attrs.field(validator=_glob)


@attrs.frozen(kw_only=True)
class PublishAction:
    """Publish an event on ``topic`` (``state`` raised, then cleared when the condition goes)."""

    topic: str = "recovery.notice"
    text: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.topic or self.topic.startswith("lifecycle."):
            raise ValueError(f"topic: expected a topic outside 'lifecycle.', got {self.topic!r}")


Action = BreakerAction | ResizePoolAction | RestartAction | PublishAction


@attrs.frozen(kw_only=True)
class Do:
    """Exactly one action."""

    breaker: BreakerAction | None = None
    resize_pool: ResizePoolAction | None = None
    restart: RestartAction | None = None
    publish: PublishAction | None = None

    def __attrs_post_init__(self) -> None:
        _exactly_one(self, "action")

    @property
    def kind(self) -> str:
        """Which action this is: breaker, resize_pool, restart or publish."""
        return _chosen(self)[0]

    @property
    def action(self) -> Action:
        """The one action set."""
        return _chosen(self)[1]  # type: ignore[no-any-return]


# -- a rule ----------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class Rule:
    """``when`` → ``do``, with its brakes.

    ``cooldown``: seconds between two actions of this rule on one subject, and the least
    time an action stays in force before it is undone (no flapping). ``repeat``: act again
    each cooldown while the condition holds (grow step by step). ``undo``: undo the action
    once the condition clears. ``max_per_hour``: actions of this rule, all subjects together.
    """

    when: When
    do: Do
    cooldown: float = attrs.field(default=30.0, validator=positive_number)
    repeat: bool = False
    undo: bool = True
    max_per_hour: int = attrs.field(default=20, validator=integer_at_least(1))

    def __attrs_post_init__(self) -> None:
        known = type(self.when.condition).placeholders
        for key, value in attrs.asdict(self.do.action).items():
            if not isinstance(value, str):
                continue
            for _, name, _, _ in string.Formatter().parse(value):
                if name is not None and name not in known:
                    raise ValueError(f"do.{self.do.kind}.{key}: placeholder {{{name}}} is not a "
                                     f"field of the {self.when.kind!r} condition (known: "
                                     f"{', '.join(known)})")


def default_rules() -> dict[str, Rule]:
    """The rule a node runs out of the box: when ``pool:pool.execute``'s p99 jumps 3× its
    baseline, grow the pool by 2 up to its max; when it recovers, let it shrink."""
    return {"pool-slow-grow": Rule(
        when=When(bottleneck=OnBottleneck(op="pool:pool.execute", kind="jump", min_ratio=3.0)),
        do=Do(resize_pool=ResizePoolAction(pool="pool", grow=2)), cooldown=10.0, repeat=True)}


def _check_rules(instance: Any, attribute: Any, value: dict[str, Rule]) -> None:
    for name in value:
        if not _RULE_NAME.match(name):
            raise ValueError(f"rules: rule name {name!r} must start with a letter and hold only "
                             "letters, digits, '_', '.', '-' (at most 63)")


@attrs.frozen(kw_only=True)
class RecoverySettings:
    """The ``settings`` map of a ``recovery`` actor in the node config."""

    rules: dict[str, Rule] = attrs.field(factory=default_rules, validator=_check_rules)
    """Rule name → rule; omitted: :func:`default_rules`; ``{}``: none."""
    profiler: str = "profiler"
    """The profiler whose bottlenecks rules read (events and periodic re-reads)."""
    health: str = "health"
    """The health monitor whose alerts rules read."""
    breaker: str = "breaker"
    """The breaker actor whose states rules read, and that breaker actions use."""
    sync_interval: float = attrs.field(default=5.0, validator=positive_number)
    """Seconds between re-reads of bottlenecks, alerts and breaker states (events are best
    effort; a restarted recovery actor learns what it missed)."""
    ask_timeout: float = attrs.field(default=2.0, validator=positive_number)
    """Timeout of each ask an action or a re-read makes."""
    retry_initial: float = attrs.field(default=1.0, validator=positive_number)
    """Seconds before a failed action is tried again (doubling, up to ``retry_max``)."""
    retry_max: float = attrs.field(default=30.0, validator=positive_number)
    history: int = attrs.field(default=200, validator=integer_at_least(1))
    """Action records kept for ``recovery.status``."""
    worker_threads: int = attrs.field(default=2, validator=integer_at_least(1))
    """Threads that carry out actions and re-reads (a slow target never stalls the rules)."""


def _exactly_one(obj: Any, what: str) -> None:
    chosen = [f.name for f in attrs.fields(type(obj)) if getattr(obj, f.name) is not None]
    if len(chosen) != 1:
        options = ", ".join(f.name for f in attrs.fields(type(obj)))
        raise ValueError(f"expected exactly one {what} ({options}), got "
                         f"{', '.join(chosen) or 'none'}")


def _chosen(obj: Any) -> tuple[str, Any]:
    for f in attrs.fields(type(obj)):
        value = getattr(obj, f.name)
        if value is not None:
            return f.name, value
    raise AssertionError("validated to hold exactly one")
