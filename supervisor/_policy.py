"""Pure supervision policy: which exits restart, which children a failure takes down,
what a supervisor does about one exit, restart intensity, and backoff. Functions of time;
tested with an injected clock against OTP's rules written out by hand."""

from __future__ import annotations

import collections
import random
from collections.abc import Sequence
from typing import Final, Literal

import attrs

from ._specs import Backoff

NORMAL_CAUSES: Final = frozenset({"normal", "shutdown"})
"""Exit causes OTP counts as normal: a ``transient`` child is not restarted after them."""


def should_restart(restart: str, cause: str) -> bool:
    """OTP's rule: permanent always, transient only after an abnormal exit, temporary never.

    A child stopped by its own ``on_error: stop`` directive is never restarted.
    """
    if restart == "temporary" or cause == "stop_directive":
        return False
    if restart == "transient":
        return cause not in NORMAL_CAUSES
    return True


def restart_plan(strategy: str, order: list[str], failed: str) -> list[str]:
    """Names the strategy takes down after ``failed`` exits, in start order (``failed``
    included). Which of them start again is :func:`decide_exit`'s business: OTP never
    restarts a temporary one."""
    if strategy == "one_for_one":
        return [failed]
    if strategy == "one_for_all":
        return list(order)
    if strategy == "rest_for_one":
        return order[order.index(failed):]
    raise ValueError(f"unknown strategy {strategy!r}")


@attrs.frozen
class ExitDecision:
    """What a supervisor does about one child's exit (see :func:`decide_exit`)."""

    action: Literal["keep_down", "restart", "give_up"]
    terminate: tuple[str, ...] = ()
    """Siblings to stop first, in this order (reverse start order)."""
    start: tuple[str, ...] = ()
    """Children to start again, in this order (start order), each once the one before serves."""
    reason: str = ""
    """Why the supervisor gives up (``give_up``), for its log and its ``gave_up`` event."""
    exit_cause: str = ""
    """What a supervisor that gives up exits with, as its parent sees it: OTP's
    ``shutdown`` past the intensity (a ``transient`` parent rule does not restart it), or
    ``escalated: ...`` for an ``on_error: escalate`` directive (abnormal, this project's own)."""


def decide_exit(strategy: str, children: Sequence[tuple[str, str]], failed: str, cause: str,
                intensity: RestartIntensity, now: float) -> ExitDecision:
    """OTP's supervisor after child ``failed`` exited with ``cause`` at ``now``.

    ``children`` are the supervisor's children as ``(name, restart type)`` in start order:
    those it still holds, plus ``failed``. OTP forgets a temporary child once it has ended,
    so a temporary child that is already down is left out by the caller. The steps are
    OTP's: the restart type decides whether anything happens at all; a restart counts
    against ``intensity`` and past it the supervisor gives up; otherwise the strategy
    names the children taken down, and every one of them but the temporary ones (and the
    failed child itself) starts again.
    """
    types = dict(children)
    if failed not in types:
        raise ValueError(f"child {failed!r} is not among the supervisor's children {list(types)}")
    if cause == "escalate_directive":
        reason = f"child {failed!r} escalated a handler error"
        return ExitDecision("give_up", reason=reason, exit_cause=f"escalated: {reason}")
    if not should_restart(types[failed], cause):
        return ExitDecision("keep_down")
    if intensity.record(now):
        return ExitDecision("give_up", reason=(
            f"child {failed!r} exited ({cause}); more than max_restarts={intensity.max_restarts} "
            f"in max_seconds={intensity.max_seconds:g}"), exit_cause="shutdown")
    taken = restart_plan(strategy, [name for name, _ in children], failed)
    return ExitDecision(
        "restart",
        terminate=tuple(reversed([name for name in taken if name != failed])),
        start=tuple(name for name in taken if name == failed or types[name] != "temporary"))


class RestartIntensity:
    """At most ``max_restarts`` within any ``max_seconds``: OTP's intensity and period.

    As OTP's ``add_restart``, a restart counts while it is at most ``max_seconds`` old
    (the boundary included); unlike OTP, times are not truncated to whole seconds.
    """

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: collections.deque[float] = collections.deque()

    def record(self, now: float) -> bool:
        """Record a restart at ``now``; True if the intensity is now exceeded."""
        self._times.append(now)
        while self._times and self._times[0] < now - self.max_seconds:
            self._times.popleft()
        return len(self._times) > self.max_restarts

    def count(self, now: float) -> int:
        """Restarts inside the current period."""
        return sum(1 for t in self._times if t >= now - self.max_seconds)


class BackoffState:
    """Per-child backoff: the step grows with each restart and resets after good health."""

    def __init__(self, spec: Backoff, rng: random.Random | None = None) -> None:
        self.spec = spec
        self.step = 0
        self._rng = rng or random.Random()

    def next_delay(self, now: float, healthy_since: float | None) -> float:
        """Seconds to wait before the next start; resets if it ran well for reset_after."""
        spec = self.spec
        if healthy_since is not None and now - healthy_since >= spec.reset_after:
            self.step = 0
        self.step += 1
        if spec.initial <= 0:
            return 0.0
        base = min(spec.max, spec.initial * spec.factor ** (self.step - 1))
        spread = base * spec.jitter
        return max(0.0, min(spec.max, base + self._rng.uniform(-spread, spread)))


def hang_cause(now: float, last_beat: float, busy_for: float, *, interval: float,
               liveness: int, max_busy: float | None) -> str | None:
    """Why a serving host counts as hung (the node then kills it), or None.

    Silent for ``interval × liveness`` seconds (the Paranoid Pirate's expiry), or one
    handler busy for more than ``max_busy`` seconds, as its last heartbeat said.
    """
    expiry = interval * liveness
    silent = now - last_beat
    if silent > expiry:
        return f"hung: no heartbeat for {silent:.2f} s (expiry {expiry:g} s)"
    if max_busy is not None and busy_for > max_busy:
        return f"hung: one handler busy for {busy_for:.2f} s (max_busy {max_busy:g} s)"
    return None
