"""The pool mechanism with a scripted in-memory connector and an injected clock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from actors.pool import (
    AcquireTimeout,
    BackendUnavailable,
    Backoff,
    Connector,
    ConnState,
    OperationFailed,
    Pool,
    PoolClosed,
    PoolConfig,
    ResultSet,
    Runner,
    Upkeep,
)
from actors.pool._connector import DidNotRun
from actors.pool._stats import pool_statistics
from actors.testing import ManualClock


class FakeConn:
    def __init__(self, n: int) -> None:
        self.n = n
        self.dead = False
        self.gone = False
        self.unsent = False
        self.closed = False
        self.busy = False
        self.checks = 0


class FakeConnector(Connector):
    """Connections are objects; ``down`` refuses connects; a dead connection raises."""

    backend = "fake"

    def __init__(self) -> None:
        self.down = False
        self.conns: list[FakeConn] = []
        self.connect_attempts = 0
        self.overlap = False
        self.lock = threading.Lock()

    def connect(self, timeout: float) -> FakeConn:
        with self.lock:
            self.connect_attempts += 1
            if self.down:
                raise ConnectionRefusedError("connection refused")
            conn = FakeConn(len(self.conns) + 1)
            self.conns.append(conn)
            return conn

    def check(self, conn: Any, timeout: float) -> None:
        conn.checks += 1
        if conn.dead:
            raise ConnectionResetError("dead")

    def close(self, conn: Any) -> None:
        conn.closed = True

    def ended_while_idle(self, conn: Any) -> bool:
        return bool(conn.gone)

    def execute(self, conn: Any, sql: str, params: Any, timeout: float) -> ResultSet:
        if conn.busy:
            self.overlap = True
        conn.busy = True
        try:
            if conn.dead:
                raise ConnectionResetError("connection reset by peer")
            if conn.unsent:
                raise DidNotRun(BrokenPipeError("broken pipe"))
            if sql == "bad":
                raise ValueError("syntax error")
            if sql == "wait":
                params.wait(5)
            return ResultSet(["n"], [[conn.n]], 1)
        finally:
            conn.busy = False

    def command(self, conn: Any, args: Sequence[Any], timeout: float) -> Any:
        return list(args)


def make(min_size: int = 1, max_size: int = 3, **kw: Any) -> tuple[Pool, FakeConnector, ManualClock, Upkeep]:
    clock = ManualClock()
    connector = FakeConnector()
    cfg = PoolConfig(min_size=min_size, max_size=max_size, backoff=Backoff(initial=0.1, maximum=1.0),
                     **kw)
    pool = Pool(connector, cfg, clock=clock, rand=lambda: 1.0)
    return pool, connector, clock, Upkeep(pool)


def test_eager_fill_opens_min_size_and_lazy_opens_on_demand():
    """Eager opens min_size at start; lazy opens its first connection on the first request."""
    _pool, conn, _, upkeep = make(min_size=2)
    upkeep.refill()
    assert len(conn.conns) == 2
    lazy, lconn, _, lupkeep = make(min_size=2, eager=False)
    assert lupkeep.refill() == 0 and lconn.conns == []
    lazy.release(lazy.acquire())
    assert len(lconn.conns) == 1


def test_leases_spread_over_connections_least_busy_first():
    """Back-to-back leases go to the least recently busy connection, so all get work."""
    pool, _conn, clock, upkeep = make(min_size=3)
    upkeep.refill()
    used = []
    for _ in range(6):
        slot = pool.acquire()
        used.append(slot.raw.n)
        clock.advance(0.01)
        pool.release(slot)
    assert sorted(used) == [1, 1, 2, 2, 3, 3]


def test_degraded_connection_leased_only_when_no_healthy_one_is_idle():
    """A DEGRADED connection waits while a HEALTHY one is idle."""
    pool, _conn, _clock, upkeep = make(min_size=2)
    upkeep.refill()
    first = pool.acquire()
    first.state = ConnState.DEGRADED
    first.load = 0.0
    second = pool.acquire()
    pool.release(second)
    with pool._lock:
        first.leased = False
    assert pool.acquire() is second


def test_handover_order_matches_arrival_order():
    """A released connection goes to the first waiter, not to a later one."""
    pool, _conn, _clock, upkeep = make(min_size=1, max_size=1)
    upkeep.refill()
    held = pool.acquire()
    served: list[int] = []
    done = threading.Event()

    def worker(i: int) -> None:
        slot = pool.acquire(timeout=5)
        served.append(i)
        pool.release(slot)
        if len(served) == 3:
            done.set()

    threads = []
    for i in range(3):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        threads.append(t)
        while len(pool._waiters) < i + 1:
            threading.Event().wait(0.001)
    pool.release(held)
    assert done.wait(5)
    assert served == [0, 1, 2]


def test_acquire_timeout_is_a_timeout_error_naming_the_wait():
    """With every connection busy, acquire fails after its timeout with AcquireTimeout."""
    pool, _conn, _clock, upkeep = make(min_size=1, max_size=1)
    upkeep.refill()
    pool.acquire()
    with pytest.raises(TimeoutError) as info:
        pool.acquire(timeout=0.02)
    assert isinstance(info.value, AcquireTimeout)
    assert "1 of max 1 busy" in str(info.value)
    assert pool_statistics(pool).waiting == 0


def test_checkout_after_idle_checks_and_replaces_a_dead_connection():
    """A connection idle past check_after_idle is checked first; a dead one is never handed out."""
    pool, conn, clock, upkeep = make(min_size=1, check_after_idle=5.0)
    upkeep.refill()
    pool.release(pool.acquire())
    conn.conns[0].dead = True
    clock.advance(6.0)
    slot = pool.acquire()
    assert slot.raw is conn.conns[1] and conn.conns[0].closed
    assert conn.conns[0].checks == 1


def test_recently_used_connection_is_not_checked():
    """Within check_after_idle no check is spent on checkout."""
    pool, conn, clock, upkeep = make(min_size=1, check_after_idle=5.0)
    upkeep.refill()
    pool.release(pool.acquire())
    clock.advance(1.0)
    pool.release(pool.acquire())
    assert conn.conns[0].checks == 0


def test_idempotent_operation_retried_on_a_fresh_connection():
    """A transient error discards the connection and an idempotent op succeeds on another."""
    pool, conn, _clock, upkeep = make(min_size=2)
    upkeep.refill()
    for c in conn.conns:
        c.dead = True
    runner = Runner(pool, sleep=lambda s: None)
    result = runner.execute("select", None, idempotent=True)
    assert result.rows == [[3]]
    stats = pool_statistics(pool)
    assert stats.retries == 1 and stats.errors == {"transient": 1}
    assert all(c.closed for c in conn.conns[:2])


def test_non_idempotent_transient_failure_says_it_may_have_run():
    """A write that hit a broken connection is not retried, and the error says it may have run."""
    pool, conn, _clock, upkeep = make(min_size=1)
    upkeep.refill()
    conn.conns[0].dead = True
    with pytest.raises(OperationFailed) as info:
        Runner(pool, sleep=lambda s: None).execute("insert", None, idempotent=False)
    assert info.value.may_have_run and info.value.attempts == 1 and info.value.kind == "transient"
    assert "not retried because it is not idempotent (it may have run)" in str(info.value)
    assert pool.acquire().raw is conn.conns[1]


def test_connection_gone_while_idle_is_replaced_before_lease():
    """A connection whose backend went away while idle is never handed out, by acquire or
    by lease_now: it is closed and counted, and another one serves; no error is counted."""
    pool, conn, _clock, upkeep = make(min_size=2, max_size=2)
    upkeep.refill()
    conn.conns[0].gone = conn.conns[1].gone = True
    slot = pool.acquire()
    assert slot.raw is conn.conns[2] and conn.conns[0].closed and conn.conns[1].closed
    pool.release(slot)
    conn.conns[2].gone = True
    upkeep.refill()
    leased = pool.lease_now()
    assert leased is not None and leased.raw is conn.conns[3] and conn.conns[2].closed
    stats = pool_statistics(pool)
    assert stats.ended_idle == 3 and stats.errors == {} and stats.operations == 1


def test_write_that_did_not_run_is_retried_on_a_fresh_connection():
    """A non-idempotent write that failed before reaching its backend (DidNotRun) cannot have
    run, so it is retried on another connection and succeeds."""
    pool, conn, _clock, upkeep = make(min_size=2, max_size=2)
    upkeep.refill()
    conn.conns[0].unsent = True
    result = Runner(pool, sleep=lambda s: None).execute("insert", None, idempotent=False)
    assert result.rows == [[2]] and conn.conns[0].closed
    stats = pool_statistics(pool)
    assert stats.retries == 1 and stats.errors == {"transient": 1}


def test_write_that_never_ran_says_so_after_its_retries():
    """When every retry fails before reaching a backend, the error says it did not run."""
    pool, conn, _clock, upkeep = make(min_size=1, max_size=1, retries=1)
    upkeep.refill()
    conn.conns[0].unsent = True
    original = conn.connect

    def unsent_connect(timeout: float) -> FakeConn:
        fresh = original(timeout)
        fresh.unsent = True
        return fresh

    conn.connect = unsent_connect  # type: ignore[method-assign]
    with pytest.raises(OperationFailed, match=r"after 2 attempt\(s\) \(it did not run\)") as info:
        Runner(pool, sleep=lambda s: None).execute("insert", None, idempotent=False)
    assert not info.value.may_have_run and info.value.attempts == 2


def test_permanent_error_is_not_retried_and_keeps_the_connection():
    """A permanent error fails at once; the connection stays HEALTHY and serves the next op."""
    pool, conn, _clock, upkeep = make(min_size=1)
    upkeep.refill()
    runner = Runner(pool, sleep=lambda s: None)
    with pytest.raises(OperationFailed, match=r"permanent error, not retried .it did not run.") as info:
        runner.execute("bad", None, idempotent=True)
    assert info.value.attempts == 1
    assert runner.execute("ok", None, idempotent=True).rows == [[1]]
    assert len(conn.conns) == 1 and pool_statistics(pool).connections[0].state == "HEALTHY"


def test_backend_down_fails_fast_and_reconnects_after_backoff():
    """Connect failures back off (jittered, doubling); requests fail fast with the cause."""
    pool, conn, clock, _upkeep = make(min_size=1, eager=False)
    conn.down = True
    with pytest.raises(BackendUnavailable, match=r"connection refused"):
        pool.acquire(timeout=0.05)
    assert conn.connect_attempts == 1
    with pytest.raises(ConnectionError):
        pool.acquire(timeout=0.05)  # still inside the 0.1 s backoff: no new attempt
    assert conn.connect_attempts == 1
    clock.advance(0.1)
    with pytest.raises(BackendUnavailable):
        pool.acquire(timeout=0.05)
    assert conn.connect_attempts == 2 and pool._next_connect_at == pytest.approx(clock.now + 0.2)
    conn.down = False
    clock.advance(0.2)
    slot = pool.acquire(timeout=0.05)
    assert slot.state is ConnState.HEALTHY and pool.last_connect_error == ""


def test_upkeep_checks_idle_connections_and_replaces_dead_ones():
    """Idle connections are checked every health_check_interval; a dead one is reopened."""
    pool, conn, clock, upkeep = make(min_size=2, health_check_interval=30.0)
    upkeep.refill()
    conn.conns[0].dead = True
    clock.advance(10.0)
    upkeep.tick()
    assert conn.conns[0].checks == 0
    clock.advance(25.0)
    upkeep.tick()
    assert conn.conns[0].closed and conn.conns[1].checks == 1
    states = [c.state for c in pool_statistics(pool).connections]
    assert len(conn.conns) == 3 and states == ["HEALTHY", "HEALTHY"]


def test_upkeep_retires_connections_past_max_lifetime():
    """A connection older than max_lifetime is closed and min_size refilled."""
    pool, conn, clock, upkeep = make(min_size=1, max_lifetime=100.0, health_check_interval=1000.0)
    upkeep.refill()
    clock.advance(101.0)
    upkeep.tick()
    assert conn.conns[0].closed and len(conn.conns) == 2 and pool_statistics(pool).size == 1


def test_upkeep_closes_connections_idle_past_max_idle_down_to_min():
    """Connections idle longer than max_idle close, never below min_size."""
    pool, _conn, clock, upkeep = make(min_size=1, max_size=3, max_idle=50.0,
                                     health_check_interval=1000.0)
    slots = [pool.acquire() for _ in range(3)]
    for s in slots:
        pool.release(s)
    clock.advance(51.0)
    upkeep.tick()
    assert pool_statistics(pool).size == 1


def test_pool_shrinks_after_a_quiet_window_with_the_reason_logged():
    """After shrink_after seconds below peak, idle connections close and the reason is kept."""
    pool, _conn, clock, upkeep = make(min_size=1, max_size=4, shrink_after=10.0,
                                     health_check_interval=1000.0)
    slots = [pool.acquire() for _ in range(3)]
    assert pool_statistics(pool).size == 3
    for s in slots:
        pool.release(s)
    clock.advance(10.0)
    upkeep.tick()  # the busy window ends with peak 3: nothing to shrink yet
    assert pool_statistics(pool).size == 3
    clock.advance(10.0)
    upkeep.tick()
    stats = pool_statistics(pool)
    assert stats.size == 1
    assert any("closing 2 connection(s): at most 0 of 3" in s for s in stats.sizing)
    assert any("request(s) queued" in s for s in stats.sizing)


def test_graceful_close_waits_for_leases_and_wakes_waiters():
    """close() refuses new work, fails queued requests, waits for the lease, closes all."""
    pool, conn, _clock, upkeep = make(min_size=1, max_size=1)
    upkeep.refill()
    held = pool.acquire()
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            pool.acquire(timeout=5)
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    while not pool._waiters:
        threading.Event().wait(0.001)
    result: list[int] = []
    closer = threading.Thread(target=lambda: result.append(upkeep.close(grace=5.0)))
    closer.start()
    waiter.join(5)
    assert errors and isinstance(errors[0], PoolClosed)
    assert not conn.conns[0].closed
    pool.release(held)
    closer.join(5)
    assert result == [0] and conn.conns[0].closed
    with pytest.raises(PoolClosed):
        pool.acquire()


def test_close_after_grace_closes_leased_connections():
    """A lease not returned within the grace period is closed under its operation and counted."""
    pool, conn, clock, upkeep = make(min_size=1, max_size=1)
    upkeep.refill()
    pool.acquire()
    clock.advance(0.0)
    assert upkeep.close(grace=0.01) == 1 and conn.conns[0].closed


def test_many_threads_share_few_connections_without_overlap():
    """8 threads x 200 ops on 3 connections: all succeed, never two on one connection."""
    pool, conn, _clock, upkeep = make(min_size=1, max_size=3)
    upkeep.refill()
    runner = Runner(pool)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(200):
                runner.execute("select", None, idempotent=True)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == [] and not conn.overlap
    stats = pool_statistics(pool)
    assert stats.operations == 1600 and stats.size <= 3 and stats.in_use == 0


def test_slow_check_marks_degraded_and_a_good_operation_heals():
    """A check slower than slow_check makes the connection DEGRADED; a clean operation heals it."""
    pool, conn, clock, upkeep = make(min_size=1, slow_check=0.5, check_after_idle=5.0)
    upkeep.refill()
    original = conn.check

    def slow_check(raw: Any, timeout: float) -> None:
        clock.advance(1.0)
        original(raw, timeout)

    conn.check = slow_check  # type: ignore[method-assign]
    clock.advance(6.0)
    slot = pool.acquire()
    assert slot.state is ConnState.DEGRADED
    pool.release(slot)
    assert pool_statistics(pool).connections[0].state == "HEALTHY"
