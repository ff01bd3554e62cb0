"""What the fleet shows and records: the event stream, a line a second, the ledger check.

:class:`EventRecorder` writes every event of the node to ``events.jsonl`` with the Unix
time it arrived and prints the notable ones; :class:`Summary` makes the line a second from
the agents' records and the node's state; :func:`check_ledger` compares what the agents
were told with what the database holds.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from actors import connect
from actors.breaker import States
from actors.health import StatusQuery
from actors.pool import Stats


def describe(topic: str, body: dict[str, Any]) -> str | None:
    """One line for a notable event; None for routine ones."""
    name = body.get("name", "")
    if topic == "lifecycle.exited":
        return f"{name} exited: {body.get('cause')}"
    if topic == "lifecycle.started" and body.get("incarnation", 1) > 1:
        return f"{name} back as incarnation {body.get('incarnation')}"
    if topic == "health.alert" and body.get("event") in ("opened", "escalated", "resolved"):
        return f"health alert {body['event']}: {body.get('message') or body.get('component')}"
    if topic == "breaker.state":
        return (f"breaker {body.get('resource')}: {body.get('from')} -> {body.get('state')} "
                f"({body.get('reason')})")
    if topic == "profiler.bottleneck" and str(body.get("op", "")).startswith(("pool:", "agent.")):
        return f"bottleneck {body.get('state')}: {body.get('summary')}"
    if topic == "recovery.action":
        outcome = "ok" if body.get("ok") else "FAILED"
        return (f"recovery rule {body.get('rule')}: {body.get('step')} {body.get('action')} "
                f"-> {outcome}: {body.get('detail')}")
    if topic.startswith("fleet."):
        return f"{topic}: {body.get('text')} ({body.get('state')})"
    return None


class EventRecorder(threading.Thread):
    """Records the node's events (its own reader) until ``stop`` is set."""

    def __init__(self, run: dict[str, Any], *, quiet: bool = False) -> None:
        super().__init__(name="fleet-events", daemon=True)
        self.run_info, self.quiet = run, quiet
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        with connect(self.run_info["endpoint"]) as conn:
            reader = conn.subscribe()
        self.ready.set()
        with reader, (Path(self.run_info["dir"]) / "events.jsonl").open("a") as out:
            while not self.stop.is_set():
                event = reader.next(0.1)
                if event is None:
                    continue
                out.write(json.dumps({"ts": time.time(), "topic": event.topic, **event.body},
                                     default=str) + "\n")
                out.flush()
                text = None if self.quiet else describe(event.topic, event.body)
                if text:
                    print(f"  {time.strftime('%H:%M:%S')} {text}", flush=True)


class Summary:
    """The line a second: what the agents saw in the last second, and the node's state."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        self.offsets: dict[str, int] = {}
        self.conn = connect(run["endpoint"])

    def latest(self) -> list[dict[str, Any]]:
        """Each agent's newest record line."""
        out = []
        for path in sorted(Path(self.run["dir"]).glob("agent-*.jsonl")):
            lines = path.read_text().splitlines()
            if lines:
                out.append(json.loads(lines[-1]))
        return out

    def line(self, elapsed: float) -> str:
        rows = self.latest()
        ok = sum(r["ok"] for r in rows)
        failed = sum(r["failed"] for r in rows)
        rejected = sum(r["rejected"] for r in rows)
        p99 = max((r["p99_ms"] for r in rows), default=0.0)
        return (f"[{elapsed:5.0f}s] ok {ok:4d}/s  failed {failed:3d}  rejected {rejected:3d}  "
                f"p99 {p99:7.1f} ms | {self._pool()} | {self._breaker()} | {self._health()} | "
                f"{self._recovery()}")

    def _ask(self, target: str, message: Any) -> Any:
        try:
            return self.conn.ask(target, message, timeout=0.5)
        except Exception:  # the actor is down or busy: the line says "?"
            return None

    def _pool(self) -> str:
        s = self._ask("pool", Stats())
        return "pool ?" if s is None else f"pool {s.size}/{s.max_size} (min {s.min_size})"

    def _breaker(self) -> str:
        s = self._ask("breaker", States(["db"]))
        states = {} if s is None else {i.resource: i.state for i in s.states}
        return f"breaker db {states.get('db', '?')}"

    def _health(self) -> str:
        s = self._ask("health", StatusQuery())
        if s is None:
            return "health ?"
        worst = [c.component for c in s.components if c.status not in ("EXCELLENT", "GOOD")]
        return f"health {s.status}" + (f" ({', '.join(worst[:3])})" if worst else "")

    def _recovery(self) -> str:
        s = self._ask("recovery", "actor.statistics")
        return "recovery ?" if s is None else f"recovery {s['actions']} actions, {s['engaged']} in force"


def check_ledger(run: dict[str, Any]) -> dict[str, Any]:
    """Compare the agents' keys with the ledger: acknowledged writes missing (lost) or
    present twice (duplicated), and writes said not to have run that are there anyway."""
    told: dict[str, set[str]] = {"acked": set(), "unknown": set(), "not_run": set()}
    for path in Path(run["dir"]).glob("agent-*.keys.json"):
        for kind, keys in json.loads(path.read_text()).items():
            told[kind].update(keys)
    counts = Counter(_ledger_keys(run))
    return {"acknowledged": len(told["acked"]), "unknown": len(told["unknown"]),
            "not_run": len(told["not_run"]),
            "lost": sum(1 for k in told["acked"] if counts[k] == 0),
            "duplicated": sum(1 for k, n in counts.items() if n > 1),
            "not_run_but_written": sum(1 for k in told["not_run"] if counts[k] > 0),
            "unknown_written": sum(1 for k in told["unknown"] if counts[k] > 0),
            "rows": sum(counts.values())}


def _ledger_keys(run: dict[str, Any]) -> list[str]:
    if run["backend"] == "postgres":
        import psycopg

        with psycopg.connect(**run["postgres"]) as conn:
            return [k for (k,) in conn.execute(f"select key from {run['schema']}.fleet_ledger")]
    import sqlite3

    db = sqlite3.connect(run["sqlite"], timeout=10)
    try:
        return [k for (k,) in db.execute("select key from fleet_ledger")]
    finally:
        db.close()
