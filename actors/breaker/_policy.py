"""Policy values of a breaker and a retry: frozen attrs classes validated field by field.

They come from the node's config (``settings``), from ``breaker.configure`` at run time,
and per call (retry overrides). A bad value raises ValueError naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    A call is slow when it takes longer than ``slow_call_seconds``.

    HALF_OPEN hands out ``half_open_permits`` trials. ``half_open_decision`` says how they
    decide: ``"first_failure"`` (the default) reopens on the first failed or slow trial and
    closes when every trial succeeded; ``"rate"`` (resilience4j's rule) waits for
    min(``minimum_calls``, ``half_open_permits``) trial outcomes and applies
    ``failure_rate`` and ``slow_call_rate`` to them. A permit whose outcome never comes
    back is handed out again after ``permit_timeout``.

    ``ignored`` and ``recorded`` list error names: an outcome matches when its error
    class or any class of its exception's MRO is listed (so a subclass matches, as in
    resilience4j); ignoring wins over recording.
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
    half_open_decision: Literal["first_failure", "rate"] = attrs.field(
        default="first_failure", validator=attrs.validators.in_(("first_failure", "rate")))
    ignored: list[str] = attrs.field(factory=list, validator=_names)
    recorded: list[str] = attrs.field(factory=list, validator=_names)

    def __attrs_post_init__(self) -> None:
        if self.window == "count" and self.window_size != int(self.window_size):
            raise ValueError(f"window_size must be a whole number of calls for a count window, "
                             f"got {self.window_size!r}")
        if self.window == "count" and self.minimum_calls > self.window_size:
            raise ValueError(
                f"minimum_calls ({self.minimum_calls}) must be <= window_size "
                f"({self.window_size:g}) for a count window: a window of {self.window_size:g} "
                f"calls never holds {self.minimum_calls}, so the rates could never open the "
                f"breaker; lower minimum_calls or raise window_size")
        if self.open_max_seconds < self.open_seconds:
            raise ValueError(f"open_max_seconds ({self.open_max_seconds:g}) must be >= "
                             f"open_seconds ({self.open_seconds:g})")

    def open_wait(self, consecutive_opens: int) -> float:
        """Seconds to stay open after the ``consecutive_opens``-th opening in a row (1-based)."""
        wait = self.open_seconds * self.open_multiplier ** max(0, consecutive_opens - 1)
        return min(wait, self.open_max_seconds)

    def is_slow(self, seconds: float) -> bool:
        """Did a call of ``seconds`` take longer than ``slow_call_seconds``?"""
        return seconds > self.slow_call_seconds

    def counts_as(self, ok: bool, error_class: str, error_types: Sequence[str] = ()) -> str:
        """``"success"``, ``"failure"`` or ``"ignored"`` for one outcome.

        A failed outcome is known by ``error_class`` and ``error_types`` (the names of its
        exception's classes, most derived first): listed in ``ignored`` by any of them, it
        is ignored; with ``recorded`` set, it is a failure only if listed there by any of
        them, else a success.
        """
        if ok:
            return "success"
        if _listed(self.ignored, error_class, error_types):
            return "ignored"
        if self.recorded and not _listed(self.recorded, error_class, error_types):
            return "success"
        return "failure"


def _listed(names: list[str], error_class: str, error_types: Sequence[str]) -> bool:
    return bool(names) and (error_class in names or any(t in names for t in error_types))


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
