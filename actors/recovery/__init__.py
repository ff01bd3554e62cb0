"""Recovery rules: what the profiler, health monitor, breakers and supervisor report,
mapped to actions (force a breaker, resize a pool, restart an actor, publish an event).

Run it from a node config as ``{"name": "recovery", "actor": "recovery"}`` (the default
config does, with :func:`default_rules`); rules come from its ``settings.rules``. The
engine is pure (:class:`RuleEngine`, tested on a manual clock); the actor feeds it events
and carries out what it decides, publishing every attempt as ``recovery.action``.
"""

from ._actions import RESTART_TIMEOUT, Target, perform
from ._actor import RecoveryActor
from ._engine import RuleEngine
from ._messages import (
    ACTION_TOPIC,
    ActionRecord,
    RecoveryStatistics,
    RecoveryStatus,
    RuleStatus,
    StatusQuery,
)
from ._observe import Exit, Observation, from_event, matches
from ._rules import (
    BreakerAction,
    Do,
    OnAlert,
    OnBottleneck,
    OnBreaker,
    OnRestarts,
    PublishAction,
    RecoverySettings,
    ResizePoolAction,
    RestartAction,
    Rule,
    When,
    default_rules,
)
from ._track import Outcome, Task, Track, decide

__all__ = [
    "ACTION_TOPIC",
    "RESTART_TIMEOUT",
    "ActionRecord",
    "BreakerAction",
    "Do",
    "Exit",
    "Observation",
    "OnAlert",
    "OnBottleneck",
    "OnBreaker",
    "OnRestarts",
    "Outcome",
    "PublishAction",
    "RecoveryActor",
    "RecoverySettings",
    "RecoveryStatistics",
    "RecoveryStatus",
    "ResizePoolAction",
    "RestartAction",
    "Rule",
    "RuleEngine",
    "RuleStatus",
    "StatusQuery",
    "Target",
    "Task",
    "Track",
    "When",
    "decide",
    "default_rules",
    "from_event",
    "matches",
    "perform",
]
