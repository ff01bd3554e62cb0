"""``breaker.call``: ask another actor through a breaker and a retry policy.

Runs on a worker thread of the breaker actor. ``ask``, ``clock``, ``sleep`` and
``random`` are injected, so the whole retry loop runs in tests without a node or a
real sleep. ``sleep`` returns False when the actor is stopping (the call gives up).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._book import BreakerBook
from ._classify import classify, error_types
from ._errors import CallDeadlineExceeded, CallFailed, CircuitOpenError, RetriesExhausted
from ._machine import Decision
from ._policy import RetryPolicy
from ._retry import decide

Ask = Callable[[float], Any]
"""Send the forwarded message with this timeout (seconds) and return the target's reply."""


def run_call(book: BreakerBook, resource: str, ask: Ask, policy: RetryPolicy, *,
             first: Decision, deadline: float, clock: Callable[[], float],
             sleep: Callable[[float], bool], random: Callable[[], float]) -> Any:
    """Ask until success, a permanent error, the policy's end, an open circuit or the deadline.

    ``first`` is the permitted decision the actor already took (so a rejected call never
    costs a thread hop). Every attempt's outcome is recorded in ``book``.
    """
    started = clock()
    decision = first
    delay = 0.0
    attempt = 0
    while True:
        attempt += 1
        before = clock()
        remaining = deadline - before
        if remaining <= 0:
            raise CallDeadlineExceeded(f"call through breaker {resource!r}: the time budget ran "
                                       f"out before attempt {attempt}")
        try:
            value = ask(remaining)
        except Exception as exc:
            now = clock()
            error_class = classify(exc)
            cause = f"{error_class}: {type(exc).__name__}: {exc}"
            book.record(resource, False, now - before, error_class, message=str(exc),
                        permit=decision.permit, error_types=error_types(exc))
            verdict = decide(policy, attempt=attempt, error_class=error_class, started=started,
                             now=now, deadline=deadline, previous_delay=delay, random=random)
            if not verdict.retry:
                if error_class not in policy.transient:
                    raise CallFailed(resource, error_class, f"{type(exc).__name__}: {exc}") from exc
                if error_class == "timeout" and now >= deadline:
                    raise CallDeadlineExceeded(
                        f"call through breaker {resource!r}: no reply within the time budget "
                        f"after {attempt} attempt(s); last cause: {cause}") from exc
                raise RetriesExhausted(resource, attempt, verdict.reason, cause) from exc
            delay = verdict.delay
            if not sleep(delay):
                raise RetriesExhausted(resource, attempt, "the breaker actor is stopping",
                                       cause) from exc
            decision = book.acquire(resource)
            if not decision.permitted:
                raise CircuitOpenError(resource, decision.state, decision.retry_after) from exc
            continue
        book.record(resource, True, clock() - before, permit=decision.permit)
        return value
