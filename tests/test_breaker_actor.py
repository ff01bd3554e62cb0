"""The breaker actor's handlers and the client helper, in process (no node, no sleeps)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from actors import Reply
from actors.breaker import (
    Acquire,
    AcquireReply,
    BreakerClient,
    BreakerPolicy,
    BreakerSettings,
    BreakerStatistics,
    Call,
    CircuitOpenError,
    Configure,
    ForceClosed,
    ForceOpen,
    LocalConnection,
    Record,
    RecordReply,
    Reset,
    ResourceConfig,
    RetryOverride,
    RetryPolicy,
    StateInfo,
    States,
    StatesReply,
    Stats,
    StatsReply,
)
from messages import HandlerError, InvalidBody, from_wire

STRICT = BreakerPolicy(consecutive_failures=2, open_seconds=60, half_open_permits=1)


@pytest.fixture
def local() -> Any:
    conn = LocalConnection(BreakerSettings(default=STRICT))
    yield conn
    conn.close()


@pytest.fixture
def client(local: LocalConnection) -> Any:
    helper = BreakerClient(local, subscribe=False, flush_interval=0.005, sync_interval=0.05)
    assert helper.wait_synced(5)
    yield helper
    helper.close()


def test_acquire_and_record_drive_the_shared_breaker(local: LocalConnection) -> None:
    """Two recorded failures open the breaker for every later acquire."""
    assert local.ask("breaker", Acquire("api")).permitted
    for _ in range(2):
        reply = local.ask("breaker", Record("api", False, 0.2, "timeout", "read timed out"))
        assert isinstance(reply, RecordReply)
    assert reply.verdict == "failure" and reply.state.state == "open"
    denied = local.ask("breaker", "breaker.acquire", {"resource": "api"})
    assert isinstance(denied, AcquireReply)
    assert not denied.permitted and 59 < denied.retry_after <= 60


def test_record_batch_replies_with_states(local: LocalConnection) -> None:
    """A batch is recorded in order and answered with the states that are not closed."""
    reply = local.ask("breaker", "breaker.record_batch", {"records": [
        {"resource": "a", "ok": True, "seconds": 0.1},
        {"resource": "b", "ok": False, "seconds": 0.1, "error_class": "timeout"},
        {"resource": "b", "ok": False, "seconds": 0.1, "error_class": "timeout"},
    ]})
    assert isinstance(reply, StatesReply)
    assert {(s.resource, s.state) for s in reply.states} == {("a", "closed"), ("b", "open")}


def test_stats_report_counts_classes_recovery_and_last_errors(local: LocalConnection) -> None:
    """breaker.stats gives per-class counts, recovery rate and the last error messages."""
    local.ask("breaker", Record("api", False, 0.1, "timeout", "slow upstream"))
    local.ask("breaker", Record("api", True, 0.1))
    local.ask("breaker", Record("api", False, 0.3, "HTTPError", "503"))
    reply = local.ask("breaker", Stats("api"))
    assert isinstance(reply, StatsReply)
    s = reply.resources[0]
    assert (s.calls, s.failures, s.recovered) == (3, 2, 1)
    assert s.recovery_rate == 0.5
    assert s.errors_by_class == {"timeout": 1, "HTTPError": 1}
    assert s.recent_errors_by_class == {"timeout": 1, "HTTPError": 1}
    assert [e.message for e in s.last_errors] == ["slow upstream", "503"]
    assert s.time_in_state["closed"] >= 0


def test_force_open_force_closed_and_reset_by_message(local: LocalConnection) -> None:
    """The control messages pin and release a breaker."""
    opened = local.ask("breaker", ForceOpen("db", "maintenance"))
    assert isinstance(opened, StateInfo) and opened.state == "open" and opened.forced
    assert not local.ask("breaker", Acquire("db")).permitted
    closed = local.ask("breaker", ForceClosed("db"))
    assert closed.state == "closed" and closed.forced
    for _ in range(5):
        local.ask("breaker", Record("db", False, 0.1, "timeout"))
    assert local.ask("breaker", Acquire("db")).permitted
    reset = local.ask("breaker", Reset("db"))
    assert reset.state == "closed" and not reset.forced


def test_unknown_resource_is_a_clear_error_when_auto_create_is_off() -> None:
    """With auto_create off, an unconfigured resource is refused naming the known ones."""
    conn = LocalConnection(BreakerSettings(auto_create=False,
                                           resources={"pg": ResourceConfig(breaker=STRICT)}))
    try:
        with pytest.raises(HandlerError, match=r"no breaker for resource 'redis'.*known: pg") as info:
            conn.ask("breaker", Acquire("redis"))
        assert info.value.details["exception"] == "UnknownResource"
        assert conn.ask("breaker", Acquire("pg")).permitted
    finally:
        conn.close()


def test_stats_of_unknown_resource_is_an_error(local: LocalConnection) -> None:
    """breaker.stats never invents a resource."""
    with pytest.raises(HandlerError, match="no breaker for resource 'nope'"):
        local.ask("breaker", Stats("nope"))


@pytest.mark.parametrize(("body", "needle"), [
    ({"resource": ""}, "resource must be a non-empty resource name"),
    ({"resource": 3}, "Acquire.resource: expected a string, got int 3"),
    ({}, "Acquire.resource: required field is missing"),
    ({"resource": "a", "extra": 1}, "unexpected field(s) extra"),
])
def test_bad_acquire_bodies_name_the_field(local: LocalConnection, body: Any, needle: str) -> None:
    """Invalid bodies are refused with InvalidBody naming the field."""
    with pytest.raises(InvalidBody) as info:
        local.ask("breaker", "breaker.acquire", body)
    assert needle in str(info.value)


def test_bad_record_and_policy_values_are_refused(local: LocalConnection) -> None:
    """A negative duration or an invalid policy in configure is refused by name."""
    with pytest.raises(InvalidBody, match="seconds must be a finite number of seconds >= 0"):
        local.ask("breaker", "breaker.record", {"resource": "a", "ok": True, "seconds": -1})
    with pytest.raises(InvalidBody, match="failure_rate must be a finite number > 0"):
        local.ask("breaker", "breaker.configure", {"resource": "a", "breaker": {"failure_rate": 2}})
    with pytest.raises(InvalidBody, match="max_attempts must be an integer >= 1"):
        local.ask("breaker", "breaker.call", {"resource": "a", "target": "t", "type": "x.y",
                                              "retry": {"max_attempts": 0}})


def test_settings_are_validated_from_config_maps() -> None:
    """BreakerSettings builds from a config map and names a bad nested field."""
    s = from_wire(BreakerSettings, {"default": {"window": "time", "window_size": 30},
                                    "resources": {"pg": {"retry": {"max_attempts": 5}}}})
    assert s.default.window == "time" and s.resources["pg"].retry.max_attempts == 5
    with pytest.raises(InvalidBody, match=r"BreakerSettings\.resources\.pg\.breaker.*minimum_calls"):
        from_wire(BreakerSettings, {"resources": {"pg": {"breaker": {"minimum_calls": -1}}}})


def test_configure_switches_policy_at_run_time(local: LocalConnection) -> None:
    """breaker.configure replaces a resource's breaker policy."""
    local.ask("breaker", Configure("svc", BreakerPolicy(consecutive_failures=1)))
    local.ask("breaker", Record("svc", False, 0.1, "timeout"))
    assert local.ask("breaker", States(["svc"])).states[0].state == "open"


