"""The pool's messages (public protocol) and its statistics."""

from __future__ import annotations

from typing import Any

import attrs

from actors.profiler import OpHistogram
from messages import message, positive_number, positive_seconds

from ._connector import ResultSet

_optional_seconds = attrs.validators.optional(positive_seconds)
_optional_positive = attrs.validators.optional(positive_number)


@message("pool.execute")
@attrs.frozen
class Execute:
    """Run one SQL statement on a leased connection; the reply is a :class:`ExecuteResult`.

    ``idempotent`` None means: retry after a transient error only if the statement is a
    plain read (SELECT, SHOW, VALUES, EXPLAIN). ``timeout`` (seconds) cancels a statement
    that runs longer; None uses the pool's statement_timeout.
    """

    sql: str
    params: list[Any] | dict[str, Any] | None = None
    idempotent: bool | None = None
    timeout: float | None = attrs.field(default=None, validator=_optional_seconds)


@message("pool.command")
@attrs.frozen
class Command:
    """Send one command (Redis, or a line to a TCP service); the reply is a :class:`CommandResult`."""

    args: list[Any]
    idempotent: bool | None = None
    timeout: float | None = attrs.field(default=None, validator=_optional_seconds)

    def __attrs_post_init__(self) -> None:
        if not self.args:
            raise ValueError("args: expected at least the command name, got an empty list")


@attrs.frozen
class Statement:
    """One statement of a transaction."""

    sql: str
    params: list[Any] | dict[str, Any] | None = None


@message("pool.transaction")
@attrs.frozen
class Transaction:
    """Run statements on one connection, all committed or all rolled back.

    The reply is a list of :class:`ExecuteResult`, one per statement. Retried after a
    transient error only when ``idempotent`` is true.
    """

    statements: list[Statement]
    idempotent: bool = False
    timeout: float | None = attrs.field(default=None, validator=_optional_seconds)

    def __attrs_post_init__(self) -> None:
        if not self.statements:
            raise ValueError("statements: expected at least one statement, got an empty list")


@message("pool.configure")
@attrs.frozen
class Configure:
    """Change pool settings at run time; fields left out (None) stay as they are.

    The reply is the pool's settings after the change."""

    min_size: int | None = attrs.field(default=None)
    max_size: int | None = attrs.field(default=None, validator=_optional_positive)
    acquire_timeout: float | None = attrs.field(default=None, validator=_optional_positive)
    statement_timeout: float | None = attrs.field(default=None, validator=_optional_positive)
    retries: int | None = None
    max_idle: float | None = attrs.field(default=None, validator=_optional_positive)
    max_lifetime: float | None = attrs.field(default=None, validator=_optional_positive)
    health_check_interval: float | None = attrs.field(default=None, validator=_optional_positive)
    shrink_after: float | None = attrs.field(default=None, validator=_optional_positive)

    def __attrs_post_init__(self) -> None:
        for name in ("min_size", "retries"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")


@message("pool.stats")
@attrs.frozen
class Stats:
    """Ask for the pool's :class:`PoolStatistics`."""


@message("pool.result")
@attrs.frozen
class ExecuteResult:
    """One statement's result: column names, rows, and rows affected (-1 when unknown)."""

    columns: list[str]
    rows: list[list[Any]]
    rowcount: int

    @classmethod
    def of(cls, result: ResultSet) -> ExecuteResult:
        """The reply for a connector's ResultSet."""
        return cls(result.columns, result.rows, result.rowcount)


@message("pool.command_result")
@attrs.frozen
class CommandResult:
    """A command's answer as msgpack data."""

    result: Any


@attrs.frozen
class ConnectionInfo:
    """One connection slot as the statistics show it."""

    id: int
    state: str
    leased: bool
    uses: int
    errors: int
    age: float
    idle_for: float


@message("pool.statistics")
@attrs.frozen
class PoolStatistics:
    """The pool's state: sizes, per-connection state, acquire-time percentiles, errors."""

    name: str
    backend: str
    target: str
    size: int
    min_size: int
    max_size: int
    in_use: int
    idle: int
    waiting: int
    connecting: int
    operations: int
    retries: int
    acquires: int
    acquire_ms_p50: float
    acquire_ms_p90: float
    acquire_ms_p99: float
    acquire_ms_max: float
    errors: dict[str, int]
    connections: list[ConnectionInfo]
    sizing: list[str]
    """The last sizing decisions, each with its reason."""
    last_connect_error: str
    availability: float = 1.0
    """Share of the pool's connections that can serve (HEALTHY or DEGRADED); 0.0 when it
    has none and the last connect failed. The health monitor reads it by this name."""
    ended_idle: int = 0
    """Connections found gone while idle (their server closed them) and replaced before
    being handed out."""
    application_name: str = ""
    """The name the pool's connections carry on the server: PostgreSQL's application_name
    (``pg_stat_activity``), Redis's client name; empty for the other backends."""
    leases: int = 0
    """Agent processes holding a lease of the budget (the fast lane)."""
    leased: int = 0
    """Connections of ``max_size`` those leases may have open (the pool's own are ``size``)."""
    leased_operations: int = 0
    """Operations agents ran on leased connections (also counted in ``operations``)."""
    throughput: float = 0.0
    """Operations per second over the last few seconds, leased ones included."""
    error_rate: float = 0.0
    """Share of those operations that failed for the pool's or its backend's sake
    (transient, timeout); a statement's own error (permanent: an SQL error) is its answer,
    not a fault of the pool. The health monitor reads ``throughput`` by this name."""
    rate_calls: int = 0
    """Operations so far, failed ones and leased ones included (what ``rate_faults`` is a
    share of): the health monitor's error_rate of the pool comes from these two counts."""
    rate_faults: int = 0
    """Operations so far that failed for the pool's or its backend's sake (transient,
    timeout), as in ``error_rate``."""
    acquire_wait: OpHistogram | None = None
    """Every acquire's wait since the pool started, as a log-linear histogram (seconds)."""
