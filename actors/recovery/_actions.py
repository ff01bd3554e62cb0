"""Carrying out one attempt against the node: the only module that sends what rules decide.

Each action kind has an ``act`` and (where it makes sense) an ``undo``; both are plain
asks to the actor concerned with a finite timeout. Whatever fails becomes a failed
:class:`~._track.Outcome` naming the exception: the engine retries it, nothing raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from actors.breaker import ForceClosed, ForceOpen, Reset
from actors.pool import Configure as PoolConfigure
from actors.pool import PoolStatistics
from actors.pool import Stats as PoolStats
from messages import NODE_TARGET, RestartChild

from ._rules import BreakerAction, PublishAction, ResizePoolAction, RestartAction
from ._track import Outcome, Task

RESTART_TIMEOUT: Final = 35.0
"""A restart is answered once the new incarnation serves (the node waits up to 30 s for
``on_start``): timing it out sooner would retry a restart that is still happening."""

Publish = Callable[[str, dict[str, Any]], None]


@attrs.frozen
class Target:
    """What an attempt needs besides the task: a connection, the event sink, names, timeout."""

    connection: Any
    publish: Publish
    me: str
    breaker: str
    timeout: float


def perform(task: Task, target: Target) -> Outcome:
    """Carry out ``task``; never raises (a failure is an Outcome with ``ok`` false)."""
    try:
        action = task.action
        if isinstance(action, BreakerAction):
            return _breaker(task, action, target)
        if isinstance(action, ResizePoolAction):
            return _resize(task, action, target)
        if isinstance(action, RestartAction):
            return _restart(action, target)
        assert isinstance(action, PublishAction)
        return _publish(task, action, target)
    except Exception as exc:  # an action failing is an outcome, retried by the engine
        return Outcome(False, f"{type(exc).__name__}: {exc}")


def _reason(task: Task) -> str:
    return f"recovery rule {task.rule!r} ({task.key})"


def _breaker(task: Task, action: BreakerAction, target: Target) -> Outcome:
    actor = action.actor or target.breaker
    if task.step == "undo":
        target.connection.ask(actor, Reset(action.resource, f"{_reason(task)}: condition over"),
                              timeout=target.timeout)
        return Outcome(True, f"breaker {action.resource!r} reset")
    forced = ForceOpen if action.state == "open" else ForceClosed
    target.connection.ask(actor, forced(action.resource, _reason(task)), timeout=target.timeout)
    until = f" for {action.seconds:g} s" if action.seconds is not None else " until the condition clears"
    return Outcome(True, f"breaker {action.resource!r} forced {action.state}{until}")


def _resize(task: Task, action: ResizePoolAction, target: Target) -> Outcome:
    conn, pool = target.connection, action.pool
    if task.step == "undo":
        if "min_size" not in task.memo:
            return Outcome(True, f"pool {pool!r}: no min_size to restore")
        conn.ask(pool, PoolConfigure(min_size=task.memo["min_size"]), timeout=target.timeout)
        return Outcome(True, f"pool {pool!r} min_size back to {task.memo['min_size']}; "
                             "idle connections above it close after the pool's shrink_after")
    stats: PoolStatistics = conn.ask(pool, PoolStats(), timeout=target.timeout)
    cap = min(action.up_to or stats.max_size, stats.max_size)
    wanted = max(stats.min_size, min(max(stats.size, stats.min_size) + action.grow, cap))
    memo = {"min_size": stats.min_size}
    if wanted == stats.min_size:
        return Outcome(True, f"pool {pool!r} already at its limit (size {stats.size}, "
                             f"min_size {stats.min_size}, max {cap})", memo)
    conn.ask(pool, PoolConfigure(min_size=wanted), timeout=target.timeout)
    return Outcome(True, f"pool {pool!r} min_size {stats.min_size} -> {wanted} "
                         f"(size was {stats.size}, max {cap})", memo)


def _restart(action: RestartAction, target: Target) -> Outcome:
    if action.actor == target.me:
        return Outcome(True, f"skipped: a rule may not restart the recovery actor {target.me!r}")
    reply = target.connection.ask(NODE_TARGET, RestartChild(action.actor),
                                  timeout=max(target.timeout, RESTART_TIMEOUT))
    return Outcome(True, str(getattr(reply, "detail", reply)))


def _publish(task: Task, action: PublishAction, target: Target) -> Outcome:
    state = "raised" if task.step == "act" else "cleared"
    target.publish(action.topic, {"rule": task.rule, "subject": task.key, "state": state,
                                  "text": action.text, "evidence": task.evidence})
    return Outcome(True, f"published {action.topic!r} ({state})")