def test_statistics_counts_breakers_by_state(local: LocalConnection) -> None:
    """actor.statistics answers with a frozen BreakerStatistics."""
    local.ask("breaker", ForceOpen("x"))
    local.ask("breaker", Acquire("y"))
    stats = local.actor.statistics()
    assert isinstance(stats, BreakerStatistics)
    assert (stats.resources, stats.open, stats.closed, stats.transitions) == (2, 1, 1, 1)


# -- breaker.call ----------------------------------------------------------------------------
class Target:
    """A forward connection whose asks fail ``failures`` times, then answer."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.asks = failures, error, []

    def ask_reply(self, target: str, tag: str, body: Any, *, timeout: float) -> Reply:
        self.asks.append((target, tag, body))
        if len(self.asks) <= self.failures:
            raise self.error
        return Reply({"answer": body["n"] * 2}, 1, 1)

    def close(self) -> None:
        """Nothing to close."""


def test_call_forwards_with_retries() -> None:
    """breaker.call retries transient failures and returns the target's reply."""
    target = Target(2, TimeoutError("slow"))
    conn = LocalConnection(forward=target)
    try:
        reply = conn.ask("breaker", Call("pg", "pool", "pool.execute", {"n": 21},
                                         RetryOverride(base_delay=0.001, max_delay=0.002), 5.0))
        assert reply == {"answer": 42}
        assert target.asks == [("pool", "pool.execute", {"n": 21})] * 3
        assert conn.ask("breaker", Stats("pg")).resources[0].recovered == 2
    finally:
        conn.close()


