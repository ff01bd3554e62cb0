"""The pool's backend as a circuit-breaker resource, checked locally (setting ``breaker``).

Failures of the backend — operations that failed transiently, timed out, found no
connection or no server — are recorded against the resource on the node's breaker actor
(through :class:`~actors.breaker.BreakerClient`: a local check, outcomes in batches);
the server's own answers, SQL errors included, count as successes. While the circuit is
not closed an operation must pass :meth:`PoolGuard.check` (an open circuit refuses it
at once with CircuitOpenError: it did not run; half-open lets the breaker's trial calls
through) and the pool takes its leases back. A lease holder (``PoolClient``) runs the
same guard in its own process and sends anything but a closed circuit to the actor.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from actors.breaker import CLOSED, BreakerClient
from messages import ActorNotFound

from ._connector import ErrorClass, ErrorKind
from ._errors import AcquireTimeout, BackendUnavailable, OperationFailed

log = logging.getLogger("actors.pool")

T = TypeVar("T")
ATTACH_TIMEOUT = 30.0
"""Seconds the guard waits for the node to say whether its breaker actor runs."""


class PoolGuard:
    """One pool's breaker resource; unguarded until the breaker actor is found."""

    def __init__(self, connection: Any, actor: str, resource: str, *, attach: bool = True) -> None:
        self.connection = connection
        self.actor = actor
        self.resource = resource
        self.client: BreakerClient | None = None
        self._closed = False
        if attach:  # off the caller's thread: the node may still be starting its children
            threading.Thread(target=self.attach, daemon=True,
                             name=f"pool-guard-{resource}").start()

    def attach(self) -> None:
        """Find the breaker actor and guard with it; without one, stay unguarded (said once)."""
        try:
            self.connection.resolve(self.actor, timeout=ATTACH_TIMEOUT)
            client = BreakerClient(self.connection, self.actor)
        except (ActorNotFound, TimeoutError) as exc:
            log.warning("pool: no breaker actor %r on this node (%s); resource %r is unguarded",
                        self.actor, type(exc).__name__, self.resource)
            return
        if self._closed:
            client.close()
        else:
            self.client = client

    @property
    def closed_circuit(self) -> bool:
        """True unless the breaker is known to be open or half-open (a dict lookup)."""
        client = self.client
        return client is None or client.state(self.resource) == CLOSED

    def check(self) -> int:
        """Raise CircuitOpenError if an operation may not go now; else its trial permit."""
        client = self.client
        return 0 if client is None else client.check(self.resource)

    def record(self, error: ErrorClass | None, seconds: float, permit: int = 0,
               message: str = "") -> None:
        """Account one operation: ``error`` None or permanent (the server answered) is a
        success; anything else a failure of the resource, of class ``error.kind``."""
        client = self.client
        if client is None:
            return
        if error is None or error.kind == "permanent":
            client.record(self.resource, True, seconds, permit=permit)
        else:
            client.record(self.resource, False, seconds, error.kind, message=message,
                          permit=permit)

    def around(self, start: Callable[[], concurrent.futures.Future[T]]) -> concurrent.futures.Future[T]:
        """Check the circuit, start the operation, and record its outcome when it ends."""
        permit = self.check()
        started = time.perf_counter()
        future = start()
        future.add_done_callback(lambda done: self.record(
            outcome_of(done.exception()), time.perf_counter() - started, permit))
        return future

    def close(self) -> None:
        """Ship what is left and stop the client's thread."""
        self._closed = True
        if self.client is not None:
            self.client.close()


def outcome_of(exc: BaseException | None) -> ErrorClass | None:
    """What an operation's end means to the backend's breaker (see :meth:`PoolGuard.record`)."""
    if exc is None:
        return None
    if isinstance(exc, OperationFailed):
        kind: ErrorKind = "transient" if exc.kind == "transient" else \
            "timeout" if exc.kind == "timeout" else "permanent"
        return ErrorClass(kind, broken=False, may_have_run=exc.may_have_run)
    if isinstance(exc, AcquireTimeout):
        return ErrorClass("timeout", broken=False, may_have_run=False)
    if isinstance(exc, BackendUnavailable):
        return ErrorClass("transient", broken=True, may_have_run=False)
    return ErrorClass("permanent", broken=False, may_have_run=False)  # not the backend's doing
