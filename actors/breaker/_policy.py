"""Policy values of a breaker and a retry: frozen attrs classes validated field by field.

They come from the node's config (``settings``), from ``breaker.configure`` at run time,
and per call (retry overrides). A bad value raises ValueError naming the field.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs

TRANSIENT_CLASSES: tuple[str, ...] = ("transient", "timeout", "connection", "overloaded", "crashed")
"""Error classes retried by default: the callee may well succeed if asked again."""


def _finite(low: float, *, low_open: bool = False, high: float | None = None,
            high_open: bool = False) -> Any:
    """A validator: a finite number within the given bounds (messages name the field)."""

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            lo = f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f" and {'<' if high_open else '<='} {high:g}"
            raise ValueError(f"{attribute.name} must be a finite number {lo}{hi}, got {value!r}")

    return check


def _count(low: int) -> Any:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{attribute.name} must be an integer >= {low}, got {value!r}")

    return check


def _names(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{attribute.name} must be a list of error class names, got {value!r}")


@attrs.frozen(kw_only=True)
class BreakerPolicy:
    """When one breaker opens, how long it stays open, and what half-open allows.

    Opens on ``failure_rate`` or ``slow_call_rate`` (fractions, reached or passed) over
    the sliding window once it holds ``minimum_calls``; or after ``consecutive_failures``
    failures in a row (0 turns that rule off). ``window`` is ``"count"`` (the last
    ``window_size`` calls) or ``"time"`` (the calls of the last ``window_size`` seconds).
    """

    window: Literal["count", "time"] = attrs.field(
        default="count", validator=attrs.validators.in_(("count", "time")))
    window_size: float = attrs.field(default=100, validator=_finite(0, low_open=True))
    minimum_calls: int = attrs.field(default=10, validator=_count(1))
    failure_rate: float = attrs.field(default=0.5, validator=_finite(0, low_open=True, high=1))
    slow_call_rate: float = attrs.field(default=1.0, validator=_finite(0, low_open=True, high=1))
    slow_call_seconds: float = attrs.field(default=60.0, validator=_finite(0, low_open=True))
    consecutive_failures: int = attrs.field(default=0, validator=_count(0))
    open_seconds: float = attrs.field(default=30.0, validator=_finite(0, low_open=True))
    open_multiplier: float = attrs.field(default=1.0, validator=_finite(1))
    open_max_seconds: float = attrs.field(default=300.0, validator=_finite(0, low_open=True))
    half_open_permits: int = attrs.field(default=3, validator=_count(1))
    permit_timeout: float = attrs.field(default=30.0, validator=_finite(0, low_open=True))
    ignored: list[str] = attrs.field(factory=list, validator=_names)
    recorded: list[str] = attrs.field(factory=list, validator=_names)

    def __attrs_post_init__(self) -> None:
        if self.window == "count" and self.window_size != int(self.window_size):
            raise ValueError(f"window_size must be a whole number of calls for a count window, "
                             f"got {self.window_size!r}")
        if self.open_max_seconds < self.open_seconds:
            raise ValueError(f"open_max_seconds ({self.open_max_seconds:g}) must be >= "
                             f"open_seconds ({self.open_seconds:g})")

    def open_wait(self, consecutive_opens: int) -> float:
        """Seconds to stay open after the ``consecutive_opens``-th opening in a row (1-based)."""
        wait = self.open_seconds * self.open_multiplier ** max(0, consecutive_opens - 1)
        return min(wait, self.open_max_seconds)

    def counts_as(self, ok: bool, error_class: str) -> str:
        """``"success"``, ``"failure"`` or ``"ignored"`` for one outcome."""
        if ok:
            return "success"
        if error_class in self.ignored:
            return "ignored"
        if self.recorded and error_class not in self.recorded:
            return "success"
        return "failure"


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a failed call is retried: exponential backoff with jitter, bounded every way.

    ``jitter`` is ``"full"`` (uniform in [0, backoff]), ``"decorrelated"`` (uniform in
    [base, 3 * previous delay], capped) or ``"none"``. Only errors whose class is in
    ``transient`` are retried; ``max_total_seconds`` bounds the whole call (0: unbounded).
    """

    max_attempts: int = attrs.field(default=3, validator=_count(1))
    base_delay: float = attrs.field(default=0.05, validator=_finite(0))
    max_delay: float = attrs.field(default=2.0, validator=_finite(0))
    multiplier: float = attrs.field(default=2.0, validator=_finite(1))
    jitter: Literal["full", "decorrelated", "none"] = attrs.field(
        default="full", validator=attrs.validators.in_(("full", "decorrelated", "none")))
    max_total_seconds: float = attrs.field(default=0.0, validator=_finite(0))
    transient: list[str] = attrs.field(factory=lambda: list(TRANSIENT_CLASSES), validator=_names)

    def __attrs_post_init__(self) -> None:
        if self.max_delay < self.base_delay:
            raise ValueError(f"max_delay ({self.max_delay:g}) must be >= base_delay ({self.base_delay:g})")


@attrs.frozen(kw_only=True)
class RetryOverride:
    """Per-call changes to a resource's retry policy; every field left None keeps the default."""

    max_attempts: int | None = None
    base_delay: float | None = None
    max_delay: float | None = None
    multiplier: float | None = None
    jitter: Literal["full", "decorrelated", "none"] | None = None
    max_total_seconds: float | None = None
    transient: list[str] | None = None

    def apply(self, policy: RetryPolicy) -> RetryPolicy:
        """``policy`` with the fields this override sets; ValueError names a bad field."""
        changes = {f.name: getattr(self, f.name) for f in attrs.fields(RetryOverride)
                   if getattr(self, f.name) is not None}
        return attrs.evolve(policy, **changes) if changes else policy