def test_call_rejected_at_once_when_open() -> None:
    """An open breaker rejects breaker.call without asking the target."""
    target = Target(0, TimeoutError())
    conn = LocalConnection(forward=target)
    try:
        conn.ask("breaker", ForceOpen("pg"))
        with pytest.raises(HandlerError, match="circuit 'pg' is open") as info:
            conn.ask("breaker", Call("pg", "pool", "pool.execute", {"n": 1}))
        assert info.value.details["exception"] == "CircuitOpenError"
        assert target.asks == []
    finally:
        conn.close()


def test_call_retries_exhausted_reports_last_cause() -> None:
    """When every attempt fails the error names the attempts and the last cause."""
    conn = LocalConnection(BreakerSettings(retry=RetryPolicy(max_attempts=2, base_delay=0.001,
                                                             max_delay=0.001)),
                           forward=Target(9, ConnectionResetError("peer reset")))
    try:
        with pytest.raises(HandlerError, match=r"after 2 attempt\(s\).*last cause: connection"):
            conn.ask("breaker", Call("pg", "pool", "pool.execute", {"n": 1}))
    finally:
        conn.close()


# -- the client helper -------------------------------------------------------------------------
def test_guard_checks_locally_and_ships_in_batches(local: LocalConnection,
                                                   client: BreakerClient) -> None:
    """Closed-state calls cost no round trip; their outcomes arrive in one batch."""
    asks_before = local.asks
    for _ in range(100):
        with client.protect("api"):
            pass
    assert local.asks == asks_before  # nothing sent yet: all local
    client.flush()
    assert local.asks == asks_before + 1
    assert local.ask("breaker", Stats("api")).resources[0].successes == 100


def test_guard_learns_open_state_and_rejects_locally(local: LocalConnection,
                                                     client: BreakerClient) -> None:
    """Once the actor opens, the helper rejects without asking the actor."""
    for _ in range(2):
        with pytest.raises(OSError), client.protect("api"):
            raise OSError("boom")
    client.flush()
    assert client.state("api") == "open"
    before = local.asks
    with pytest.raises(CircuitOpenError) as info, client.protect("api"):
        pass
    assert local.asks == before and info.value.retry_after > 50
    assert client.statistics().rejected_locally == 1


def test_guard_learns_state_opened_by_another_agent(local: LocalConnection,
                                                    client: BreakerClient) -> None:
    """A breaker opened by someone else reaches the helper through its sync."""
    local.ask("breaker", ForceOpen("shared"))
    done = threading.Event()
    for _ in range(200):
        if client.state("shared") == "open":
            done.set()
            break
        done.wait(0.01)
    assert done.is_set()


def test_guard_asks_for_trial_permits_in_half_open(local: LocalConnection,
                                                   client: BreakerClient) -> None:
    """Past the open wait the helper asks the actor for one of the limited permits."""
    local.ask("breaker", Configure("api", BreakerPolicy(consecutive_failures=1, open_seconds=0.01,
                                                        half_open_permits=1)))
    local.ask("breaker", Record("api", False, 0.1, "timeout"))
    client.flush()
    threading.Event().wait(0.02)
    client._apply(StateInfo("api", "open", False, 0.0))  # as pushed: the wait is over
    with client.protect("api"):
        pass  # the permitted trial succeeds ...
    assert client.statistics().trials == 1
    assert local.ask("breaker", States(["api"])).states[0].state == "closed"  # ... and closes it
    assert client.state("api") == "closed"


def test_decorator_guards_sync_and_async_functions(local: LocalConnection,
                                                   client: BreakerClient) -> None:
    """The decorator records success and failure of plain and coroutine functions."""

    @client.guard("svc")
    def add(a: int, b: int) -> int:
        return a + b

    @client.guard("svc")
    async def fail() -> None:
        raise TimeoutError("too slow")

    assert add(1, 2) == 3
    with pytest.raises(TimeoutError):
        asyncio.run(fail())
    client.flush()
    s = local.ask("breaker", Stats("svc")).resources[0]
    assert (s.successes, s.failures, s.errors_by_class) == (1, 1, {"timeout": 1})


def test_async_context_manager_rejects_when_open(local: LocalConnection,
                                                 client: BreakerClient) -> None:
    """``async with`` raises CircuitOpenError for an open breaker."""
    local.ask("breaker", ForceOpen("svc"))
    client._apply(StateInfo("svc", "open", True, 1e9))

    async def go() -> None:
        async with client.protect("svc"):
            pass

    with pytest.raises(CircuitOpenError):
        asyncio.run(go())


