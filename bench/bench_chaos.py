"""The specification's success metrics, measured together while things break.

Runs the fleet of ``examples/`` (``fleet.py``: a node with profiler, health, breaker,
pool, recovery; N agents reading and writing through the pool behind the ``db`` breaker)
on PostgreSQL — SQLite when no server answers, said in the output — while ``inject.py``,
driven by the seed, SIGKILLs actors, SIGSTOPs one, terminates the pool's server backends
(``pg_terminate_backend``, only the pool's, by application_name), takes the database away
and back (a TCP proxy in front of the shared server: the server itself is not restarted
unless ``--restart-postgres`` says so) and slows queries (``pg_sleep``). Then it prints one
screen, each figure beside the specification's claim, and draws request latency, error
rate, health score and the injected faults over time (PNG, with the ``plot`` extra).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_chaos.py [--seed 1] [--seconds 200]

Definitions (the screen repeats them briefly):

- connection overhead removed: a fresh connection per query opens one connection per
  query; the pool opened (counted by the proxy in front of PostgreSQL; on SQLite from the
  pool's connection ids) C connections for the Q queries the agents sent it over the whole
  run, faults included, so the share of connection set-ups removed is 1 - C/Q. Beside it,
  the time of one ``select 1`` in the same run (K each, interleaved, while the agents run):
  on a fresh connection, on one held connection (the floor), and through the pool actor
  (whose extra time over the floor is the actor hop and the queue behind the agents).
- visibility: a fault is visible when, after it starts and before the next one, the node
  published a health alert or status change about what it hit (the actor; for database
  faults the pool, an agent, the ``db`` breaker, or a bottleneck on the pool's or agents'
  operations) or the supervisor's lifecycle event for it; time to appear = first such
  event minus the fault's start. Shown also over the faults that did harm (a request
  failed or was rejected, requests slowed, or an actor exited): a fault the pool masked
  entirely (idle backends terminated and replaced before any request met them) may leave
  no trace.
- recovery: a fault is recovered when the fleet serves cleanly again (one second with
  answers and no failure or rejection, every agent reporting) before the next fault, and a
  killed or hung actor runs again, with no human action; time to recover is from the
  fault's end. Acknowledged writes lost or run twice come from the ledger check.
- bottleneck detection: for each slowdown, the first ``profiler.bottleneck`` raised on
  ``pool:pool.execute`` or ``agent.read`` minus the slowdown's start; the rule's reaction:
  the ``pool-slow-grow`` action's outcome minus that bottleneck.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _bench_util import Procs, median, pct  # noqa: E402

WARMUP = 15.0
"""Seconds of clean traffic before the first fault (the profiler's baseline)."""
SETTLE = 12.0
"""Seconds after the last fault before the fleet stops."""
OVERHEAD_QUERIES = 200
GROW_COOLDOWN = 5.0
"""The fleet's pool-slow-grow cooldown (examples/fleet.py): a slowdown that finds the rule
cooling down is acted on when the cooldown ends, and its reaction is shown apart."""


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- during the run ----------------------------------------------------------------------
class Poller(threading.Thread):
    """Reads the node's health score (and on PostgreSQL the proxy's connection count) twice
    a second, for the picture and the connection figure."""

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.run_info = run
        self.stop = threading.Event()
        self.health: list[tuple[float, float | None, str]] = []
        self.accepted: list[tuple[float, int]] = []
        self.slot_ids: list[tuple[float, int]] = []

    def run(self) -> None:
        from actors import connect
        from actors.health import StatusQuery
        from actors.pool import Stats

        with connect(self.run_info["endpoint"]) as conn:
            while not self.stop.wait(0.5):
                try:
                    h = conn.ask("health", StatusQuery(), timeout=0.4)
                    self.health.append((time.time(), h.score, h.status))
                except Exception:
                    self.health.append((time.time(), None, "?"))
                try:
                    stats = conn.ask("pool", Stats(), timeout=0.4)
                    self.slot_ids.append((time.time(), max((c.id for c in stats.connections), default=0)))
                except Exception:
                    pass
                if self.run_info["backend"] == "postgres":
                    try:
                        s = conn.ask("dbproxy", "actor.statistics", {}, timeout=0.4)
                        self.accepted.append((time.time(), int(s["accepted"])))
                    except Exception:
                        pass

    def connections_opened(self) -> tuple[int, str]:
        """Connections the pool opened over the run, and how they were counted: by the proxy
        on PostgreSQL (exact; its count restarts with it), else from the pool's connection
        ids (numbered from 1 in each incarnation: a lower bound)."""
        counts, how = (self.accepted, "counted by the proxy") if self.accepted else \
            (self.slot_ids, "from the pool's connection ids")
        total, last = 0, 0
        for _, n in counts:
            if n < last:
                total += last
            last = n
        return total + last, how


def measure_overhead(run: dict[str, Any], k: int) -> dict[str, Any]:
    """Mean seconds of ``select 1``: fresh connection each, one held connection, the pool."""
    from actors import connect
    from actors.pool import Execute

    if run["backend"] == "postgres":
        import psycopg

        args = {**run["postgres"], "port": run["proxy_port"], "autocommit": True}

        def fresh() -> None:
            with psycopg.connect(**args) as c:
                c.execute("select 1").fetchone()

        held_conn: Any = psycopg.connect(**args)
    else:
        import sqlite3

        def fresh() -> None:
            c = sqlite3.connect(run["sqlite"], timeout=5)
            c.execute("select 1").fetchone()
            c.close()

        held_conn = sqlite3.connect(run["sqlite"], timeout=5)
    times: dict[str, list[float]] = {"fresh": [], "held": [], "pool": []}
    with connect(run["endpoint"]) as node:
        ways = {"fresh": fresh, "held": lambda: held_conn.execute("select 1").fetchone(),
                "pool": lambda: node.ask("pool", Execute("select 1"), timeout=5.0)}
        for _ in range(k // 20):
            for name, way in ways.items():
                for _ in range(20):
                    started = time.perf_counter()
                    way()
                    times[name].append(time.perf_counter() - started)
    held_conn.close()
    mean = {name: sum(v) / len(v) for name, v in times.items()}
    return {**{f"{n}_ms": m * 1e3 for n, m in mean.items()}, "queries": k}


# -- after the run -----------------------------------------------------------------------
def seconds_table(agent_lines: list[dict[str, Any]], agents: int) -> list[dict[str, Any]]:
    """The fleet per wall-clock second: answers, failures, rejections, p50/p99, agents seen."""
    bins: dict[int, dict[str, Any]] = collections.defaultdict(
        lambda: {"ok": 0, "failed": 0, "rejected": 0, "p50": [], "p99": [], "agents": set()})
    for line in agent_lines:
        b = bins[int(line["t"])]
        for key in ("ok", "failed", "rejected"):
            b[key] += line[key]
        b["p50"].append(line["p50_ms"])
        b["p99"].append(line["p99_ms"])
        b["agents"].add(line["agent"])
    out = []
    for second in sorted(bins):
        b = bins[second]
        total = b["ok"] + b["failed"] + b["rejected"]
        out.append({"t": second, "ok": b["ok"], "failed": b["failed"], "rejected": b["rejected"],
                    "error_rate": (b["failed"] + b["rejected"]) / total if total else 0.0,
                    "p50": median(b["p50"]), "p99": max(b["p99"]),
                    "clean": b["ok"] > 0 and not b["failed"] and not b["rejected"]
                    and len(b["agents"]) == agents})
    return out


def back_at(lines: list[dict[str, Any]], end: float, until: float, agents: int) -> float | None:
    """When the fleet served cleanly again after a fault ending at ``end``: the latest, over
    the agents, of the end of each one's first clean second (answers, no failure, no
    rejection) after ``end``; None if some agent had none before ``until``."""
    firsts = {}
    for line in sorted(lines, key=lambda r: r["t"]):
        if end < line["t"] <= until and line["agent"] not in firsts and line["ok"] \
                and not line["failed"] and not line["rejected"]:
            firsts[line["agent"]] = line["t"]
    return max(firsts.values()) if len(firsts) == agents else None


def hits(fault: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether ``event`` is a health alert or status change about what ``fault`` hit."""
    topic, name = event["topic"], event.get("name")
    if fault["fault"] in ("kill", "hang"):
        target = fault["target"]
        return (topic in ("lifecycle.exited", "lifecycle.restarting") and name == target) or \
            (topic in ("health.alert", "health.status") and event.get("component") == target)
    if topic in ("health.alert", "health.status"):
        component = str(event.get("component", ""))
        return component in ("pool", "dbproxy") or component.startswith("agent-")
    if topic == "breaker.state":
        return event.get("resource") == "db" and event.get("state") != "closed"
    if topic == "profiler.bottleneck":
        return event.get("state") == "raised" and str(event.get("op")) in ("pool:pool.execute", "agent.read")
    return topic == "lifecycle.exited" and name in ("pool", "dbproxy")


def analyse(run_dir: Path, agents: int) -> dict[str, Any]:
    faults = records(run_dir / "injections.jsonl")
    events = records(run_dir / "events.jsonl")
    lines = [r for p in sorted(run_dir.glob("agent-*.jsonl")) if not p.name.endswith("keys.json")
             for r in records(p)]
    table = seconds_table(lines, agents)
    per_fault = []
    for i, f in enumerate(faults):
        until = faults[i + 1]["start"] if i + 1 < len(faults) else f["end"] + SETTLE
        seen = [e for e in events if f["start"] <= e["ts"] < until and hits(f, e)]
        row: dict[str, Any] = {"fault": f["fault"], "target": f.get("target"), "start": f["start"],
                               "end": f["end"], "visible": bool(seen),
                               "appear": seen[0]["ts"] - f["start"] if seen else None,
                               "first_signal": seen[0]["topic"] if seen else None}
        disrupted = f["fault"] in ("kill", "hang", "slow") or any(
            line["failed"] or line["rejected"] for line in lines if f["start"] < line["t"] <= until)
        back = back_at(lines, f["end"], until, agents)
        if f["fault"] in ("kill", "hang"):
            running = next((e["ts"] for e in events if e["topic"] == "lifecycle.started"
                            and e["name"] == f["target"] and e["ts"] >= f["start"]), None)
            back = None if running is None or back is None else max(back, running)
        row["disrupted"] = disrupted
        row["recovered"] = back is not None
        row["recover"] = max(0.0, back - f["end"]) if back is not None else None
        if f["fault"] == "slow":
            raised = next((e for e in events if e["topic"] == "profiler.bottleneck"
                           and e.get("state") == "raised" and e["ts"] >= f["start"]
                           and str(e.get("op")) in ("pool:pool.execute", "agent.read")), None)
            acted = None if raised is None else next(
                (e for e in events if e["topic"] == "recovery.action" and e.get("rule") == "pool-slow-grow"
                 and e.get("step") == "act" and e["ts"] >= raised["ts"] and e["ts"] < until), None)
            before = [e["ts"] for e in events if e["topic"] == "recovery.action"
                      and e.get("rule") == "pool-slow-grow" and e.get("step") == "act"
                      and raised is not None and e["ts"] < raised["ts"]]
            row["detect"] = raised["ts"] - f["start"] if raised else None
            row["react"] = acted["ts"] - raised["ts"] if acted and raised else None
            row["cooling"] = bool(before) and raised is not None and \
                raised["ts"] - before[-1] < GROW_COOLDOWN
        per_fault.append(row)
    return {"faults": per_fault, "seconds": table, "events": events,
            "summary": json.loads((run_dir / "summary.json").read_text())}


def show(figures: dict[str, Any], overhead: dict[str, Any], opened: tuple[int, str],
         run: dict[str, Any], args: argparse.Namespace, load: str) -> str:
    faults = figures["faults"]
    summary = figures["summary"]
    visible = [f for f in faults if f["visible"]]
    hurt = [f for f in faults if f["disrupted"]]
    hurt_seen = [f for f in hurt if f["visible"]]
    appear = [f["appear"] for f in visible]
    recovered = [f for f in faults if f["recovered"]]
    recover = [f["recover"] for f in recovered]
    detect = [f["detect"] for f in faults if f.get("detect") is not None]
    react = [f["react"] for f in faults if f.get("react") is not None and not f["cooling"]]
    cooled = [f["react"] for f in faults if f.get("react") is not None and f["cooling"]]
    slow = [f for f in faults if f["fault"] == "slow"]
    served = sum(s["ok"] + s["failed"] for s in figures["seconds"])
    kinds = collections.Counter(f["fault"] for f in faults)
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    out = [
        f"chaos bench: seed {args.seed}, {len(faults)} faults over {args.seconds:.0f} s "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), {args.agents} agents, "
        f"database {run['backend']}" + ("" if run["backend"] == "postgres"
                                        else " (PostgreSQL did not answer: SQLite instead)"),
        f"load before: {load}",
        "",
        f"{'metric':<44} {'measured':>28}   claim / target",
        f"{'connection overhead removed (vs fresh conn)':<44} {1 - opened[0] / max(1, served):>27.1%}   "
        f"60 % / >= 95 %",
        f"{'  connections opened per 1000 queries':<44} {1000 * opened[0] / max(1, served):>19.2f}"
        f"   fresh: 1000 ({opened[0]} for {served} queries, {opened[1]})",
        f"{'  one select 1: fresh / held conn / pool (ms)':<44} "
        f"{overhead['fresh_ms']:>9.3f} /{overhead['held_ms']:>6.3f} /{overhead['pool_ms']:>6.3f}"
        f"   over the held one: fresh +{overhead['fresh_ms'] - overhead['held_ms']:.3f}, "
        f"pool +{overhead['pool_ms'] - overhead['held_ms']:.3f} (hop and queue)",
    ]
    out += [
        f"{'visibility: faults seen as alert/status':<44} {len(visible):>19d}/{len(faults):<3d}"
        f"{len(visible) / max(1, len(faults)):>5.0%}   99.9 % / 100 %",
        f"{'  of faults that did harm':<44} {len(hurt_seen):>19d}/{len(hurt):<3d}"
        f"{len(hurt_seen) / max(1, len(hurt)):>5.0%}   ({len(faults) - len(hurt)} masked: no request "
        f"failed or slowed, no actor exited)",
        f"{'  time to appear p50 / p99 (s)':<44} {fmt(pct(appear, 50) if appear else None):>19} /"
        f"{fmt(pct(appear, 99) if appear else None):>6}   - / p99 <= 1 s",
        f"{'recovery: faults recovered, no human action':<44} {len(recovered):>19d}/{len(faults):<3d}"
        f"{len(recovered) / max(1, len(faults)):>5.0%}   80 % / 100 %",
        f"{'  time to recover p50 / max (s)':<44} {fmt(median(recover) if recover else None):>19} /"
        f"{fmt(max(recover) if recover else None):>6}",
        f"{'  acknowledged writes lost / run twice':<44} {summary['lost']:>19d} /"
        f"{summary['duplicated']:>6d}   0 / 0   (of {summary['acknowledged']} acknowledged)",
        f"{'  denied writes written / unknown written':<44} {summary['not_run_but_written']:>19d} /"
        f"{summary['unknown_written']:>6d}   (of {summary['not_run']} denied, {summary['unknown']} unknown)",
        f"{'bottleneck detection p50 / p99 (s)':<44} {fmt(pct(detect, 50) if detect else None):>19} /"
        f"{fmt(pct(detect, 99) if detect else None):>6}   < 5 s / p99 <= 1 s  ({len(detect)}/{len(slow)} slowdowns)",
        f"{'recovery rule reaction p50 / max (s)':<44} {fmt(pct(react, 50) if react else None):>19} /"
        f"{fmt(max(react) if react else None):>6}   - / <= 2 s  ({len(react)} actions"
        + (f"; {len(cooled)} more waited out the rule's {GROW_COOLDOWN:g} s cooldown: max "
           f"{max(cooled):.2f} s)" if cooled else ")"),
        "",
        "per fault: " + "  ".join(
            f"{f['fault']}{'(' + str(f['target']) + ')' if f['fault'] in ('kill', 'hang') else ''}:"
            f"{'seen ' + fmt(f['appear']) if f['visible'] else 'unseen'}"
            f"{'' if f['disrupted'] else ' (masked)'}/"
            f"{'back ' + fmt(f['recover']) if f['recovered'] else 'NOT BACK'}" for f in faults),
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=200.0, help="seconds of faults")
    parser.add_argument("--every", type=float, default=8.0, help="seconds between faults")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--backend", choices=("auto", "sqlite", "postgres"), default="auto")
    parser.add_argument("--out", default=str(ROOT / "bench" / "chaos-run"))
    parser.add_argument("--png", default=str(ROOT / "bench" / "chaos.png"))
    parser.add_argument("--restart-postgres", default="", metavar="COMMAND",
                        help="also restart the real server with COMMAND (e.g. 'pg_ctlcluster 15 main "
                             "restart'); it cuts every client of the server, so never on a shared one")
    args = parser.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    procs = Procs()
    total = WARMUP + args.seconds + SETTLE
    fleet = procs.popen([sys.executable, "examples/fleet.py", "--agents", str(args.agents),
                         "--backend", args.backend, "--seconds", str(total), "--out", str(out),
                         "--quiet"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert fleet.stdout is not None
        ready = fleet.stdout.readline()
        if "fleet ready" not in ready:
            raise SystemExit(f"the fleet did not start: {ready!r}")
        started = time.time()
        run = json.loads((out / "fleet.json").read_text())
        procs.remember_descendants(fleet.pid)
        poller = Poller(run)
        poller.start()
        overhead = measure_overhead(run, OVERHEAD_QUERIES)
        time.sleep(max(0.0, started + WARMUP - time.time()))  # the profiler's clean baseline
        faults = "kill,hang,db-down,slow" + (",backends" if run["backend"] == "postgres" else "") \
            + (",pg-restart" if args.restart_postgres else "")
        inject = procs.popen([sys.executable, "examples/inject.py", "--run", str(out), "--seed",
                              str(args.seed), "--every", str(args.every), "--faults", faults,
                              "--count", str(int(args.seconds // args.every)), "--duration", "3"],
                             env={**os.environ, "FLEET_PG_RESTART": args.restart_postgres})
        inject.wait(args.seconds + 120)
        procs.remember_descendants(fleet.pid)
        fleet.wait(total + 120)
        poller.stop.set()
        poller.join(5)
    finally:
        if fleet.poll() is None:
            os.killpg(fleet.pid, signal.SIGTERM)
        procs.cleanup()
    figures = analyse(out, args.agents)
    screen = show(figures, overhead, poller.connections_opened(), run, args, load)
    print(screen)
    (out / "figures.json").write_text(json.dumps(
        {k: v for k, v in figures.items() if k != "events"}, indent=1, default=str))
    try:
        from _chaos_plot import draw
    except ImportError:
        print("\n(no PNG: install the plot extra, pip install -e '.[plot]')")
    else:
        draw(figures, poller.health, args.png, title=screen.splitlines()[0])
        print(f"\npicture: {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
