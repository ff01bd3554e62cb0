"""Messages and settings of the breaker actor (type tags ``breaker.*``)."""

from __future__ import annotations

import math
from typing import Any

import attrs

from messages import InvalidBody, message, to_wire, type_tag

from ._analytics import ErrorEntry
from ._policy import BreakerPolicy, RetryOverride, RetryPolicy


def _resource_name(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty resource name, got {value!r}")


def _name(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value or value != value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty name, got {value!r}")


def _error_types(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{attribute.name} must be a list of exception class names, got {value!r:.80}")


Outcome = tuple[str, bool, float, str, str, list[str]]
"""One outcome as the book records it: resource, ok, seconds, error class, message, error types."""


def _seconds(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{attribute.name} must be a finite number of seconds >= 0, got {value!r}")


def _positive_or_none(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{attribute.name} must be a finite number of seconds > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class ResourceConfig:
    """One resource's policies in the config; a missing one takes the actor's default."""

    breaker: BreakerPolicy | None = None
    retry: RetryPolicy | None = None


@attrs.frozen(kw_only=True)
class BreakerSettings:
    """Settings of a breaker actor, from the node config's ``settings``.

    ``auto_create``: a resource not in ``resources`` gets a breaker with the default
    policy on first use; when off, unknown resources are an error (UnknownResource).
    """

    default: BreakerPolicy = attrs.field(factory=BreakerPolicy)
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    resources: dict[str, ResourceConfig] = attrs.field(factory=dict)
    auto_create: bool = True
    call_timeout: float = attrs.field(default=5.0, validator=_positive_or_none)
    analytics_window: float = attrs.field(default=60.0, validator=_positive_or_none)
    worker_threads: int = 16


@message("breaker.state_info")
@attrs.frozen
class StateInfo:
    """Where one breaker stands: what a client needs to check calls locally."""

    resource: str
    state: str
    forced: bool
    retry_after: float


@message("breaker.acquire")
@attrs.frozen
class Acquire:
    """May a call to ``resource`` go now? Answered with :class:`AcquireReply`."""

    resource: str = attrs.field(validator=_resource_name)


@message("breaker.acquire_reply")
@attrs.frozen
class AcquireReply:
    """Permitted or rejected, the state, seconds until retrying makes sense, trial permit."""

    permitted: bool
    state: str
    retry_after: float
    permit: int = 0


@message("breaker.record")
@attrs.frozen
class Record:
    """The outcome of one call to ``resource`` (``permit`` from a half-open acquire).

    ``error_types`` names the exception's classes, most derived first (Python:
    ``[c.__name__ for c in type(exc).__mro__[:-1]]``), so that ``ignored`` and
    ``recorded`` match subclasses; without it only ``error_class`` is matched.
    """

    resource: str = attrs.field(validator=_resource_name)
    ok: bool
    seconds: float = attrs.field(default=0.0, validator=_seconds)
    error_class: str = ""
    message: str = ""
    permit: int = 0
    error_types: list[str] = attrs.field(factory=list, validator=_error_types)


@message("breaker.record_reply")
@attrs.frozen
class RecordReply:
    """How the outcome counted (success, failure, ignored) and the breaker's state after."""

    verdict: str
    state: StateInfo


@message("breaker.record_batch")
@attrs.frozen
class RecordBatch:
    """Many outcomes at once (none is a half-open trial), as maps or as compact rows.

    ``rows`` is the form client helpers ship: each row is ``[resource, ok, seconds,
    error_class, message]`` or, for a failure, ``[..., message, error_types]``, checked by
    hand (five times cheaper than a map per outcome).
    """

    records: list[Record] = attrs.field(factory=list)
    rows: list[Any] = attrs.field(factory=list)

    def outcomes(self) -> list[Outcome]:
        """Every outcome as a tuple, rows checked; InvalidBody names the offending row."""
        out: list[Outcome] = [(r.resource, r.ok, r.seconds, r.error_class, r.message,
                               r.error_types) for r in self.records]
        for i, row in enumerate(self.rows):
            if not (isinstance(row, (list, tuple)) and len(row) in (5, 6)):
                raise InvalidBody(f"RecordBatch.rows[{i}]: expected [resource, ok, seconds, "
                                  f"error_class, message(, error_types)], got {row!r:.80}")
            resource, ok, seconds, error_class, text = row[:5]
            types = row[5] if len(row) == 6 else []
            if not (isinstance(resource, str) and resource and isinstance(ok, bool)
                    and isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                    and seconds >= 0 and math.isfinite(seconds)
                    and isinstance(error_class, str) and isinstance(text, str)
                    and isinstance(types, list) and all(isinstance(t, str) for t in types)):
                raise InvalidBody(f"RecordBatch.rows[{i}]: expected [resource (non-empty str), "
                                  f"ok (bool), seconds (number >= 0), error_class (str), "
                                  f"message (str)(, error_types (list of str))], got {row!r:.80}")
            out.append((resource, ok, float(seconds), error_class, text, types))
        return out


@message("breaker.states")
@attrs.frozen
class States:
    """Ask for breaker states: ``resources`` (empty: every breaker not closed)."""

    resources: list[str] = attrs.field(factory=list)


@message("breaker.states_reply")
@attrs.frozen
class StatesReply:
    """States of the breakers asked for, and of every breaker not closed."""

    states: list[StateInfo]


@message("breaker.call")
@attrs.frozen
class Call:
    """Ask ``target`` with ``type``/``body`` through ``resource``'s breaker and retry policy.

    The reply is the target's, passed on as it came (same type tag, same body), so an ask
    returns what asking the target directly returns: with :meth:`of` the reply's class is
    known to your process and you get the typed object. ``timeout`` bounds the whole call,
    retries included (default: settings.call_timeout); keep it below your own ask timeout
    so the answer reaches you.
    """

    resource: str = attrs.field(validator=_resource_name)
    target: str = attrs.field(validator=_name)
    type: str = attrs.field(validator=_name)
    body: Any = None
    retry: RetryOverride | None = None
    timeout: float | None = attrs.field(default=None, validator=_positive_or_none)

    @classmethod
    def of(cls, resource: str, target: str, message: Any, *, retry: RetryOverride | None = None,
           timeout: float | None = None) -> Call:
        """Forward the message object ``message`` (its type tag and body) to ``target``."""
        return cls(resource, target, type_tag(message), to_wire(message), retry, timeout)


@message("breaker.stats")
@attrs.frozen
class Stats:
    """Error analytics of one resource, or of all when ``resource`` is None."""

    resource: str | None = None


@attrs.frozen
class ResourceStats:
    """Everything known about one resource: breaker and error analytics."""

    resource: str
    state: str
    forced: bool
    retry_after: float
    opens: int
    permitted: int
    rejected: int
    consecutive_failures: int
    window_calls: int
    window_failure_rate: float
    window_slow_rate: float
    time_in_state: dict[str, float]
    calls: int
    successes: int
    failures: int
    ignored: int
    slow: int
    recovered: int
    recovery_rate: float
    errors_by_class: dict[str, int]
    recent_seconds: float
    recent_calls: int
    recent_error_rate: float
    recent_errors_by_class: dict[str, int]
    mean_seconds: float
    last_errors: list[ErrorEntry]


@message("breaker.stats_reply")
@attrs.frozen
class StatsReply:
    """Analytics of the resources asked for."""

    resources: list[ResourceStats]


@message("breaker.force_open")
@attrs.frozen
class ForceOpen:
    """Pin ``resource``'s breaker OPEN (every call rejected) until reset or force_closed."""

    resource: str = attrs.field(validator=_resource_name)
    reason: str = "forced open by message"


@message("breaker.force_closed")
@attrs.frozen
class ForceClosed:
    """Pin ``resource``'s breaker CLOSED (never opens) until reset or force_open."""

    resource: str = attrs.field(validator=_resource_name)
    reason: str = "forced closed by message"


@message("breaker.reset")
@attrs.frozen
class Reset:
    """Back to a fresh CLOSED breaker, unpinned, with an empty window."""

    resource: str = attrs.field(validator=_resource_name)
    reason: str = "reset by message"


@message("breaker.configure")
@attrs.frozen
class Configure:
    """Set ``resource``'s breaker and/or retry policy at run time (creating it if new)."""

    resource: str = attrs.field(validator=_resource_name)
    breaker: BreakerPolicy | None = None
    retry: RetryPolicy | None = None


@attrs.frozen
class BreakerStatistics:
    """Answer to ``actor.statistics``: how many breakers, in which states, and traffic."""

    resources: int
    closed: int
    open: int
    half_open: int
    transitions: int
    acquires: int
    records: int
    calls: int
    rejected: int
