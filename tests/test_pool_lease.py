"""The PostgreSQL fast lane: agents lease connections of the pool's budget and run
statements in their own process. Real node, real server, real agent processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from actors.pool import (
    Configure,
    Execute,
    ExecuteResult,
    PoolClient,
    PoolStatistics,
    Statement,
    Stats,
    Transaction,
)
from messages import HandlerError, RemoteError
from tests.nodes import ROOT, RunningNode, eventually, kill_pids
from tests.test_pool_actor import PG, pg_ready, pool_node  # noqa: F401  (pg_ready: a fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("pg_ready")]

DSN = PG["dsn"]
LEASING = {**PG, "min_size": 1, "max_size": 4, "max_lease": 2, "lease_ttl": 1.0,
           "stats_interval": 0.5}


def stats(conn: Any, name: str) -> PoolStatistics:
    reply = conn.ask(name, Stats(), timeout=5)
    assert isinstance(reply, PoolStatistics)
    return reply


def family(conn: Any, name: str) -> str:
    """The application_name prefix every connection of pool ``name`` (leased too) carries."""
    return stats(conn, name).application_name.rsplit("#", 1)[0]


def server_connections(prefix: str) -> dict[str, int]:
    """Connections on the server per application_name starting with ``prefix``."""
    with psycopg.connect(DSN, autocommit=True) as admin:
        rows = admin.execute("select application_name, count(*) from pg_stat_activity "
                             "where left(application_name, %s) = %s group by 1",
                             [len(prefix), prefix]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


class Agent:
    """tests/lease_agent.py in a process of its own."""

    def __init__(self, node: RunningNode, pool: str, want: int) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "lease_agent.py"),
                                      node.endpoint, pool, str(want)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        self.first = json.loads(self.proc.stdout.readline())

    def finish(self) -> dict[str, Any]:
        """Close its stdin: it gives the lease back and reports."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        lines = [json.loads(line) for line in self.proc.stdout.read().splitlines()]
        assert self.proc.wait(20) == 0
        return lines[-1]

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    kill_pids({a.proc.pid for a in started})
    for agent in started:
        agent.proc.wait(10)
        for pipe in (agent.proc.stdin, agent.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


class Counter:
    """Samples the pool's connections on the server every few ms; keeps the largest count."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with psycopg.connect(DSN, autocommit=True) as admin:
            while not self._stop.wait(0.005):
                n = admin.execute("select count(*) from pg_stat_activity where "
                                  "left(application_name, %s) = %s",
                                  [len(self.prefix), self.prefix]).fetchone()
                assert n is not None
                self.peak = max(self.peak, int(n[0]))
                self.samples += 1

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def test_leased_statements_run_in_the_agent_and_are_counted(start_node):
    """A PoolClient with a lease of 2 runs statements and transactions on its own two
    connections (named after its lease); the pool counts them in pool.stats; closing it
    gives the lease and the connections back."""
    node = pool_node(start_node, LEASING, name="pgl")
    with node.connect() as conn:
        prefix = family(conn, "pgl")
        with PoolClient(conn, "pgl", connections=2) as db:
            got = db.statistics()
            assert (got.connections, got.open, got.reason) == (2, 2, ""), got
            assert server_connections(prefix)[f"{prefix}~{got.lease}"] == 2
            assert [db.execute("select %s::int", [i]).rows for i in range(50)] == \
                [[[i]] for i in range(50)]
            both = db.ask(Transaction([Statement("select 1"), Statement("select 2")]), timeout=5)
            assert both == [ExecuteResult(["?column?"], [[1]], 1),
                            ExecuteResult(["?column?"], [[2]], 1)]
            used = db.statistics()
            assert (used.leased, used.through_actor) == (51, 0), used
            pool = eventually(lambda: (s := stats(conn, "pgl")).leased_operations >= 51
                              and s.throughput > 0 and s, timeout=5)
            assert pool.leases == 1 and pool.leased == 2 and pool.operations >= 51
        assert eventually(lambda: f"{prefix}~{got.lease}" not in server_connections(prefix),
                          timeout=5)
        after = stats(conn, "pgl")
    assert after.leases == 0 and after.leased == 0


def test_budget_holds_while_agents_come_go_and_die(start_node, agents):
    """max_size 4 (the pool keeps min_size 1; leases share 3): agents wanting 2 each come,
    one is SIGKILLed, one leaves, another comes — the server never has more than 4
    connections of this pool, the dead agent's share is reclaimed and handed on."""
    node = pool_node(start_node, LEASING, name="pgb")
    with node.connect() as conn:
        prefix = family(conn, "pgb")
        counter = Counter(prefix)
        try:
            a = Agent(node, "pgb", 2)
            agents.append(a)
            assert a.first["stats"]["open"] == 2
            b = Agent(node, "pgb", 2)
            agents.append(b)  # gets 1 now: 2 + 1 = 3 leasable
            assert b.first["stats"]["open"] == 1
            c = Agent(node, "pgb", 2)
            agents.append(c)  # nothing free: a is cut to its fair share (1) at its renewal
            assert eventually(lambda: sorted(server_connections(prefix).values()) ==
                              [1, 1, 1, 1], timeout=10), server_connections(prefix)
            a.kill()
            # the dead holder's connection is reclaimed; b and c then get 2 + 1 between them
            assert eventually(lambda: stats(conn, "pgb").leased == 3 and
                              len(server_connections(prefix)) == 3, timeout=15)
            final_b = b.finish()
            assert final_b["stats"]["leased"] > 0
            d = Agent(node, "pgb", 2)
            agents.append(d)
            assert eventually(lambda: stats(conn, "pgb").leases == 2, timeout=10)
            final_c, final_d = c.finish(), d.finish()
        finally:
            peak = counter.stop()
        assert counter.samples > 50
        assert peak <= 4, f"{peak} connections of a pool with max_size 4"
        assert final_c["errors"] == 0 and final_d["errors"] == 0
        assert eventually(lambda: stats(conn, "pgb").leases == 0, timeout=10)


def test_resizing_the_pool_revokes_leased_connections(start_node):
    """pool.configure lowering max_size shrinks a lease at its next renewal: the agent
    closes the connections it may no longer hold."""
    node = pool_node(start_node, {**LEASING, "max_size": 5, "max_lease": 4}, name="pgr")
    with node.connect() as conn:
        prefix = family(conn, "pgr")
        with PoolClient(conn, "pgr", connections=4) as db:
            assert db.statistics().open == 4
            conn.ask("pgr", Configure(max_size=3), timeout=5)
            assert eventually(lambda: db.statistics().open == 2, timeout=5), db.statistics()
            assert eventually(lambda: sum(server_connections(prefix).values()) <= 3, timeout=5)
            assert db.execute("select 1").rows == [[1]]
            assert "of 4" in db.statistics().reason


def test_lease_lapses_when_the_pool_is_gone(start_node):
    """With its pool stopped, a holder stops using its lane at the lease's expiry and
    closes its connections; statements then go to the actor (which is not there)."""
    node = pool_node(start_node, LEASING, name="pgg")
    with node.connect() as conn:
        prefix = family(conn, "pgg")
        with PoolClient(conn, "pgg", connections=2) as db:
            assert db.execute("select 1").rows == [[1]]
            conn.ask("node", "node.stop_child", {"name": "pgg"}, timeout=10)
            assert eventually(lambda: db.statistics().open == 0, timeout=5), db.statistics()
            assert not server_connections(prefix)
            with pytest.raises(RemoteError):  # no lane and no actor: the actor path's error
                db.execute("select 1", timeout=1)
            assert "renewing the lease failed" in db.statistics().reason


def test_restarted_pool_adopts_the_leases_it_granted(start_node):
    """SIGKILL the pool: the holder keeps running on its lane, and the next incarnation
    counts the connections it finds on the server as that lease's, renewed from then on."""
    node = pool_node(start_node, LEASING, name="pga")
    with node.connect() as conn, PoolClient(conn, "pga", connections=2) as db:
        lease = db.statistics().lease
        os.kill(int(conn.status("pga").actors[0].pid), signal.SIGKILL)
        for _ in range(20):  # served here whatever the pool does meanwhile
            assert db.execute("select 1").rows == [[1]]
        assert eventually(lambda: conn.status("pga").actors[0].incarnation == 2, timeout=10)
        after = eventually(lambda: (s := stats(conn, "pga")).leases == 1 and s, timeout=10)
        assert after.leased == 2 and db.statistics().lease == lease
        assert db.statistics().through_actor == 0


def test_terminated_leased_connections_are_replaced(start_node):
    """pg_terminate_backend on an agent's leased connections: the next statements are served
    (the dead connections are caught before use), none fails."""
    node = pool_node(start_node, LEASING, name="pgt")
    with node.connect() as conn:
        prefix = family(conn, "pgt")
        with PoolClient(conn, "pgt", connections=2) as db:
            name = f"{prefix}~{db.statistics().lease}"
            with psycopg.connect(DSN, autocommit=True) as admin:
                admin.execute("select pg_terminate_backend(pid) from pg_stat_activity "
                              "where application_name = %s", [name])
            assert eventually(lambda: name not in server_connections(prefix), timeout=5)
            assert [db.execute("select 7").rows for _ in range(10)] == [[[7]]] * 10
            assert eventually(lambda: db.statistics().open == 2, timeout=5)
            assert db.execute("select 8").rows == [[8]]
        pool = eventually(lambda: (s := stats(conn, "pgt")).ended_idle >= 2 and s, timeout=5)
    assert pool.errors.get("transient", 0) == 0


def test_leased_write_past_its_deadline_did_not_run(start_node):
    """A leased write that would run 5 s, asked with a 1 s timeout, is cancelled on the
    server and hears "did not run" (with may_have_run false) before its deadline."""
    node = pool_node(start_node, LEASING, name="pgw")
    table = f"lease_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(DSN, autocommit=True) as admin:
        admin.execute(f"create table {table} (k text)")
    try:
        with node.connect() as conn, PoolClient(conn, "pgw", connections=1) as db:
            started = time.monotonic()
            with pytest.raises(HandlerError, match=r"outlived its timeout.*it did not run") as info:
                db.execute(f"insert into {table} select 'x' from pg_sleep(5)", timeout=1.0)
            assert time.monotonic() - started < 1.0
            assert info.value.details["may_have_run"] is False
            assert db.statistics().through_actor == 0
        with psycopg.connect(DSN, autocommit=True) as admin:
            assert admin.execute(f"select count(*) from {table}").fetchone() == (0,)
    finally:
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute(f"drop table {table}")


@pytest.mark.parametrize(("settings", "reason"), [
    ({**PG, "max_lease": 0}, "max_lease is 0"),
    ({"backend": "sqlite"}, "PostgreSQL only"),
])
def test_without_a_lease_the_same_calls_go_through_the_actor(start_node, settings, reason):
    """A pool that grants no lease serves a PoolClient's statements itself, and says why."""
    node = pool_node(start_node, settings, name="pgn")
    with node.connect() as conn, PoolClient(conn, "pgn", connections=2) as db:
        assert db.execute("select 3").rows == [[3]]
        got = db.statistics()
    assert (got.leased, got.through_actor, got.open) == (0, 1, 0) and reason in got.reason


def test_the_profiler_sees_leased_statements(start_node):
    """Latencies of leased statements reach the node's profiler through the pool actor."""
    node = start_node({"children": [
        {"name": "profiler", "actor": "actors.profiler:ProfilerActor"},
        {"name": "pgp", "actor": "actors.pool:PoolActor", "settings": LEASING}]})
    with node.connect() as conn, PoolClient(conn, "pgp", connections=1) as db:
        for _ in range(30):
            db.execute("select 1")

        def counted() -> int:
            ops = conn.ask("profiler", "profiler.report", {"window": "all"}, timeout=5)["ops"]
            entry = ops.get("pgp:pool.execute.leased")
            return int(entry["windows"]["all"]["count"]) if entry else 0

        assert eventually(lambda: counted() >= 30, timeout=10)


def test_fair_shares_follow_max_min_fairness() -> None:
    """Water-filling, written out: 7 among wants 8 and 8 → 3 and 4 (the remainder to the
    later key); 7 among 1, 8, 8 → 1, 3, 3; nobody gets more than it wants; 0 budget → 0."""
    from actors.pool._leases import fair_shares

    assert fair_shares(7, {"a": 8, "b": 8}) == {"a": 3, "b": 4}
    assert fair_shares(7, {"a": 1, "b": 8, "c": 8}) == {"a": 1, "b": 3, "c": 3}
    assert fair_shares(10, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
    assert fair_shares(0, {"a": 2}) == {"a": 0}


def test_lease_book_grows_into_free_budget_and_shrinks_at_once() -> None:
    """A holder over its fair share is cut at its renewal; one under it grows only into
    connections nobody holds; a lapsed holder keeps counting until it is ended."""
    from actors.pool._leases import LeaseBook
    from actors.testing import ManualClock

    clock = ManualClock()
    book = LeaseBook(ttl=2.0, clock=clock, name_of=lambda lease: "app~" + lease,
                     new_id=iter(["aaaaaaaa", "bbbbbbbb"]).__next__)
    a = book.holding("", 3)
    assert book.decide(a, leasable=3, actor_wants=0, free=3) == 3
    b = book.holding("", 3)
    assert book.decide(b, leasable=3, actor_wants=0, free=0) == 0  # nothing free yet
    assert book.decide(a, leasable=3, actor_wants=0, free=0) == 1  # cut to its share
    a.open = 3  # it has not closed them yet: they still count
    assert book.reserved() == 3
    a.open = 1
    assert book.decide(b, leasable=3, actor_wants=0, free=2) == 2
    clock.advance(2.5)
    assert [h.id for h in book.lapsed(lambda h: True)] == ["aaaaaaaa", "bbbbbbbb"]
    assert book.reserved() == 3
    book.end("aaaaaaaa")
    assert book.reserved() == 2


def test_the_backends_breaker_guards_both_paths(start_node):
    """With ``breaker`` set, the pool's outcomes count on the node's breaker (the server's
    SQL errors as successes, timeouts as failures); forced open, the actor refuses at once
    and the lease is taken back, so a PoolClient's statements go to the actor and are
    refused too; closed again, the lease comes back."""
    from actors.breaker import ForceClosed, ForceOpen
    from actors.breaker import Stats as BreakerStats

    node = start_node({"children": [
        {"name": "breaker", "actor": "breaker"},
        {"name": "pgk", "actor": "actors.pool:PoolActor",
         "settings": {**LEASING, "breaker": "pgdb"}}]})
    with node.connect() as conn, PoolClient(conn, "pgk", connections=2) as db:
        assert db.statistics().open == 2
        with pytest.raises(HandlerError, match="permanent error"):
            conn.ask("pgk", Execute("select * from no_such_table_here"), timeout=5)
        with pytest.raises(HandlerError, match="outlived its timeout"):
            db.execute("select pg_sleep(2)", timeout=0.5)
        assert db.execute("select 1").rows == [[1]]

        def counted() -> Any:
            reply = conn.ask("breaker", BreakerStats("pgdb"), timeout=5)
            return reply.resources and reply.resources[0].calls >= 3 and reply.resources[0]

        seen = eventually(counted, timeout=10)
        assert seen and seen.successes >= 2 and seen.calls - seen.successes >= 1, seen
        conn.ask("breaker", ForceOpen("pgdb"), timeout=5)
        assert eventually(lambda: db.statistics().open == 0, timeout=5), db.statistics()
        assert "circuit 'pgdb'" in db.statistics().reason
        with pytest.raises(HandlerError, match="CircuitOpenError"):
            conn.ask("pgk", Execute("select 1"), timeout=5)
        before = db.statistics().through_actor
        with pytest.raises(HandlerError, match="CircuitOpenError"):
            db.execute("select 1")
        assert db.statistics().through_actor == before + 1
        conn.ask("breaker", ForceClosed("pgdb"), timeout=5)
        assert eventually(lambda: db.statistics().open == 2, timeout=5), db.statistics()
        leased = db.statistics().leased
        assert db.execute("select 2").rows == [[2]]
        assert db.statistics().leased == leased + 1


def test_the_readme_example_runs_on_a_leasing_pool(start_node):
    """README's fast-lane example (skipped by the README test, which runs the default
    SQLite pool) runs as written against a PostgreSQL pool named "pool" that leases."""
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\nfrom actors import connect\nfrom actors.pool import PoolClient")
    code = text[start + len("```python\n"):text.index("```", start + 3)]
    node = pool_node(start_node, LEASING, name="pool")
    code = code.replace("tcp://127.0.0.1:5570", node.endpoint)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "[[42]]"
    assert "leased=1, through_actor=0, connections=2, open=2" in done.stdout


def test_a_dead_holder_of_the_whole_budget_is_still_reclaimed(start_node, agents):
    """min_size 0, max_size 3: leases may take 2 (the pool keeps one connection of its own,
    even at min_size 0); an agent holding both is SIGKILLed; the pool uses its own
    connection to end the dead agent's and hands the budget to the next agent."""
    node = pool_node(start_node, {**LEASING, "min_size": 0, "max_size": 3}, name="pgz")
    with node.connect() as conn:
        prefix = family(conn, "pgz")
        first = Agent(node, "pgz", 2)
        agents.append(first)
        assert first.first["stats"]["open"] == 2
        first.kill()
        second = Agent(node, "pgz", 2)
        agents.append(second)
        assert eventually(lambda: stats(conn, "pgz").leases == 1, timeout=15)
        assert eventually(lambda: sorted(server_connections(prefix).values())[-1:] == [2]
                          and sum(server_connections(prefix).values()) <= 3, timeout=10)
        assert second.finish()["errors"] == 0
