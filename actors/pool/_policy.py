"""Pure pool policy: connection states, backoff, lease choice, sizing, idempotency guesses.

Every function here is a function of its arguments (time comes in as numbers), so the
decisions are unit-tested with an injected clock and the pool stays a thin mechanism.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal, Protocol, TypeVar

import attrs


class ConnState(enum.Enum):
    """Health of one pooled connection."""

    HEALTHY = "HEALTHY"
    """Answering; leased first."""
    DEGRADED = "DEGRADED"
    """Answering, but its last check was slow or its last operation hit a transient error;
    leased only when no HEALTHY connection is idle."""
    FAILED = "FAILED"
    """Broken: closed at once, never leased again."""
    RECOVERING = "RECOVERING"
    """Its slot is being reopened (with backoff while the backend is down)."""


_HEALTHY, _DEGRADED = ConnState.HEALTHY, ConnState.DEGRADED
"""The states a connection may be leased in, tested by identity where it runs per
statement (an enum member's hash and the class's attribute lookup are Python code)."""

ConnEvent = Literal["ok", "slow", "transient_error", "broken", "reconnecting", "reconnected"]

DEGRADED_LIMIT = 3
"""Transient errors in a row after which a DEGRADED connection is treated as broken."""


def next_state(state: ConnState, event: ConnEvent, errors_in_row: int = 0) -> ConnState:
    """The state after ``event``; ``errors_in_row`` counts transient errors including this one."""
    if event == "broken":
        return ConnState.FAILED
    if event == "reconnecting":
        return ConnState.RECOVERING
    if event == "reconnected":
        return ConnState.HEALTHY
    if state in (ConnState.FAILED, ConnState.RECOVERING):
        return state  # only a reconnect brings a closed slot back
    if event == "ok":
        return ConnState.HEALTHY
    if event == "transient_error" and errors_in_row >= DEGRADED_LIMIT:
        return ConnState.FAILED
    return ConnState.DEGRADED


@attrs.frozen(kw_only=True)
class Backoff:
    """Capped exponential backoff with equal jitter: delay n is in [d/2, d], d = initial·2ⁿ⁻¹."""

    initial: float = 0.1
    maximum: float = 10.0

    def __attrs_post_init__(self) -> None:
        for name in ("initial", "maximum"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"backoff {name} must be a finite number > 0, got {value!r}")

    def delay(self, failures: int, rand: Callable[[], float]) -> float:
        """Seconds to wait after ``failures`` failures in a row (0 when there were none)."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.maximum, self.initial * 2.0 ** min(failures - 1, 60))
        return ceiling / 2 + ceiling / 2 * rand()


class Leasable(Protocol):
    """What the lease choice looks at in an idle connection."""

    @property
    def state(self) -> ConnState: ...
    @property
    def load(self) -> float: ...
    @property
    def last_used(self) -> float: ...


L = TypeVar("L", bound=Leasable)


def choose_least_busy(idle: Iterable[L]) -> L | None:
    """The idle connection to lease: HEALTHY before DEGRADED, then the lowest recent load
    (decayed busy time), so work spreads over every connection; among equals the most
    recently used (LIFO, as pgbouncer does), whose server process is still warm."""
    best: L | None = None
    best_key: tuple[int, float, float] | None = None
    for conn in idle:  # runs per statement over every idle connection: no enum lookups
        state = conn.state
        if state is not _HEALTHY and state is not _DEGRADED:
            continue
        key = (state is _DEGRADED, conn.load, -conn.last_used)
        if best_key is None or key < best_key:
            best, best_key = conn, key
    return best


def decayed_load(load: float, busy: float, since_last: float, half_life: float = 1.0) -> float:
    """Recent busy seconds of a connection: the old figure halves every ``half_life`` seconds."""
    return float(load * 0.5 ** (max(since_last, 0.0) / half_life) + busy)


@attrs.frozen(kw_only=True)
class PoolLoad:
    """A snapshot of the pool as the sizing policy sees it."""

    size: int
    min_size: int
    max_size: int
    idle: int
    waiting: int
    connecting: int
    peak_in_use: int
    """The most connections leased at once since the sizing window began."""
    window: float
    """Seconds since the sizing window began."""
    shrink_after: float


@attrs.frozen
class SizingDecision:
    """Connections to open (> 0) or close (< 0), and why (logged by the pool)."""

    change: int
    reason: str


def decide_size(p: PoolLoad) -> SizingDecision:
    """Refill to min_size, trim to max_size, grow while requests queue, shrink after a
    quiet window."""
    if p.size < p.min_size:
        return SizingDecision(p.min_size - p.size, f"pool has {p.size} connections, below "
                                                  f"min_size {p.min_size}")
    if p.size > p.max_size and p.idle > 0:
        return SizingDecision(-min(p.idle, p.size - p.max_size),
                              f"pool has {p.size} connections, above max_size {p.max_size}")
    unserved = p.waiting - p.connecting
    if unserved > 0 and p.size < p.max_size:
        grow = min(unserved, p.max_size - p.size)
        return SizingDecision(grow, f"{p.waiting} request(s) queued with all {p.size} "
                                    f"connection(s) busy (max_size {p.max_size})")
    if p.window >= p.shrink_after and p.size > p.min_size and p.idle > 0 and p.waiting == 0:
        target = max(p.min_size, p.peak_in_use)
        shrink = min(p.idle, p.size - target)
        if shrink > 0:
            return SizingDecision(-shrink, f"at most {p.peak_in_use} of {p.size} connection(s) "
                                           f"in use over the last {p.window:.0f} s")
    return SizingDecision(0, "")


def percentiles(samples: Sequence[float], points: Sequence[float]) -> list[float]:
    """Nearest-rank percentiles of ``samples`` (0.0 each when there are none)."""
    if not samples:
        return [0.0 for _ in points]
    ordered = sorted(samples)
    n = len(ordered)
    return [ordered[min(n - 1, max(0, math.ceil(p / 100 * n) - 1))] for p in points]


_READ_ONLY_SQL = re.compile(r"^\s*(select|show|values|explain|table|pragma)\b", re.IGNORECASE)
_WRITE_HINT = re.compile(r"\b(insert|update|delete|merge|nextval|setval|for\s+update)\b",
                         re.IGNORECASE)
_READ_ONLY_COMMANDS = frozenset({
    "PING", "ECHO", "GET", "MGET", "EXISTS", "TTL", "PTTL", "TYPE", "STRLEN", "GETRANGE",
    "HGET", "HMGET", "HGETALL", "HKEYS", "HVALS", "HLEN", "HEXISTS", "LRANGE", "LLEN",
    "LINDEX", "SMEMBERS", "SISMEMBER", "SCARD", "ZRANGE", "ZSCORE", "ZCARD", "ZRANK",
    "KEYS", "SCAN", "DBSIZE", "INFO", "TIME",
    # writes that give the same result when repeated
    "SET", "DEL", "HSET", "SADD", "SREM", "EXPIRE", "PERSIST", "MSET",
})


def guess_idempotent_sql(sql: str) -> bool:
    """Whether a statement is safe to retry when the message did not say: plain reads only."""
    return bool(_READ_ONLY_SQL.match(sql)) and not _WRITE_HINT.search(sql)


def guess_idempotent_command(args: Sequence[object]) -> bool:
    """Whether a Redis/TCP command is safe to retry when the message did not say."""
    if not args:
        return False
    name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
    return name.upper() in _READ_ONLY_COMMANDS
