"""The retry decision: pure, given the attempt number, the clock and a random source.

Backoff grows ``base_delay * multiplier^(attempt-1)`` up to ``max_delay``, with full
jitter (uniform in [0, backoff]) or decorrelated jitter (uniform in [base, 3 * previous],
capped), or none. A retry is refused for a permanent error, after ``max_attempts``,
past ``max_total_seconds``, and whenever the next attempt would start at or after the
deadline — a retry never outlives the asker.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ._policy import RetryPolicy


@attrs.frozen
class RetryDecision:
    """Whether to retry, after how long, and if not, why not."""

    retry: bool
    delay: float
    reason: str


def backoff(policy: RetryPolicy, attempt: int, previous_delay: float,
            random: Callable[[], float]) -> float:
    """The delay before attempt ``attempt + 1`` (``attempt`` >= 1 is the one that failed)."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt!r}")
    if policy.jitter == "decorrelated":
        high = max(policy.base_delay, previous_delay * 3)
        delay = policy.base_delay + random() * (high - policy.base_delay)
        return min(policy.max_delay, delay)
    ceiling = min(policy.max_delay, policy.base_delay * policy.multiplier ** (attempt - 1))
    return ceiling * random() if policy.jitter == "full" else ceiling


def decide(policy: RetryPolicy, *, attempt: int, error_class: str, started: float, now: float,
           deadline: float | None, previous_delay: float,
           random: Callable[[], float]) -> RetryDecision:
    """Retry after attempt ``attempt`` failed with ``error_class``? Times on one clock."""
    if error_class not in policy.transient:
        return RetryDecision(False, 0.0, f"error class {error_class!r} is not transient")
    if attempt >= policy.max_attempts:
        return RetryDecision(False, 0.0, f"max_attempts {policy.max_attempts} reached")
    delay = backoff(policy, attempt, previous_delay, random)
    at = now + delay
    if policy.max_total_seconds and at - started >= policy.max_total_seconds:
        return RetryDecision(False, delay, f"max_total_seconds {policy.max_total_seconds:g} "
                                           "would be passed")
    if deadline is not None and at >= deadline:
        return RetryDecision(False, delay, "the deadline would pass before the next attempt")
    return RetryDecision(True, delay, "transient error")
