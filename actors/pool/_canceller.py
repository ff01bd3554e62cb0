"""Cancelling PostgreSQL statements that outlive a timeout shorter than the server's.

The server's ``statement_timeout`` (set when a connection opens) bounds every statement;
a shorter limit — a per-message ``timeout`` or the asker's deadline — is kept here, on
one thread per pool, for the statements the actor thread drives without waiting (a
thread that waits for its statement cancels it itself). Arming is a dict insert (no
lock, no wake-up while the thread is active), because it happens for nearly every
statement; the thread scans what is armed every SLACK seconds, and goes to sleep only
after IDLE seconds with nothing armed, so a steady trickle of statements never pays a
wake-up each.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
import time
from typing import Protocol

from ._pg_statement import CANCEL_TIMEOUT

log = logging.getLogger("actors.pool")

SLACK = 0.01
"""Seconds a cancel may come late: the thread wakes at most 1/SLACK times a second."""
IDLE = 1.0
"""Seconds with nothing armed after which the thread sleeps until the next arm."""
CANCEL_THREADS = 4
"""Cancel requests sent at once: each opens a connection, so statements falling due
together (agents that share a deadline) are not cancelled one after another."""


class Cancellable(Protocol):
    """What the canceller needs of a statement."""

    done: bool

    def cancel(self, timeout: float) -> None: ...


class Canceller:
    """Cancels armed statements that are still running at their due time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._armed: dict[int, tuple[float, Cancellable]] = {}
        self._keys = itertools.count()
        self._work = threading.Event()
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self._senders: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False

    def arm(self, statement: Cancellable, seconds: float) -> None:
        """Cancel ``statement`` if it is still running ``seconds`` from now (any thread)."""
        self._armed[next(self._keys)] = (time.monotonic() + seconds, statement)
        if not self._work.is_set():
            if self._thread is None:
                self._start_thread()
            self._work.set()

    def close(self) -> None:
        """Stop the thread; armed statements are no longer cancelled."""
        self._closed = True
        self._work.set()
        if self._senders is not None:
            self._senders.shutdown(wait=False, cancel_futures=True)

    def _start_thread(self) -> None:
        with self._start:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"{self.name}-canceller")
                self._thread.start()

    def _run(self) -> None:
        busy_at = time.monotonic()
        while not self._closed:
            if not self._armed and time.monotonic() - busy_at > IDLE:
                self._work.clear()
                if not self._armed:  # an arm between the check and the clear sets it again
                    self._work.wait()
                busy_at = time.monotonic()
                continue
            time.sleep(SLACK)
            now = time.monotonic()
            if self._armed:
                busy_at = now
            due_now = []
            for key, (due, statement) in list(self._armed.items()):  # one atomic copy
                if statement.done:
                    self._armed.pop(key, None)
                elif due <= now:
                    self._armed.pop(key, None)
                    due_now.append(statement)
            if len(due_now) == 1:
                self._cancel(due_now[0])
            elif due_now:
                if self._senders is None:
                    self._senders = concurrent.futures.ThreadPoolExecutor(
                        CANCEL_THREADS, thread_name_prefix=f"{self.name}-cancel")
                for statement in due_now:
                    self._senders.submit(self._cancel, statement)

    def _cancel(self, statement: Cancellable) -> None:
        try:
            statement.cancel(CANCEL_TIMEOUT)
        except Exception as exc:  # the statement's own error will say what happened
            log.warning("pool %r: cancelling a statement past its timeout failed: %s: %s",
                        self.name, type(exc).__name__, exc)
