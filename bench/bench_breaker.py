"""Benchmark of the breaker actor: each figure beside its baseline from the same run.

    PYTHONPATH=. python bench/bench_breaker.py [--quick]

1. Guarded-call overhead in the CLOSED state: the client helper (local check, batched
   outcomes shipped to a real node) beside pybreaker and tenacity in process, over a
   bare call. Target: <= 5 us per guarded call.
2. A guarded remote call: ``breaker.call`` forwarding to echo beside a direct ask.
3. Push latency: from the ask that opens a breaker returning to every subscribed helper
   rejecting locally. Target: <= 50 ms.
4. Fault scenario: a dependency failing 20 % of attempts at random, then down for a
   while, then back: share of failures recovered without human action, calls until
   the breaker opens (target: within one window), time to close after recovery.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _bench_util as bu
import pybreaker
import tenacity

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.breaker import (  # noqa: E402
    BreakerClient,
    Call,
    CircuitOpenError,
    ForceOpen,
    Reset,
    RetryPolicy,
    Stats,
)
from actors.examples import Ping  # noqa: E402
from tests.nodes import start_node_process  # noqa: E402


def per_call(fn: Callable[[], Any], n: int, repeats: int = 5) -> float:
    """Best-of-``repeats`` seconds per call of ``fn`` over ``n`` calls."""
    return bu.best_per_call(fn, n, repeats=repeats)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.2f} us"


def overhead(conn: Any, n: int) -> None:
    def work() -> int:
        return 1

    bare = per_call(work, n)
    with BreakerClient(conn, flush_interval=0.02) as client:
        client.wait_synced(5)
        protect = client.protect

        def helper_cm() -> int:
            with protect("bench"):
                return work()

        guarded = client.guard("bench")(work)
        helper = per_call(helper_cm, n) - bare
        decorated = per_call(guarded, n) - bare
        ingest_start = time.perf_counter()
        backlog = len(client._buffer)
        client.flush()
        ingest = backlog / (time.perf_counter() - ingest_start) if backlog else 0.0
    shipped = client.statistics()
    pyb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)
    pyb_fn = pyb(work)
    pybreaker_cost = per_call(pyb_fn, n) - bare
    ten_fn = tenacity.retry(stop=tenacity.stop_after_attempt(3), reraise=True)(work)
    tenacity_cost = per_call(ten_fn, n // 4) - bare
    print("\n1. guarded-call overhead, CLOSED state (best of 5, bare call subtracted)")
    print(f"   bare call                      {us(bare)}")
    print(f"   helper context manager         {us(helper)}   target <= 5 us: "
          f"{'met' if helper <= 5e-6 else 'MISSED'}")
    print(f"   helper decorator               {us(decorated)}")
    print(f"   pybreaker decorator            {us(pybreaker_cost)}   helper / pybreaker = "
          f"{helper / pybreaker_cost:5.2f}x")
    print(f"   tenacity retry decorator       {us(tenacity_cost)}   helper / tenacity  = "
          f"{helper / tenacity_cost:5.2f}x")
    print(f"   (outcomes shipped to the node: {shipped.shipped} in {shipped.batches} batches, "
          f"dropped {shipped.dropped}, pushed out of the full buffer {shipped.discarded};\n"
          f"    the actor absorbed {ingest:,.0f} outcomes/s while the helper produced "
          f"{1 / (helper + bare):,.0f} calls/s: sustained rates above that are sampled)")


def remote(conn: Any, n: int) -> None:
    ping = Ping(1, "x")
    direct = per_call(lambda: conn.ask("echo", ping, timeout=5.0), n, repeats=3)
    call = Call("echo-res", "echo", "echo.ping", {"n": 1, "text": "x"})
    forwarded = per_call(lambda: conn.ask("breaker", call, timeout=5.0), n, repeats=3)
    acquire = per_call(lambda: conn.ask("breaker", "breaker.acquire", {"resource": "r"},
                                        timeout=5.0), n, repeats=3)
    print("\n2. remote calls (round trips on loopback TCP, best of 3)")
    print(f"   direct ask to echo             {us(direct)}")
    print(f"   breaker.call -> echo           {us(forwarded)}   / direct = {forwarded / direct:5.2f}x")
    print(f"   breaker.acquire (one ask)      {us(acquire)}   / direct = {acquire / direct:5.2f}x")


def push_latency(node: Any, helpers: int, rounds: int) -> None:
    conns = [node.connect() for _ in range(helpers)]
    clients = [BreakerClient(c, flush_interval=0.02) for c in conns]
    latencies: list[float] = []
    with node.connect() as admin:
        try:
            for c in clients:
                c.wait_synced(5)
            warm_deadline = time.monotonic() + 5  # SUB subscriptions take a moment to arrive
            while any(c.statistics().pushes == 0 for c in clients) and time.monotonic() < warm_deadline:
                admin.ask("breaker", ForceOpen("warmup"), timeout=2.0)
                admin.ask("breaker", Reset("warmup"), timeout=2.0)
                time.sleep(0.02)
            for i in range(rounds):
                resource = f"push{i}"
                admin.ask("breaker", "breaker.acquire", {"resource": resource}, timeout=2.0)
                admin.ask("breaker", ForceOpen(resource), timeout=2.0)
                opened = time.perf_counter()
                pending = set(range(helpers))
                while pending and time.perf_counter() - opened < 2.0:
                    for k in list(pending):
                        if clients[k].state(resource) == "open":
                            pending.discard(k)
                    time.sleep(0.0002)
                latencies.append(time.perf_counter() - opened)
            pushes = sum(c.statistics().pushes for c in clients)
        finally:
            for c in clients:
                c.close()
            for c in conns:
                c.close()
    latencies.sort()
    print(f"\n3. open -> every one of {helpers} subscribed helpers rejects locally ({rounds} rounds)")
    print(f"   median {latencies[len(latencies) // 2] * 1e3:6.2f} ms   max {latencies[-1] * 1e3:6.2f} ms"
          f"   target <= 50 ms: {'met' if latencies[-1] <= 0.05 else 'MISSED'}"
          f"   (baseline: sync interval 1000 ms without events; pushes seen {pushes})")


class Dependency:
    """A fake downstream service: fails ``rate`` of calls at random, or all while down."""

    def __init__(self, rate: float, seed: int = 7) -> None:
        self.rate = rate
        self.down = False
        self.rng = random.Random(seed)
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        time.sleep(0.0005)
        if self.down or self.rng.random() < self.rate:
            raise ConnectionResetError("dependency reset the connection")
        return "ok"


def scenario(node: Any, calls: int) -> None:
    window = 40
    with node.connect() as conn, BreakerClient(conn, flush_interval=0.005) as client:
        client.wait_synced(5)
        conn.ask("breaker", "breaker.configure", {"resource": "dep", "breaker": {
            "window": "count", "window_size": window, "minimum_calls": 20, "failure_rate": 0.6,
            "open_seconds": 0.2, "half_open_permits": 2}}, timeout=2.0)
        dep = Dependency(0.2)
        policy = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01)
        ok = failed = rejected = 0
        for _ in range(calls):  # phase 1: 20 % transient failures, retried
            try:
                client.call("dep", dep, retry=policy, timeout=1.0)
                ok += 1
            except CircuitOpenError:
                rejected += 1
            except ConnectionError:
                failed += 1
        client.flush()
        phase1 = conn.ask("breaker", Stats("dep"), timeout=2.0).resources[0]
        state_before_outage = client.state("dep")
        # phase 2: the dependency goes down; count attempts until the breaker rejects locally
        dep.down = True
        attempts_before = dep.attempts
        down_at = time.monotonic()
        while time.monotonic() - down_at < 5:
            try:
                client.call("dep", dep)
            except CircuitOpenError:
                break
            except ConnectionError:
                pass
        to_reject = dep.attempts - attempts_before
        opened_after = time.monotonic() - down_at
        dep.down = False  # phase 3: back; calls get through again once half-open trials close it
        back_at = time.monotonic()
        while client.state("dep") != "closed" and time.monotonic() - back_at < 5:
            try:
                client.call("dep", lambda: "ok")
            except CircuitOpenError:
                time.sleep(0.002)
        closed_after = time.monotonic() - back_at
        client.flush()
        final = conn.ask("breaker", Stats("dep"), timeout=2.0).resources[0]
    print(f"\n4. fault scenario ({calls} calls, 20 % of attempts fail at random, retry <= 5 attempts)")
    print(f"   calls succeeded {ok}/{calls} ({ok / calls:.1%}), failed {failed}, rejected {rejected}; "
          f"failed attempts {phase1.failures}, recovered by a later success {phase1.recovered} "
          f"= {phase1.recovery_rate:.1%}  (specification claims 80 %)")
    print(f"   outage (state before: {state_before_outage}): rejected locally after {to_reject} "
          f"failed attempts, {opened_after * 1e3:.1f} ms; window {window} calls: "
          f"{'within one window' if to_reject <= window else 'LATER than one window'}")
    print(f"   recovery: closed {closed_after * 1e3:.1f} ms after the dependency came back "
          f"(open wait 200 ms); opens {final.opens}, time open {final.time_in_state['open']:.3f} s, "
          f"overall recovery rate {final.recovery_rate:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n = 20_000 if args.quick else 200_000
    started = time.monotonic()
    print(f"bench_breaker  python {sys.version.split()[0]}  pybreaker {version('pybreaker')}  "
          f"tenacity {version('tenacity')}")
    with tempfile.TemporaryDirectory() as tmp:
        node = start_node_process(Path(tmp), {"children": [
            {"name": "breaker", "actor": "actors.breaker:BreakerActor"},
            {"name": "echo", "actor": "echo"}]})
        try:
            with node.connect() as conn:
                overhead(conn, n)
                remote(conn, 300 if args.quick else 2000)
            push_latency(node, helpers=4, rounds=10 if args.quick else 30)
            scenario(node, 300 if args.quick else 1000)
        finally:
            node.stop()
    print(f"\n(total {time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
