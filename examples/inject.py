"""Break a running fleet on purpose, and say what was done.

    python examples/inject.py                      # a fault every 8 s, at random (seeded)
    python examples/inject.py kill pool            # one fault now
    python examples/inject.py --count 10 --seed 7 --faults kill,hang,db-down,slow

Faults (all undone by themselves — the fleet must recover with no human action):

- ``kill [ACTOR]``: SIGKILL an actor's process (its supervisor restarts it);
- ``hang [ACTOR]``: SIGSTOP it (its heartbeats stop; the node kills and restarts it);
- ``db-down``: take the database away for ``--duration`` s, then back. PostgreSQL: the
  fleet's ``dbproxy`` cuts every connection and refuses new ones (the shared server itself
  is never stopped); SQLite: the database is held locked, so every write waits and fails;
- ``backends`` (PostgreSQL): terminate the pool's server backends (``pg_terminate_backend``,
  only those whose application_name is the pool's);
- ``slow``: the ``fleet_work`` view every agent reads becomes slow (``pg_sleep(0.15)``,
  or a 1,000,000-row recursive query on SQLite) for ``--duration`` s;
- ``corrupt`` (SQLite, not in the random mix): the database file is overwritten with
  garbage for ``--duration`` s, then its bytes are put back;
- ``pg-restart`` (not in the random mix): restart the real server with the command in
  ``FLEET_PG_RESTART`` (e.g. ``pg_ctlcluster 15 main restart``). It cuts every client of
  that server, so use it only on a server nobody else uses.

Each fault is printed and appended to ``RUN/injections.jsonl`` with its start and end
(Unix times), target and detail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors import connect  # noqa: E402
from actors.pool import Stats  # noqa: E402

MIX = ("kill", "hang", "db-down", "backends", "slow")
HANG_LIMIT = 10.0
"""A stopped process the node did not kill within this many seconds is continued."""
FAST_VIEW = "select 1 as n"
SLOW_VIEW = {"postgres": "select 1 as n from pg_sleep(0.15)",
             "sqlite": "with recursive c(x) as (select 1 union all select x + 1 from c "
                       "limit 1000000) select count(*) as n from c"}


class Injector:
    """Injects faults into the run described by ``RUN/fleet.json``."""

    def __init__(self, run_dir: Path, duration: float, rng: random.Random) -> None:
        self.dir = run_dir
        self.run: dict[str, Any] = json.loads((run_dir / "fleet.json").read_text())
        self.backend = self.run["backend"]
        self.duration, self.rng = duration, rng
        self.conn = connect(self.run["endpoint"])

    def close(self) -> None:
        self.conn.close()

    def inject(self, fault: str, target: str | None = None) -> dict[str, Any]:
        """Inject one fault and wait until it is undone; its record."""
        start = time.time()
        detail = getattr(self, "_" + fault.replace("-", "_"))(target)
        record = {"fault": fault, "start": start, "end": time.time(), **detail}
        with (self.dir / "injections.jsonl").open("a") as out:
            out.write(json.dumps(record) + "\n")
        return record

    def _announce(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} inject: {text}", flush=True)

    def _actor(self, target: str | None) -> tuple[str, int]:
        rows = [r for r in self.conn.status(timeout=5.0).actors if r.state == "running" and r.pid]
        if target is not None:
            rows = [r for r in rows if r.name == target]
            if not rows:
                raise SystemExit(f"inject: no running actor named {target!r}")
        row = self.rng.choice(rows)
        assert row.pid is not None
        return row.name, row.pid

    def _kill(self, target: str | None) -> dict[str, Any]:
        name, pid = self._actor(target)
        self._announce(f"SIGKILL {name} (pid {pid})")
        os.kill(pid, signal.SIGKILL)
        return {"target": name, "pid": pid}

    def _hang(self, target: str | None) -> dict[str, Any]:
        name, pid = self._actor(target)
        self._announce(f"SIGSTOP {name} (pid {pid}): it stops answering and heartbeating")
        os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + HANG_LIMIT
        while time.monotonic() < deadline and _exists(pid):
            time.sleep(0.05)
        if _exists(pid):
            os.kill(pid, signal.SIGCONT)
            return {"target": name, "pid": pid, "detail": "not killed by the node; continued"}
        return {"target": name, "pid": pid, "detail": "killed by the node"}

    def _db_down(self, target: str | None) -> dict[str, Any]:
        if self.backend == "postgres":
            self._announce(f"database unreachable for {self.duration:g} s (dbproxy down)")
            self.conn.ask("dbproxy", "dbproxy.down", {}, timeout=5.0)
            time.sleep(self.duration)
            self.conn.ask("dbproxy", "dbproxy.up", {}, timeout=5.0)
            return {"target": "db", "detail": "dbproxy down, then up"}
        self._announce(f"database locked for {self.duration:g} s (writes wait and fail)")
        db = sqlite3.connect(self.run["sqlite"], timeout=10, isolation_level=None)
        try:
            db.execute("begin exclusive")
            time.sleep(self.duration)
            db.execute("rollback")
        finally:
            db.close()
        return {"target": "db", "detail": "sqlite database held locked"}

    def _backends(self, target: str | None) -> dict[str, Any]:
        if self.backend != "postgres":
            return {"target": "db", "detail": "skipped: no server backends on SQLite"}
        name = self.conn.ask("pool", Stats(), timeout=5.0).application_name.split("#")[0]
        with _pg(self.run) as pg:
            ended = pg.execute("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                               "where application_name like %s", [name + "#%"]).fetchone()
        self._announce(f"terminated {ended[0] if ended else 0} backends of {name}")
        return {"target": "db", "detail": f"terminated {ended[0] if ended else 0} backends"}

    def _slow(self, target: str | None) -> dict[str, Any]:
        self._announce(f"queries slow for {self.duration:g} s (fleet_work made slow)")
        self._view(SLOW_VIEW[self.backend])
        time.sleep(self.duration)
        self._view(FAST_VIEW)
        return {"target": "db", "detail": "fleet_work slow, then fast"}

    def _corrupt(self, target: str | None) -> dict[str, Any]:
        if self.backend != "sqlite":
            raise SystemExit("inject: corrupt is for a fleet on SQLite")
        path = Path(self.run["sqlite"])
        saved = path.read_bytes()
        self._announce(f"{path.name} overwritten with garbage for {self.duration:g} s")
        path.write_bytes(random.Random(self.rng.random()).randbytes(len(saved)))
        time.sleep(self.duration)
        path.write_bytes(saved)
        return {"target": "db", "detail": "sqlite file corrupted, then restored"}

    def _pg_restart(self, target: str | None) -> dict[str, Any]:
        command = os.environ.get("FLEET_PG_RESTART", "")
        if not command:
            raise SystemExit("inject: pg-restart needs FLEET_PG_RESTART, the command that restarts "
                             "the server (it cuts every client of the server: never a shared one)")
        self._announce(f"restarting PostgreSQL: {command}")
        done = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False)
        return {"target": "db", "detail": f"{command}: exit {done.returncode} {done.stderr.strip()[:200]}"}

    def _view(self, body: str) -> None:
        if self.backend == "postgres":
            with _pg(self.run) as pg:
                pg.execute("set lock_timeout = '5s'")
                pg.execute(f"create or replace view {self.run['schema']}.fleet_work as {body}")
            return
        db = sqlite3.connect(self.run["sqlite"], timeout=10, isolation_level=None)
        try:
            db.execute("begin immediate")
            db.execute("drop view fleet_work")
            db.execute(f"create view fleet_work as {body}")
            db.execute("commit")
        finally:
            db.close()


def _pg(run: dict[str, Any]) -> Any:
    import psycopg

    return psycopg.connect(**run["postgres"], autocommit=True, application_name="fleet-injector")


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fault", nargs="?", help="one fault to inject now (default: a random series)")
    parser.add_argument("target", nargs="?", help="the actor to kill or hang (default: any)")
    parser.add_argument("--run", default="fleet-run", help="the fleet's run directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", type=float, default=8.0, help="seconds between faults")
    parser.add_argument("--count", type=int, default=0, help="how many faults (0: until Ctrl-C)")
    parser.add_argument("--faults", default=",".join(MIX), help="the mix to draw from")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds a db-down or slow lasts")
    args = parser.parse_args()
    injector = Injector(Path(args.run), args.duration, random.Random(args.seed))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.fault:
            injector.inject(args.fault, args.target)
            return 0
        mix = [f for f in args.faults.split(",") if f]
        if injector.backend != "postgres":
            mix = [f for f in mix if f != "backends"]
        plan: list[str] = []
        done = 0
        while not stop.is_set() and (not args.count or done < args.count):
            if not plan:  # every fault of the mix once per round, in a seeded order
                plan = injector.rng.sample(mix, len(mix))
            started = time.monotonic()
            injector.inject(plan.pop())
            done += 1
            stop.wait(max(0.0, args.every - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass
    finally:
        injector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
