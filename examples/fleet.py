"""A fleet you can watch recover: one node, N agent processes, and a live view.

Starts a node (profiler, health, breaker, pool, recovery — and on PostgreSQL a
``dbproxy`` that faults can switch off), makes the tables, starts N agents
(``examples/agent.py``) that read and write through the pool behind the ``db`` breaker,
then prints one line a second — throughput, failures, p99, pool size, breaker, health,
recovery actions — and every notable event as it happens (a crash, an alert, a breaker
opening, a bottleneck, a recovery action). Run ``examples/inject.py`` in a second terminal
to break things. Ctrl-C (or ``--seconds``) stops the agents, checks the ledger — every
write the pool acknowledged must be there exactly once — and stops the node.

    python examples/fleet.py [--agents 4] [--backend auto|sqlite|postgres] [--out fleet-run]

Everything it sees goes to the run directory: ``fleet.json`` (how to reach the run; read
by inject.py), ``events.jsonl`` (every event, with the time it arrived), ``agent-N.jsonl``
(each agent's seconds), ``node.log``, and ``summary.json`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from examples.fleet_watch import EventRecorder, Summary, check_ledger  # noqa: E402

PG: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}
BEAT = {"heartbeat_interval": 0.2, "heartbeat_liveness": 3}
"""Every actor heartbeats five times a second: a hung one is killed within 0.6 s."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_reachable() -> bool:
    try:
        socket.create_connection((PG["host"], PG["port"]), timeout=1).close()
    except OSError:
        return False
    return True


def node_config(run: dict[str, Any]) -> dict[str, Any]:
    """The fleet's node: the four built-ins tuned for a short demo, and its rules."""
    pool: dict[str, Any] = {"min_size": 2, "max_size": 8, "acquire_timeout": 1.0,
                            "statement_timeout": 5.0, "stats_interval": 1.0, "backoff_max": 1.0}
    children: list[dict[str, Any]] = [
        {"name": "profiler", "actor": "profiler", "settings": {
            "windows": [2.0, 120.0], "detect_interval": 0.1,
            "thresholds": {"pool:pool.execute": 0.1, "agent.read": 0.1}}},
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.5, "probe_timeout": 0.5}},
        {"name": "breaker", "actor": "breaker", "settings": {"default": {
            "window": "time", "window_size": 5, "minimum_calls": 10, "open_seconds": 1.0}}},
    ]
    if run["backend"] == "postgres":
        children.append({"name": "dbproxy", "actor": "fleet_actors:DbProxy",
                         "settings": {"port": run["proxy_port"]}})
        pool |= {"backend": "postgres", "dsn": f"host=127.0.0.1 port={run['proxy_port']} "
                 f"dbname={PG['dbname']} user={PG['user']}"}
    children.append({"name": "pool", "actor": "pool", "settings": pool})
    children.append({"name": "recovery", "actor": "recovery", "settings": {"sync_interval": 2.0, "rules": {
        "pool-slow-grow": {"when": {"bottleneck": {"op": "pool:pool.execute",
                                                            "kind": ["threshold", "jump"]}},
                           "do": {"resize_pool": {"pool": "pool", "grow": 2}},
                           "cooldown": 5, "repeat": True},
        "db-unreachable": {"when": {"breaker": {"resource": "db"}},
                           "do": {"publish": {"topic": "fleet.page", "text": "db breaker open"}},
                           "cooldown": 10},
        "pool-keeps-crashing": {"when": {"restarts": {"actor": "pool", "more_than": 3, "within": 30}},
                                "do": {"breaker": {"resource": "db", "seconds": 5}}, "cooldown": 30},
    }}})
    return {"endpoint": run["endpoint"], "data_dir": str(Path(run["dir"]) / "data"),
            "max_restarts": 50, "max_seconds": 60,
            "children": [{**child, **BEAT} for child in children]}


