"""A consistent snapshot of a pool as :class:`PoolStatistics`."""

from __future__ import annotations

from ._messages import ConnectionInfo, PoolStatistics
from ._policy import percentiles
from ._pool import Pool


def pool_statistics(pool: Pool) -> PoolStatistics:
    """Read everything under the pool's lock, so the figures agree with each other."""
    with pool._lock:
        now = pool.clock()
        slots = list(pool._slots.values())
        waits = list(pool.acquire_waits)
        conns = [ConnectionInfo(s.id, s.state.value, s.leased, s.uses, s.errors,
                                round(now - s.created, 3) if s.raw is not None else 0.0,
                                round(now - s.last_used, 3) if s.raw is not None else 0.0)
                 for s in slots]
        p50, p90, p99, top = percentiles(waits, (50, 90, 99, 100))
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
            application_name=pool.connector.client_name)


def _availability(conns: list[ConnectionInfo], last_connect_error: str) -> float:
    serving = sum(1 for c in conns if c.state in ("HEALTHY", "DEGRADED"))
    if conns:
        return round(serving / len(conns), 4)
    return 0.0 if last_connect_error else 1.0
