"""One agent of the fleet: reads and writes through the node's pool, guarded by a breaker.

Each round it reads the ``fleet_work`` view and writes one row with a unique key to
``fleet_ledger``, both through ``BreakerClient.protect("db")`` (when the database fails,
every agent stops hammering it at once), timed with ``profiled`` (the node's profiler
gets the samples), and it reports its error rate, p99 and throughput to the health
monitor every half second. It writes what it saw to ``OUT/agent-N.jsonl`` (one line per
second) and, when stopped (SIGTERM or ``--seconds``), the keys of its writes to
``OUT/agent-N.keys.json``: ``acked`` (the pool said committed), ``not_run`` (certainly
not written: refused, rejected by the breaker, or "it did not run"), ``unknown`` (no
verdict: it may have run) — so a check can find writes lost, run twice, or wrongly denied.

    python examples/agent.py --endpoint tcp://127.0.0.1:5570 --index 1 --out fleet-run
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

from actors import connect
from actors.breaker import BreakerClient, CircuitOpenError
from actors.health import Report, ReportBatch
from actors.pool import Execute
from actors.profiler import Recorder, connection_sink, profiled, set_default_recorder
from messages import ActorCrashed, AskTimeout, CellphoneError

REPORT_EVERY = 0.5
"""Seconds between reports to the health monitor."""
ASK_TIMEOUT = 2.0
"""No answer from the pool within this many seconds counts as a failure (a hung pool)."""


def verdict(exc: BaseException) -> str:
    """What a failed write means for the ledger: ``rejected`` and ``did_not_run`` are
    certainly not written; ``unknown`` may have been."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, CircuitOpenError):
        return "rejected"
    if isinstance(exc, (ActorCrashed, AskTimeout)) or "(it may have run)" in text:
        return "unknown"
    if "(it did not run)" in text or "(it was rolled back)" in text or any(
            name in text for name in ("AcquireTimeout", "BackendUnavailable", "PoolClosed",
                                      "DeadlineExpired", "deadline_expired", "ActorNotFound")):
        return "did_not_run"
    return "unknown"


class Window:
    """What this agent saw since the last report: outcomes and latencies."""

    def __init__(self) -> None:
        self.ok = self.failed = self.rejected = 0
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    def add(self, seconds: float, exc: BaseException | None) -> None:
        self.latencies.append(seconds)
        if exc is None:
            self.ok += 1
        elif isinstance(exc, CircuitOpenError):
            self.rejected += 1
        else:
            self.failed += 1
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Agent:
    """The loop of one agent process."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = f"agent-{args.index}"
        self.out = Path(args.out)
        self.stop = threading.Event()
        self.keys: dict[str, list[str]] = {"acked": [], "unknown": [], "not_run": []}
        self.seq = 0
        self.placeholder = "%s" if args.backend == "postgres" else "?"
        self.prefix = f"{args.schema}." if args.schema else ""

    def run(self) -> None:
        args = self.args
        deadline = time.monotonic() + args.seconds if args.seconds else float("inf")
        pause = 2.0 / args.rate  # a round is two operations
        with connect(args.endpoint) as conn, BreakerClient(conn) as breakers, \
                Recorder(connection_sink(conn), source=self.name) as recorder, \
                (self.out / f"{self.name}.jsonl").open("a") as log:
            set_default_recorder(recorder)
            window, second = Window(), Window()
            reported = logged = time.monotonic()
            while not self.stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                for outcome in (self.read(conn, breakers), self.write(conn, breakers)):
                    window.add(*outcome)
                    second.add(*outcome)
                now = time.monotonic()
                if now - reported >= REPORT_EVERY:
                    self.report(conn, window, now - reported)
                    window, reported = Window(), now
                if now - logged >= 1.0:
                    log.write(json.dumps(self.line(second)) + "\n")
                    log.flush()
                    second, logged = Window(), now
                self.stop.wait(max(0.0, pause - (time.monotonic() - started)))
        (self.out / f"{self.name}.keys.json").write_text(json.dumps(self.keys))

    def read(self, conn: Any, breakers: BreakerClient) -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            with profiled("agent.read"), breakers.protect("db"):
                conn.ask("pool", Execute(f"select n from {self.prefix}fleet_work",
                                         timeout=ASK_TIMEOUT * 0.75), timeout=ASK_TIMEOUT)
        except (CellphoneError, ConnectionError, TimeoutError) as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    def write(self, conn: Any, breakers: BreakerClient) -> tuple[float, BaseException | None]:
        self.seq += 1
        key = f"{self.name}-{self.seq}"
        sql = f"insert into {self.prefix}fleet_ledger (key) values ({self.placeholder})"
        started = time.monotonic()
        try:
            with profiled("agent.write"), breakers.protect("db"):
                conn.ask("pool", Execute(sql, [key], timeout=ASK_TIMEOUT * 0.75), timeout=ASK_TIMEOUT)
        except (CellphoneError, ConnectionError, TimeoutError) as exc:
            self.keys["unknown" if verdict(exc) == "unknown" else "not_run"].append(key)
            return time.monotonic() - started, exc
        self.keys["acked"].append(key)
        return time.monotonic() - started, None

    def report(self, conn: Any, w: Window, seconds: float) -> None:
        done = w.ok + w.failed
        reports = [Report(self.name, "throughput", (done + w.rejected) / seconds),
                   Report(self.name, "response_time", w.percentile(0.99))]
        if done + w.rejected:
            reports.append(Report(self.name, "error_rate", (w.failed + w.rejected) / (done + w.rejected)))
        try:
            conn.tell("health", ReportBatch(reports))
        except (CellphoneError, ConnectionError):
            pass  # health is down or restarting: the next report goes through

    def line(self, w: Window) -> dict[str, Any]:
        return {"t": time.time(), "agent": self.name, "ok": w.ok, "failed": w.failed,
                "rejected": w.rejected, "p50_ms": round(w.percentile(0.5) * 1e3, 3),
                "p99_ms": round(w.percentile(0.99) * 1e3, 3),
                "max_ms": round(max(w.latencies, default=0.0) * 1e3, 3), "errors": w.errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--out", required=True, help="directory for this agent's records")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--schema", default="", help="PostgreSQL schema of the fleet's tables")
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: SIGTERM)")
    agent = Agent(parser.parse_args())
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stop.set())
    agent.run()


if __name__ == "__main__":
    main()
