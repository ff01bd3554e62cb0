"""Chaos run of the PostgreSQL pool: are the write verdicts true while things break?

N agent processes each send M operations — single inserts, 3-insert transactions and,
every 20th, a slow insert (``pg_sleep(3)``) with a 1 s deadline — to one pool, while:

  phase "idle kills": every 0.3 s the pool's *idle* backends are terminated
      (pg_terminate_backend): no write may fail — a dead connection is never handed out;
  phase "chaos": every 0.3 s *all* its backends are terminated, and every 2.5 s the pool
      actor is SIGKILLed (the supervisor restarts it).

Then every key is checked in the table: an acknowledged write is there exactly once, a
"did not run" / "rolled back" one is absent, no transaction is partial; slow writes
must hear "did not run" before their deadline (not a bare timeout); after each SIGKILL the
time until the killed incarnation's statements are gone from ``pg_stat_activity`` is
measured. The baseline for the verdict timing is the deadline itself.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_pool_chaos.py [--agents 6] [--ops 400] [--lane]

With ``--lane`` each agent asks through a ``PoolClient`` holding a lease of one connection
(the fast lane), so the same promises are checked on connections the agents open
themselves, with the pool actor SIGKILLed under them.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
SLOW_EVERY = 20
SLOW_DEADLINE = 1.0


def verdict_of(exc: BaseException | None) -> str:
    """What an agent was told: ok, did_not_run, may_have_run, crashed, or no_verdict."""
    if exc is None:
        return "ok"
    text = f"{type(exc).__name__}: {exc}"
    if type(exc).__name__ == "ActorCrashed":
        return "crashed"
    if type(exc).__name__ == "AskTimeout":
        return "no_verdict"
    if "(it did not run)" in text or "(it was rolled back)" in text:
        return "did_not_run"
    if any(name in text for name in ("AcquireTimeout", "BackendUnavailable", "PoolClosed",
                                     "DeadlineExpired", "deadline_expired")):
        return "did_not_run"
    if "(it may have run)" in text or "may have been committed" in text:
        return "may_have_run"
    return "other: " + text[:200]


def _agent(index: int, endpoint: str, table: str, ops: int, start_at: float, out: Any,
           lane: bool) -> None:
    import actors
    from actors.pool import Execute, PoolClient, Statement, Transaction

    node = actors.connect(endpoint)
    client = PoolClient(node, "pool", connections=1) if lane else None
    records = []
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(ops):
        key = f"{index}-{i}"
        if i % SLOW_EVERY == SLOW_EVERY - 1:
            kind, timeout = "slow", SLOW_DEADLINE
            message: Any = Execute(f"insert into {table} select %s from pg_sleep(3)", [key])
        elif i % 2:
            kind, timeout = "txn", 5.0
            message = Transaction([Statement(f"insert into {table} values (%s)", [f"{key}-{j}"])
                                   for j in range(3)])
        else:
            kind, timeout = "insert", 5.0
            message = Execute(f"insert into {table} values (%s)", [key])
        started = time.monotonic()
        error: BaseException | None = None
        try:
            if client is not None:
                client.ask(message, timeout=timeout)
            else:
                node.ask("pool", message, timeout=timeout)
        except Exception as exc:
            error = exc
        records.append((key, kind, verdict_of(error), time.monotonic() - started, timeout,
                        "" if error is None else f"{type(error).__name__}: {error}"[:300]))
    leased = 0
    if client is not None:
        leased = client.statistics().leased
        client.close()
    node.close()
    out.put((records, leased))


class Chaos:
    """Terminates the pool's backends and SIGKILLs the pool actor on a schedule."""

    def __init__(self, endpoint: str, prefix: str, *, idle_only: bool, kill_every: float) -> None:
        self.endpoint, self.prefix = endpoint, prefix
        self.idle_only, self.kill_every = idle_only, kill_every
        self.stop = threading.Event()
        self.terminated = self.kills = 0
        self.gone_after: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        from actors import connect

        admin = psycopg.connect(PG, autocommit=True)
        node = connect(self.endpoint)
        next_kill = time.monotonic() + self.kill_every
        while not self.stop.wait(0.3):
            idle = " and state = 'idle'" if self.idle_only else ""
            got = admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where "
                                f"left(application_name, %s) = %s{idle}",
                                [len(self.prefix), self.prefix]).fetchall()
            self.terminated += len(got)
            if time.monotonic() >= next_kill:
                next_kill = time.monotonic() + self.kill_every
                self._kill(node, admin)
        node.close()
        admin.close()

    def _kill(self, node: Any, admin: Any) -> None:
        row = node.status("pool").actors[0]
        if row.state != "running":
            return
        os.kill(row.pid, signal.SIGKILL)
        killed_at, self.kills = time.monotonic(), self.kills + 1
        name = f"{self.prefix}#{row.incarnation}"
        while time.monotonic() - killed_at < 10:
            left = admin.execute("select count(*) from pg_stat_activity where application_name = %s "
                                 "and state = 'active'", [name]).fetchone()[0]
            if not left:
                self.gone_after.append(time.monotonic() - killed_at)
                return
            time.sleep(0.005)
        self.gone_after.append(float("inf"))


