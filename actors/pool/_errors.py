"""Errors of the connection pool; each subclasses the builtin a caller already catches::

    PoolError (CellphoneError)
    ├── PoolClosed (RuntimeError)              the pool is closing or closed
    ├── AcquireTimeout (TimeoutError)          no connection freed up within acquire_timeout
    ├── BackendUnavailable (ConnectionError)   the backend refuses connections (reconnecting)
    ├── UnsupportedOperation (TypeError)       e.g. pool.command sent to a SQL pool
    └── OperationFailed                        the operation itself failed; says whether
                                               it may have run and how often it was tried

An agent sees these inside a HandlerError whose text starts with the class name; for
OperationFailed its ``details`` also carry ``kind``, ``may_have_run`` and ``attempts``.
"""

from __future__ import annotations

from messages import CellphoneError


class PoolError(CellphoneError):
    """Root of the pool's errors."""


class PoolClosed(PoolError, RuntimeError):
    """The pool is closing or closed and takes no more work."""


class AcquireTimeout(PoolError, TimeoutError):
    """Every connection stayed busy for the whole acquire timeout (the caller waited in line)."""


class BackendUnavailable(PoolError, ConnectionError):
    """No connection could be opened: the backend is down or unreachable."""


class UnsupportedOperation(PoolError, TypeError):
    """The pool's backend does not take this kind of operation."""


class OperationFailed(PoolError):
    """An operation failed on its connection.

    ``kind`` is the error class (transient, permanent, timeout); ``may_have_run`` says
    whether the backend may have applied it (only ever True for a write that was sent
    before the connection broke); ``attempts`` counts tries, retries included.
    """

    def __init__(self, text: str, *, kind: str, may_have_run: bool, attempts: int) -> None:
        super().__init__(text)
        self.kind = kind
        self.may_have_run = may_have_run
        self.attempts = attempts

    @property
    def details(self) -> dict[str, object]:
        """What the asker's ``HandlerError.details`` carries besides the text."""
        return {"kind": self.kind, "may_have_run": self.may_have_run, "attempts": self.attempts}
