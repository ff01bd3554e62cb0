"""A consistent snapshot of a pool as :class:`PoolStatistics`, and its recent rates."""

from __future__ import annotations

import collections

from actors.profiler import OpHistogram

from ._messages import ConnectionInfo, PoolStatistics
from ._policy import percentiles
from ._pool import Pool

RATE_WINDOW = 5.0
"""Seconds over which ``throughput`` and ``error_rate`` are measured."""
ANSWERS = frozenset({"connect", "permanent"})
"""Error kinds that are no failed operation of the pool: a connect error is no operation,
a permanent error (an SQL error) is the statement's own answer."""


class Rates:
    """Operations and failed operations (faults: not :data:`ANSWERS`) per second over the
    last RATE_WINDOW seconds, leased traffic included (sampled by the pool's upkeep thread)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.samples: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=64)
        self.sample()  # from the start: work done before the first upkeep pass counts too

    def sample(self) -> None:
        """Note the counts now (every upkeep pass)."""
        with self.pool._lock:
            ops, failed = calls_and_faults(self.pool)
        now = self.pool.clock()
        self.samples.append((now, ops - failed, failed))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW:
            self.samples.popleft()

    def current(self) -> tuple[float, float]:
        """(operations per second, share of operations that failed) over the window."""
        if len(self.samples) < 2:
            return 0.0, 0.0
        (t0, ops0, failed0), (t1, ops1, failed1) = self.samples[0], self.samples[-1]
        ops, failed = max(0, ops1 - ops0), max(0, failed1 - failed0)
        rate = ops / (t1 - t0) if t1 > t0 else 0.0
        return round(rate, 3), round(min(1.0, failed / (ops + failed)), 4) if ops + failed else 0.0


def calls_and_faults(pool: Pool) -> tuple[int, int]:
    """(operations, failed ones included; those that failed by a fault), lock held."""
    answered = sum(n for kind, n in pool.errors.items() if kind == "permanent")
    faults = sum(n for kind, n in pool.errors.items() if kind not in ANSWERS)
    return pool.counters["operations"] + answered + faults, faults


def pool_statistics(pool: Pool, rates: Rates | None = None,
                    leases: tuple[int, int] = (0, 0)) -> PoolStatistics:
    """Read everything under the pool's lock, so the figures agree with each other.

    ``leases`` is (holders, connections they may have open) from the fast lane."""
    throughput, error_rate = rates.current() if rates is not None else (0.0, 0.0)
    waited = pool.acquire_wait().to_dict()
    with pool._lock:
        now = pool.clock()
        slots = list(pool._slots.values())
        waits = list(pool.acquire_waits)
        conns = [ConnectionInfo(s.id, s.state.value, s.leased, s.uses, s.errors,
                                round(now - s.created, 3) if s.raw is not None else 0.0,
                                round(now - s.last_used, 3) if s.raw is not None else 0.0)
                 for s in slots]
        p50, p90, p99, top = percentiles(waits, (50, 90, 99, 100))
        calls, faults = calls_and_faults(pool)
        return PoolStatistics(
            name=pool.name, backend=pool.connector.backend, target=pool.connector.describe(),
            size=len(slots), min_size=pool.config.min_size, max_size=pool.config.max_size,
            in_use=sum(1 for s in slots if s.leased), idle=sum(1 for s in slots if s.idle),
            waiting=len(pool._waiters), connecting=sum(1 for s in slots if s.connecting),
            operations=pool.counters["operations"], retries=pool.counters["retries"],
            acquires=pool.counters["acquires"], acquire_ms_p50=p50 * 1000, acquire_ms_p90=p90 * 1000,
            acquire_ms_p99=p99 * 1000, acquire_ms_max=top * 1000, errors=dict(pool.errors),
            connections=conns, sizing=list(pool.sizing_log),
            last_connect_error=pool.last_connect_error,
            availability=_availability(conns, pool.last_connect_error),
            ended_idle=pool.counters["ended_idle"],
            application_name=pool.connector.client_name,
            leases=leases[0], leased=leases[1],
            leased_operations=pool.counters["leased_operations"],
            throughput=throughput, error_rate=error_rate, rate_calls=calls, rate_faults=faults,
            acquire_wait=OpHistogram(**waited))


def _availability(conns: list[ConnectionInfo], last_connect_error: str) -> float:
    serving = sum(1 for c in conns if c.state in ("HEALTHY", "DEGRADED"))
    if conns:
        return round(serving / len(conns), 4)
    return 0.0 if last_connect_error else 1.0
