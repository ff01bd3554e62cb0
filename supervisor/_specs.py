"""Child specs and supervisor flags: frozen, validated before anything starts.

Names and defaults follow Erlang/OTP's ``supervisor`` (intensity 1 restart in 5 s,
shutdown 5 s, restart ``permanent``); ``on_error``, heartbeats and backoff go beyond it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, Literal

import attrs

from messages import NODE_TARGET, ConfigError

DEFAULT_MAX_RESTARTS: Final = 1
DEFAULT_MAX_SECONDS: Final = 5.0
DEFAULT_SHUTDOWN: Final = 5.0
HEARTBEAT_INTERVAL: Final = 1.0
"""Seconds between heartbeats of an actor host on its control channel."""
HEARTBEAT_LIVENESS: Final = 3
"""Heartbeats a host may miss before it counts as hung (expiry = interval × liveness)."""
DEFAULT_MAX_BUSY: Final = 30.0
"""Seconds one handler may run before the actor counts as hung (``null``: never)."""
DEFAULT_MAILBOX_SIZE: Final = 1000

Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]
RestartType = Literal["permanent", "transient", "temporary"]
OnError = Literal["resume", "restart", "stop", "escalate"]
STRATEGIES: Final = ("one_for_one", "one_for_all", "rest_for_one")
RESTART_TYPES: Final = ("permanent", "transient", "temporary")
ON_ERROR: Final = ("resume", "restart", "stop", "escalate")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")


def _positive(where: str, field: str, value: float, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{where}: {field} must be a finite number {bound}, got {value!r}")


@attrs.frozen(kw_only=True)
class Backoff:
    """Delay before restart ``n`` (n ≥ 1): ``min(max, initial × factor^(n-1))`` ± jitter,
    back to the first step after ``reset_after`` seconds of good health."""

    initial: float = 0.0
    factor: float = 2.0
    max: float = 30.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def check(self, where: str) -> None:
        """ConfigError naming the field if a value cannot work."""
        _positive(where, "backoff.initial", self.initial, allow_zero=True)
        _positive(where, "backoff.max", self.max, allow_zero=True)
        _positive(where, "backoff.reset_after", self.reset_after, allow_zero=True)
        if not (isinstance(self.factor, (int, float)) and self.factor >= 1):
            raise ConfigError(f"{where}: backoff.factor must be >= 1, got {self.factor!r}")
        if not (isinstance(self.jitter, (int, float)) and 0 <= self.jitter <= 1):
            raise ConfigError(f"{where}: backoff.jitter must be within 0..1, got {self.jitter!r}")


@attrs.frozen(kw_only=True)
class ChildSpec:
    """One supervised actor: what to run and how to treat its failures."""

    name: str
    actor: str
    settings: dict[str, Any] = attrs.field(factory=dict)
    restart: RestartType = "permanent"
    shutdown: float | Literal["brutal_kill"] = DEFAULT_SHUTDOWN
    on_error: OnError = "resume"
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    heartbeat_liveness: int = HEARTBEAT_LIVENESS
    max_busy: float | None = DEFAULT_MAX_BUSY
    mailbox_size: int = DEFAULT_MAILBOX_SIZE
    backoff: Backoff = Backoff()
    warm_standby: bool = True
    """Keep a forked host waiting for the next incarnation: a restart skips the fork
    (about 10 ms to serving instead of about 40) at the cost of one idle process per
    child (about 10 MiB PSS); ``false`` trades that speed for memory."""
    max_memory: float | None = None
    """Recycle the actor once its process's resident memory (RSS, MiB) exceeds this:
    checked at each heartbeat; the incarnation stops gracefully (the message in hand
    finishes, ``on_stop`` may save a snapshot) and a fresh one takes over. ``null``: never."""
    max_messages: int | None = None
    """Recycle the actor once an incarnation has handled this many messages (checked at
    each heartbeat, so a few more may pass). ``null``: never."""

    def check(self, where: str) -> None:
        """ConfigError naming the child and the field if the spec cannot run."""
        where = f"{where} child {self.name!r}"
        if self.restart not in RESTART_TYPES:
            raise ConfigError(f"{where}: restart must be one of {RESTART_TYPES}, got {self.restart!r}")
        if self.on_error not in ON_ERROR:
            raise ConfigError(f"{where}: on_error must be one of {ON_ERROR}, got {self.on_error!r}")
        if self.shutdown != "brutal_kill":
            _positive(where, "shutdown", self.shutdown)
        _positive(where, "heartbeat_interval", self.heartbeat_interval)
        if not (isinstance(self.heartbeat_liveness, int) and self.heartbeat_liveness >= 1):
            raise ConfigError(f"{where}: heartbeat_liveness must be an integer >= 1, "
                              f"got {self.heartbeat_liveness!r}")
        if self.max_busy is not None:
            _positive(where, "max_busy", self.max_busy)
        if self.max_memory is not None:
            _positive(where, "max_memory", self.max_memory)
        if self.max_messages is not None and not (
                isinstance(self.max_messages, int) and self.max_messages >= 1):
            raise ConfigError(f"{where}: max_messages must be an integer >= 1, got {self.max_messages!r}")
        if not (isinstance(self.mailbox_size, int) and self.mailbox_size >= 1):
            raise ConfigError(f"{where}: mailbox_size must be an integer >= 1, got {self.mailbox_size!r}")
        self.backoff.check(where)


@attrs.frozen(kw_only=True)
class SupervisorSpec:
    """A supervisor: its strategy, its restart intensity, and its ordered children."""

    name: str
    strategy: Strategy = "one_for_one"
    max_restarts: int = DEFAULT_MAX_RESTARTS
    max_seconds: float = DEFAULT_MAX_SECONDS
    restart: RestartType = "permanent"
    children: tuple[ChildSpec | SupervisorSpec, ...] = ()

    def check(self, where: str = "config") -> None:
        """Validate the whole subtree; names must be unique across it."""
        here = f"{where} supervisor {self.name!r}"
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"{here}: strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if not (isinstance(self.max_restarts, int) and self.max_restarts >= 0):
            raise ConfigError(f"{here}: max_restarts must be an integer >= 0, got {self.max_restarts!r}")
        _positive(here, "max_seconds", self.max_seconds)
        if self.restart not in RESTART_TYPES:
            raise ConfigError(f"{here}: restart must be one of {RESTART_TYPES}, got {self.restart!r}")
        seen: set[str] = {self.name}
        for spec in self.walk():
            if spec is self:
                continue
            if not _NAME.match(spec.name):
                raise ConfigError(f"{here}: name {spec.name!r} must start with a letter and hold "
                                  "only letters, digits, '_', '.', '-' (at most 63)")
            if spec.name == NODE_TARGET:
                raise ConfigError(f"{here}: the name {NODE_TARGET!r} is the node's own front door; "
                                  "choose another name for this child")
            if spec.name in seen:
                raise ConfigError(f"{here}: two children are named {spec.name!r}; names must be unique")
            seen.add(spec.name)
        for child in self.children:
            child.check(here)

    def walk(self) -> list[ChildSpec | SupervisorSpec]:
        """This supervisor and every spec below it, depth first, in start order."""
        out: list[ChildSpec | SupervisorSpec] = [self]
        for child in self.children:
            out.extend(child.walk() if isinstance(child, SupervisorSpec) else [child])
        return out