class Fleet:
    """Starts and stops the node and the agents of one run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.out).resolve()
        backend = args.backend
        if backend == "auto":
            backend = "postgres" if postgres_reachable() else "sqlite"
        self.run: dict[str, Any] = {
            "dir": str(self.dir), "backend": backend, "endpoint": args.endpoint or
            f"tcp://127.0.0.1:{free_port()}", "proxy_port": free_port(),
            "schema": f"fleet_{uuid.uuid4().hex[:10]}", "agents": args.agents,
            "sqlite": str(self.dir / "data" / "pool.sqlite3"), "postgres": PG}
        self.node: subprocess.Popen[str] | None = None
        self.agents: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "data").mkdir(parents=True)
        config = self.dir / "node.json"
        config.write_text(json.dumps(node_config(self.run), indent=1))
        self.node = subprocess.Popen(
            [sys.executable, str(ROOT / "run_node.py"), "--config", str(config), "--path", str(HERE),
             "--log-file", str(self.dir / "node.log")],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.node.stdout is not None
        line = self.node.stdout.readline()
        if "ready at" not in line:
            raise SystemExit(f"the node did not start; see {self.dir / 'node.log'}")
        self._make_tables()
        self.run["node_pid"] = self.node.pid
        (self.dir / "fleet.json").write_text(json.dumps(self.run, indent=1))
        for i in range(1, self.args.agents + 1):
            self.agents.append(subprocess.Popen(
                [sys.executable, str(HERE / "agent.py"), "--endpoint", self.run["endpoint"],
                 "--index", str(i), "--out", str(self.dir), "--backend", self.run["backend"],
                 "--schema", self.run["schema"] if self.run["backend"] == "postgres" else "",
                 "--rate", str(self.args.rate)], cwd=ROOT))

    def _make_tables(self) -> None:
        from actors import connect

        schema = self.run["schema"] + "." if self.run["backend"] == "postgres" else ""
        with connect(self.run["endpoint"]) as conn:
            if schema:
                conn.ask("pool", "pool.execute", {"sql": f"create schema {self.run['schema']}"})
            for sql in (f"create table {schema}fleet_ledger (key text not null)",
                        f"create view {schema}fleet_work as select 1 as n"):
                conn.ask("pool", "pool.execute", {"sql": sql}, timeout=10.0)

    def stop(self) -> dict[str, Any]:
        """Stop the agents, check the ledger, stop the node; the run's summary."""
        for agent in self.agents:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
        for agent in self.agents:
            try:
                agent.wait(15)
            except subprocess.TimeoutExpired:
                agent.kill()
        summary = check_ledger(self.run)
        if self.node is not None and self.node.poll() is None:
            self.node.send_signal(signal.SIGTERM)
            try:
                self.node.wait(30)
            except subprocess.TimeoutExpired:
                self.node.kill()
        if self.run["backend"] == "postgres":
            _drop_schema(self.run)
        (self.dir / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary


def _drop_schema(run: dict[str, Any]) -> None:
    import psycopg

    with psycopg.connect(**run["postgres"], autocommit=True) as conn:
        conn.execute(f"drop schema if exists {run['schema']} cascade")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--backend", choices=("auto", "sqlite", "postgres"), default="auto",
                        help="auto: PostgreSQL at 127.0.0.1:5432 if it answers, else SQLite")
    parser.add_argument("--out", default="fleet-run", help="the run directory (emptied first)")
    parser.add_argument("--endpoint", default="", help="the node's endpoint (default: a free port)")
    parser.add_argument("--rate", type=float, default=40.0, help="operations per second per agent")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: Ctrl-C)")
    parser.add_argument("--quiet", action="store_true", help="no live view (records only)")
    args = parser.parse_args()
    fleet = Fleet(args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    fleet.start()
    run = fleet.run
    print(f"fleet ready: node at {run['endpoint']}, {args.agents} agents on {run['backend']}, "
          f"records in {run['dir']}", flush=True)
    recorder = EventRecorder(run, quiet=args.quiet)
    recorder.start()
    summary = Summary(run)
    started = time.monotonic()
    try:
        while not stop.wait(1.0):
            if not args.quiet:
                print(summary.line(time.monotonic() - started), flush=True)
            if args.seconds and time.monotonic() - started >= args.seconds:
                break
    finally:
        recorder.stop.set()
        result = fleet.stop()
        recorder.join(5)
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
