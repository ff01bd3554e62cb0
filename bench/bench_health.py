"""Health monitor benchmark: report cost, and fault → alert visibility latency.

Each figure is printed beside a baseline measured in the same run on the same node:

1. ``health.report`` tells per second vs raw ``echo.ping`` tells per second (and the batch
   form, in samples per second).
2. Visibility latency of injected faults, as seen by a subscribed agent (SUB on the node's
   event stream), median and p99, and the share of faults that became visible at all:
   - SIGKILL of an actor → ``health.alert`` liveness opened; baseline: the node's own
     ``lifecycle.exited`` event for the same kill (the floor health cannot beat);
   - a hung handler (killed by the node after ``max_busy``) and a stopped process (SIGSTOP:
     heartbeats missed) → liveness alert; baseline the ``lifecycle.exited`` event;
   - an agent reporting a raised error rate → ``health.alert`` error_rate opened; baseline an
     ``echo.ping`` ask round trip.

Run: ``PYTHONPATH=. python bench/bench_health.py [--kills 50] [--hangs 10] [--n 20000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from actors import EventReader, connect
from actors.examples import Ping
from actors.health import Report, ReportBatch

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT = 0.1
MAX_BUSY = 0.2
ROUNDS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_node(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    config = {
        "data_dir": str(tmp / "data"), "max_restarts": 10000, "max_seconds": 1,
        "children": [
            {"name": "health", "actor": "actors.health:HealthActor",
             "settings": {"sample_interval": 1.0, "probe_timeout": 0.3}},
            {"name": "echo", "actor": "echo"},
            {"name": "chaos", "actor": "chaos", "heartbeat_interval": HEARTBEAT, "max_busy": MAX_BUSY},
        ],
    }
    path = tmp / "node.json"
    path.write_text(json.dumps(config))
    log = (tmp / "node.log").open("w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_node.py"), "--endpoint", endpoint,
                             "--config", str(path), "--log-level", "WARNING"],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(30) or "ready at" not in proc.stdout.readline():
            proc.kill()
            raise SystemExit(f"node did not start; see {tmp / 'node.log'}")
    return proc, endpoint


def rate(conn: Any, target: str, make: Any, n: int, window: int = 500) -> float:
    """Tells per second to ``target``, synchronised with an ask every ``window`` tells."""
    started = time.perf_counter()
    for i in range(n):
        conn.tell(target, make(i))
        if i % window == window - 1:
            conn.ask(target, "actor.ping", {}, timeout=10.0)
    conn.ask(target, "actor.ping", {}, timeout=10.0)
    return n / (time.perf_counter() - started)


class Events:
    """The agent's subscription: (arrival time, topic, body) of every event."""

    def __init__(self, endpoint: str) -> None:
        self.reader = EventReader(endpoint, "health.alert", "lifecycle.")

    def until(self, match: Any, timeout: float) -> tuple[float, dict[str, Any]] | None:
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            event = self.reader.next(left)
            if event is not None:
                when = time.perf_counter()
                if match(event.topic, event.body):
                    return when, event.body
        return None

    def close(self) -> None:
        self.reader.close()


def chaos_pid(conn: Any) -> int | None:
    for a in conn.status().actors:
        if a.name == "chaos" and a.state == "running":
            return int(a.pid) if a.pid is not None else None
    return None


