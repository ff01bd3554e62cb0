"""Errors of the breaker actor and its client helper.

Each subclasses the builtin a caller already catches::

    BreakerError (Exception)
    ├── CircuitOpenError (ConnectionError)   the breaker rejected the call; retry_after says when
    ├── RetriesExhausted (ConnectionError)   every permitted attempt failed; names the last cause
    ├── CallFailed (RuntimeError)            the target failed with a permanent (not retried) error
    ├── CallDeadlineExceeded (TimeoutError)  the time budget ran out before a reply
    └── UnknownResource (LookupError)        no breaker of that name and auto_create is off

Invalid policy values raise :class:`ValueError` (from attrs validators) naming the field.
Across the wire a raised error reaches the asker as ``messages.HandlerError`` whose
``details["exception"]`` is the class name above.
"""

from __future__ import annotations


class BreakerError(Exception):
    """Root of the errors the breaker raises."""


class CircuitOpenError(BreakerError, ConnectionError):
    """The breaker for ``resource`` is open (or out of half-open permits)."""

    def __init__(self, resource: str, state: str, retry_after: float) -> None:
        super().__init__(f"circuit {resource!r} is {state}: call rejected; "
                         f"retry after {retry_after:.3f} s")
        self.resource = resource
        self.state = state
        self.retry_after = retry_after


class RetriesExhausted(BreakerError, ConnectionError):
    """Every attempt the retry policy allowed failed; ``last_cause`` says how the last did."""

    def __init__(self, resource: str, attempts: int, reason: str, last_cause: str) -> None:
        super().__init__(f"call through breaker {resource!r} failed after {attempts} attempt(s) "
                         f"({reason}); last cause: {last_cause}")
        self.resource = resource
        self.attempts = attempts
        self.reason = reason
        self.last_cause = last_cause


class CallFailed(BreakerError, RuntimeError):
    """The target failed with an error the retry policy does not retry (a permanent one)."""

    def __init__(self, resource: str, error_class: str, cause: str) -> None:
        super().__init__(f"call through breaker {resource!r} failed with a permanent error "
                         f"(class {error_class!r}, not retried): {cause}")
        self.resource = resource
        self.error_class = error_class
        self.cause = cause


class CallDeadlineExceeded(BreakerError, TimeoutError):
    """The call's time budget ran out before the target replied."""


class UnknownResource(BreakerError, LookupError):
    """No breaker is configured under that resource name (and auto_create is off)."""
