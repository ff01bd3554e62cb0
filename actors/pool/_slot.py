"""Bookkeeping records of the pool: one per connection slot, one per queued acquirer."""

from __future__ import annotations

import threading
from typing import Any

import attrs

from ._policy import Backoff, ConnState


@attrs.frozen(kw_only=True)
class PoolConfig:
    """The pool's knobs, in seconds and counts (validated by PoolSettings)."""

    min_size: int = 1
    max_size: int = 10
    eager: bool = True
    max_lifetime: float = 3600.0
    max_idle: float = 300.0
    health_check_interval: float = 30.0
    check_after_idle: float = 5.0
    slow_check: float = 1.0
    acquire_timeout: float = 5.0
    connect_timeout: float = 5.0
    statement_timeout: float = 30.0
    reply_margin: float = 0.1
    """Seconds kept free before an asker's deadline for its verdict (see PoolSettings)."""
    retries: int = 2
    backoff: Backoff = attrs.field(factory=Backoff)
    shrink_after: float = 60.0
    tick: float = 0.5
    """Seconds between maintenance passes (idle checks, expiry, sizing, reconnects)."""


@attrs.define(eq=False)
class Slot:
    """One connection of the pool, or a place for one while it is (re)opened."""

    id: int
    state: ConnState = ConnState.RECOVERING
    raw: Any = None
    created: float = 0.0
    last_used: float = 0.0
    last_checked: float = 0.0
    leased_at: float = 0.0
    leased: bool = False
    connecting: bool = False
    load: float = 0.0
    uses: int = 0
    errors: int = 0
    errors_in_row: int = 0
    generation: int = 0
    """Which open of the pool produced the current connection (1, 2, ...)."""

    @property
    def idle(self) -> bool:
        """Open, not leased, and in a state that may be leased."""
        state = self.state  # identity tests: this runs per statement for every slot
        return (self.raw is not None and not self.leased
                and (state is ConnState.HEALTHY or state is ConnState.DEGRADED))


class Waiter:
    """An acquirer in the FIFO queue; a released connection is handed to it directly."""

    __slots__ = ("error", "event", "slot")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.slot: Slot | None = None
        self.error: BaseException | None = None