def run_phase(name: str, endpoint: str, prefix: str, agents: int, ops: int, *,
              idle_only: bool, kill_every: float, lane: bool) -> None:
    import psycopg

    table = f"chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as admin:
        admin.execute(f"create table {table} (k text primary key)")
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0
    procs = [ctx.Process(target=_agent, args=(i, endpoint, table, ops, start_at, out, lane),
                         daemon=True) for i in range(agents)]
    for p in procs:
        p.start()
    chaos = Chaos(endpoint, prefix, idle_only=idle_only, kill_every=kill_every)
    time.sleep(max(0.0, start_at - time.time()))
    began = time.monotonic()
    chaos.thread.start()
    results = [out.get(timeout=900) for _ in procs]
    records = [r for got, _ in results for r in got]
    leased = sum(n for _, n in results)
    took = time.monotonic() - began
    chaos.stop.set()
    chaos.thread.join(30)
    for p in procs:
        p.join(10)
    with psycopg.connect(PG, autocommit=True) as admin:
        present = collections.Counter(r[0] for r in admin.execute(f"select k from {table}"))
        admin.execute(f"drop table {table}")
    report(name, records, present, chaos, took)
    if lane:
        print(f"  run on leased connections in the agents: {leased} of {len(records)}")


def report(name: str, records: list[Any], present: collections.Counter[str], chaos: Chaos,
           took: float) -> None:
    verdicts: collections.Counter[tuple[str, str]] = collections.Counter()
    broken: list[str] = []
    ran_anyway: collections.Counter[str] = collections.Counter()
    slow_times: list[float] = []
    for key, kind, verdict, elapsed, timeout, text in records:
        verdicts[kind, verdict.split(":")[0]] += 1
        keys = [f"{key}-{j}" for j in range(3)] if kind == "txn" else [key]
        found = [present.get(k, 0) for k in keys]
        if any(n > 1 for n in found):
            broken.append(f"{key}: written twice")
        if kind == "txn" and 0 < sum(found) < 3:
            broken.append(f"{key}: partial transaction {found}")
        if verdict == "ok" and sum(found) != len(keys):
            broken.append(f"{key}: acknowledged but missing")
        if verdict == "did_not_run" and sum(found):
            broken.append(f"{key}: said 'did not run' but is there ({text})")
        if verdict.startswith("other"):
            broken.append(f"{key}: unexpected answer {text}")
        if verdict in ("may_have_run", "crashed", "no_verdict") and sum(found):
            ran_anyway[verdict] += 1
        if kind == "slow" and verdict == "did_not_run":
            slow_times.append(elapsed - timeout)
    print(f"\n{name}: {len(records)} operations in {took:.1f} s, {chaos.terminated} backends "
          f"terminated, pool SIGKILLed {chaos.kills} time(s)")
    for kind in ("insert", "txn", "slow"):
        row = {v: n for (k, v), n in sorted(verdicts.items()) if k == kind}
        print(f"  {kind:<7} {row}")
    print(f"  'may have run' / crashed / no verdict that did run: {dict(ran_anyway) or 'none'}")
    if slow_times:
        slow_times.sort()
        print(f"  slow writes told 'did not run': verdict {-slow_times[-1] * 1000:.0f}–"
              f"{-slow_times[0] * 1000:.0f} ms before the {SLOW_DEADLINE:g} s deadline "
              f"(median {-slow_times[len(slow_times) // 2] * 1000:.0f} ms)")
    if chaos.gone_after:
        shown = ", ".join(f"{g * 1000:.0f}" for g in chaos.gone_after)
        print(f"  after each SIGKILL, the killed pool's statements gone from the server in: "
              f"{shown} ms")
    print(f"  promises broken: {len(broken)}" + "".join(f"\n    {b}" for b in broken[:20]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--ops", type=int, default=400, help="operations per agent and phase")
    parser.add_argument("--lane", action="store_true", help="agents use PoolClient leases")
    args = parser.parse_args()

    from actors import connect
    from actors.pool import Stats
    from tests.nodes import start_node_process

    tmp = Path(tempfile.mkdtemp(prefix="bench_chaos_"))
    node = start_node_process(tmp, {"max_restarts": 100, "max_seconds": 10, "children": [
        {"name": "pool", "actor": "actors.pool:PoolActor", "settings": {
            "backend": "postgres", "dsn": PG, "min_size": 2 if args.lane else 4,
            "max_size": 8, "max_lease": 1 if args.lane else 0}}]})
    try:
        with connect(node.endpoint) as conn:
            full = conn.ask("pool", Stats(), timeout=5).application_name
        prefix = full[:full.rindex("#")]  # the pool's connections and its leases
        print(f"bench_pool_chaos: {args.agents} agents x {args.ops} operations per phase, "
              f"{os.cpu_count()} CPUs, pool min {2 if args.lane else 4} max 8"
              f"{', a lease of 1 connection per agent' if args.lane else ''}, slow writes every "
              f"{SLOW_EVERY}th with a {SLOW_DEADLINE:g} s deadline")
        run_phase("phase 'idle kills' (idle backends terminated every 0.3 s)", node.endpoint,
                  prefix, args.agents, args.ops, idle_only=True, kill_every=float("inf"),
                  lane=args.lane)
        run_phase("phase 'chaos' (all backends terminated every 0.3 s, pool SIGKILLed every 2.5 s)",
                  node.endpoint, prefix, args.agents, args.ops, idle_only=False, kill_every=2.5,
                  lane=args.lane)
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