def fault_run(conn: Any, ev: Events, faults: int, inject: Any) -> tuple[list[float], list[float], int]:
    """Inject ``faults``; (alert latencies, node exit-event latencies, visible count)."""
    alerts, exits, visible = [], [], 0
    for _ in range(faults):
        pid = None
        deadline = time.monotonic() + 10
        while pid is None and time.monotonic() < deadline:
            pid = chaos_pid(conn)
            if pid is None:
                time.sleep(0.01)
        assert pid is not None, "chaos did not come back"
        conn.ask("chaos", "actor.ping", {}, timeout=5.0, retries=3)  # see note on stale exits
        t0 = time.perf_counter()
        inject(pid)
        exit_seen = alert_seen = None
        deadline = time.monotonic() + 10
        while alert_seen is None and time.monotonic() < deadline:
            got = ev.until(lambda t, b: (t == "lifecycle.exited" and b.get("name") == "chaos") or
                           (t == "health.alert" and b.get("component") == "chaos"
                            and b.get("metric") == "liveness" and b.get("event") == "opened"), 10.0)
            if got is None:
                break
            when, body = got
            if "event" in body and body.get("event") == "exited":
                exit_seen = when
            else:
                alert_seen = when
        if exit_seen is not None:
            exits.append(exit_seen - t0)
        if alert_seen is not None:
            visible += 1
            alerts.append(alert_seen - t0)
        ev.until(lambda t, b: t == "health.alert" and b.get("component") == "chaos"
                 and b.get("metric") == "liveness" and b.get("event") == "resolved", 10.0)
    return alerts, exits, visible


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def show(name: str, values: list[float], base_name: str, base: list[float], visible: int, total: int) -> None:
    med, p99 = pct(values, 0.5) * 1000, pct(values, 0.99) * 1000
    bmed, bp99 = pct(base, 0.5) * 1000, pct(base, 0.99) * 1000
    print(f"{name:<28} median {med:7.1f} ms  p99 {p99:7.1f} ms  visible {visible}/{total} "
          f"({100.0 * visible / max(total, 1):.1f} %)   | baseline {base_name}: median {bmed:7.2f} ms "
          f"p99 {bp99:7.2f} ms  (ratio median {med / bmed if bmed else float('nan'):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="tells per throughput figure")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--hangs", type=int, default=25)
    parser.add_argument("--stops", type=int, default=50)
    parser.add_argument("--reports", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, endpoint = start_node(Path(tmp))
        try:
            with connect(endpoint) as conn:
                run(conn, args)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)


def run(conn: Any, args: argparse.Namespace) -> None:
    conn.ask("health", "actor.ping", {}, timeout=10.0)
    batch = 100
    echo, single, batched = [], [], []
    for _ in range(ROUNDS):  # interleaved rounds, median of each: the machine's noise hits all three
        echo.append(rate(conn, "echo", Ping, args.n))
        single.append(rate(conn, "health", lambda i: Report(f"c{i % 50}", "response_time", (i % 10) / 100),
                           args.n))
        batched.append(batch * rate(conn, "health", lambda i: ReportBatch(
            [Report(f"c{j % 50}", "cpu", float(j % 70)) for j in range(batch)]), args.n // batch, window=50))
    echo_rate, report_rate, batch_rate = (statistics.median(x) for x in (echo, single, batched))
    print(f"health.report tells/s        {report_rate:10.0f}   | baseline echo.ping tells/s {echo_rate:10.0f}"
          f"  (ratio {report_rate / echo_rate:.2f}x)   median of {ROUNDS} rounds of {args.n}")
    print(f"health.report_batch samples/s {batch_rate:9.0f}   | baseline echo.ping tells/s {echo_rate:10.0f}"
          f"  (ratio {batch_rate / echo_rate:.2f}x)   batches of {batch}")

    ev = Events(conn.about().events)
    time.sleep(0.5)
    try:
        alerts, exits, visible = fault_run(conn, ev, args.kills, lambda pid: os.kill(pid, signal.SIGKILL))
        show("SIGKILL → liveness alert", alerts, "lifecycle.exited", exits, visible, args.kills)
        alerts, exits, visible = fault_run(conn, ev, args.hangs,
                                           lambda pid: conn.tell("chaos", "chaos.fail", {"how": "hang"}))
        show(f"hung handler (max_busy {MAX_BUSY:g} s)", alerts, "lifecycle.exited", exits, visible, args.hangs)
        alerts, exits, visible = fault_run(conn, ev, args.stops, lambda pid: os.kill(pid, signal.SIGSTOP))
        show(f"SIGSTOP (heartbeat {HEARTBEAT:g} s)", alerts, "lifecycle.exited", exits, visible, args.stops)
        report_latency(conn, ev, args.reports)
    finally:
        ev.close()


def report_latency(conn: Any, ev: Events, faults: int) -> None:
    latencies, rtts, visible = [], [], 0
    for _ in range(faults):
        t0 = time.perf_counter()
        conn.ask("echo", Ping(1), timeout=5.0)
        rtts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        conn.tell("health", Report("agent", "error_rate", 0.5))
        got = ev.until(lambda t, b: t == "health.alert" and b.get("component") == "agent"
                       and b.get("event") == "opened", 5.0)
        if got is not None:
            visible += 1
            latencies.append(got[0] - t0)
        conn.tell("health", Report("agent", "error_rate", 0.0))
        ev.until(lambda t, b: t == "health.alert" and b.get("component") == "agent"
                 and b.get("event") == "resolved", 5.0)
    show("error_rate report → alert", latencies, "echo ask RTT", rtts, visible, faults)


if __name__ == "__main__":
    main()