def test_helper_fails_open_when_the_actor_is_unreachable() -> None:
    """If the actor cannot answer, a guarded call goes through and is counted."""

    class Down:
        def ask(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("node down")

    helper = BreakerClient(Down(), subscribe=False)
    try:
        helper._apply(StateInfo("x", "half_open", False, 0.0))
        with helper.protect("x"):
            pass
        assert helper.statistics().actor_errors >= 1
    finally:
        helper.close()


def test_helper_rejects_bad_options() -> None:
    """Invalid helper options name the parameter."""
    with pytest.raises(ValueError, match="flush_interval must be a finite number of seconds > 0"):
        BreakerClient(object(), flush_interval=0)
    with pytest.raises(ValueError, match="max_buffer must be an integer >= 1"):
        BreakerClient(object(), max_buffer=0)


def test_client_call_retries_transient_failures(local: LocalConnection,
                                                client: BreakerClient) -> None:
    """BreakerClient.call retries a transient error per the policy and returns the result."""
    outcomes: list[Any] = [ConnectionResetError("reset"), TimeoutError("slow"), 7]
    slept: list[float] = []

    def flaky() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return int(outcome)

    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01, jitter="none")
    assert client.call("dep", flaky, retry=policy, sleep=slept.append) == 7
    assert slept == [0.01, 0.01] and client.statistics().retries == 2
    with pytest.raises(KeyError):  # permanent: raised as it came, not retried
        client.call("dep", {}.__getitem__, "missing", retry=policy, sleep=slept.append)
    assert len(slept) == 2


def test_batch_rows_are_recorded_and_bad_rows_named(local: LocalConnection) -> None:
    """The compact rows form records in order; a malformed row is refused by index."""
    local.ask("breaker", "breaker.record_batch", {"rows": [
        ["r", True, 0.1, "", ""], ["r", False, 0.2, "timeout", "late"]]})
    s = local.ask("breaker", Stats("r")).resources[0]
    assert (s.successes, s.failures) == (1, 1)
    with pytest.raises(InvalidBody, match=r"RecordBatch\.rows\[1\]: expected \[resource"):
        local.ask("breaker", "breaker.record_batch", {"rows": [["r", True, 0.1, "", ""],
                                                               ["r", "yes", 0.1, "", ""]]})
    with pytest.raises(InvalidBody, match=r"rows\[0\]: expected \[resource, ok, seconds"):
        local.ask("breaker", "breaker.record_batch", {"rows": [["r", True]]})


def test_exact_threshold_opens_despite_float_rounding() -> None:
    """7 failures of 10 reach a 70 % threshold (no float rounding surprise)."""
    conn = LocalConnection(BreakerSettings(default=BreakerPolicy(window_size=10, minimum_calls=10,
                                                                 failure_rate=0.7)))
    try:
        conn.ask("breaker", "breaker.record_batch", {"rows": [["f", True, 0.1, "", ""]] * 3
                                                     + [["f", False, 0.1, "timeout", ""]] * 7})
        assert conn.ask("breaker", States(["f"])).states[0].state == "open"
    finally:
        conn.close()


def test_breakers_table_lists_each_resource(local: LocalConnection) -> None:
    """The shell table has a header and one aligned row per resource, forced ones marked."""
    from actors.breaker import breakers_table

    local.ask("breaker", Record("api", False, 0.1, "timeout", "x"))
    local.ask("breaker", ForceOpen("db"))
    text = breakers_table(local.ask("breaker", Stats()).resources)
    lines = text.splitlines()
    assert lines[0].startswith("RESOURCE") and len(lines) == 3
    assert "open (forced)" in lines[2] and "forever" in lines[2]
    assert "timeout x1" in lines[1]


def test_public_names_exported_once() -> None:
    """actors.breaker.__all__ is sorted, unique, and every name exists."""
    import actors.breaker as pkg

    assert list(pkg.__all__) == sorted(set(pkg.__all__), key=pkg.__all__.index)
    assert len(set(pkg.__all__)) == len(pkg.__all__)
    assert all(hasattr(pkg, name) for name in pkg.__all__)


def test_half_open_without_permits_left_rejects_locally(local: LocalConnection,
                                                        client: BreakerClient) -> None:
    """Once the actor says every trial permit is out, the helper stops asking for a while."""
    local.ask("breaker", Configure("api", BreakerPolicy(consecutive_failures=1, open_seconds=0.01,
                                                        half_open_permits=1)))
    local.ask("breaker", Record("api", False, 0.1, "timeout"))
    threading.Event().wait(0.02)
    assert local.ask("breaker", Acquire("api")).permitted  # another agent holds the permit
    client._apply(StateInfo("api", "half_open", False, 0.0))
    with pytest.raises(CircuitOpenError), client.protect("api"):
        pass
    before = local.asks
    with pytest.raises(CircuitOpenError, match="half_open"), client.protect("api"):
        pass
    assert local.asks == before and client.statistics().remote_acquires == 1
