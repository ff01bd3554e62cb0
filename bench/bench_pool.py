"""Benchmark of the pool actor: SELECT 1 from 1, 4 and 8 agent processes.

Two ways through the pool: asking the actor (``pool actor``), and the fast lane — a
``PoolClient`` holding a lease of one connection per agent and running the statement in
the agent's own process (``fast lane``, a second pool actor whose leases share a budget of
8: its ``max_size`` is 9, the actor keeping one for itself).
Beside them, measured in the same run on the same PostgreSQL: (a) a fresh psycopg
connection per query, (b) pgbouncer in transaction mode (started here on a loopback port
and stopped after, if the Debian package is installed), (c) psycopg_pool inside each
agent process, (d) one persistent psycopg connection per agent (``direct``). Prints each
figure beside its baseline as a ratio. Two more columns bound
what any pool of this shape can reach here: the echo actor (the runtime with no work at
all) and a bare pyzmq ROUTER process driving non-blocking libpq connections with no
runtime, validation or bookkeeping ("raw zmq+pq", the ceiling for a ZeroMQ-fronted
Python pool process on this machine).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_pool.py [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench_util as bu

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
AGENTS = (1, 4, 8)
POOL_SIZE = 8


# -- what one agent process does ------------------------------------------------------------
def _agent(inbox: Any, outbox: Any, endpoint: str) -> None:
    import psycopg
    import psycopg_pool

    import actors
    from actors.examples import Ping
    from actors.pool import Execute, PoolClient

    node = actors.connect(endpoint)
    local_pool: psycopg_pool.ConnectionPool[Any] | None = None
    bouncer: Any = None
    raw: Any = None
    lane: Any = None
    direct: Any = None
    while True:
        task = inbox.get()
        if task is None:
            break
        method, start_at, seconds, dsn = task
        if method == "psycopg_pool" and local_pool is None:
            local_pool = psycopg_pool.ConnectionPool(PG, min_size=1, max_size=1, open=True)
            local_pool.wait()
        if method == "fast_lane" and lane is None:
            lane = PoolClient(node, "lane", connections=1)
            assert lane.statistics().open == 1, lane.statistics()
        if method == "direct" and direct is None:
            direct = psycopg.connect(PG, autocommit=True)
        if method == "pgbouncer" and bouncer is None:
            bouncer = psycopg.connect(dsn, autocommit=True, prepare_threshold=None)
        if method == "raw_pool" and raw is None:
            import msgpack
            import zmq

            raw = zmq.Context.instance().socket(zmq.DEALER)
            raw.connect(dsn)
            raw_query = msgpack.packb({"sql": "SELECT 1"})
        time.sleep(max(0.0, start_at - time.time()))
        end = time.monotonic() + seconds
        cpu0 = time.process_time()
        count = 0
        while time.monotonic() < end:
            if method == "echo_actor":
                node.ask("echo", Ping(1), timeout=10)
            elif method == "pool_actor":
                node.ask("pool", Execute("SELECT 1", idempotent=True), timeout=10)
            elif method == "fast_lane":
                lane.ask(Execute("SELECT 1", idempotent=True), timeout=10)
            elif method == "direct":
                direct.execute("SELECT 1").fetchone()
            elif method == "fresh":
                with psycopg.connect(PG, autocommit=True) as conn:
                    conn.execute("SELECT 1").fetchone()
            elif method == "psycopg_pool":
                assert local_pool is not None
                with local_pool.connection() as conn:
                    conn.execute("SELECT 1").fetchone()
            elif method == "pgbouncer":
                bouncer.execute("SELECT 1").fetchone()
            elif method == "raw_pool":
                raw.send(raw_query)
                msgpack.unpackb(raw.recv())
            count += 1
        if method == "fast_lane":
            stats = lane.statistics()
            count = count if stats.through_actor == 0 else -count  # all must take the lane
        outbox.put((count, time.process_time() - cpu0))
    if lane is not None:
        lane.close()
    if direct is not None:
        direct.close()
    if local_pool is not None:
        local_pool.close()
    if bouncer is not None:
        bouncer.close()
    if raw is not None:
        raw.close(linger=0)
    node.close()


# -- the ceiling: a bare ZeroMQ front on non-blocking libpq, no runtime ----------------------
def _raw_pool_server(endpoint: str, size: int, ready: Any) -> None:
    """ROUTER socket + ``size`` non-blocking libpq connections in one poll loop, one thread."""
    import msgpack
    import psycopg
    import zmq

    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.bind(endpoint)
    conns = [psycopg.connect(PG, autocommit=True) for _ in range(size)]
    pgs = {c.pgconn.socket: c.pgconn for c in conns}
    idle, asker = list(pgs), {}
    queued: list[tuple[bytes, bytes]] = []
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    for fd in pgs:
        poller.register(fd, zmq.POLLIN)
    ready.set()
    while True:
        for item, _ in poller.poll():
            if item is router:
                while True:
                    try:
                        ident, body = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    queued.append((ident, msgpack.unpackb(body)["sql"].encode()))
            else:
                pg = pgs[item]
                pg.consume_input()
                if pg.is_busy():
                    continue
                res = pg.get_result()
                rows = [[res.get_value(r, c) for c in range(res.nfields)] for r in range(res.ntuples)]
                while pg.get_result() is not None:
                    pass
                idle.append(item)
                router.send_multipart([asker.pop(item), msgpack.packb({"rows": rows})])
        while queued and idle:
            ident, sql = queued.pop(0)
            fd = idle.pop()
            pgs[fd].send_query(sql)
            pgs[fd].flush()
            asker[fd] = ident


class Agents:
    """N agent processes that run one method at a time, all starting together."""

    def __init__(self, n: int, endpoint: str) -> None:
        ctx = mp.get_context("spawn")
        self.outbox = ctx.Queue()
        self.cpu: dict[str, tuple[float, float, float]] = {}
        """Per method: CPU seconds per query in the agents, the watched processes, PostgreSQL."""
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.procs = [ctx.Process(target=_agent, args=(q, self.outbox, endpoint), daemon=True)
                      for q in self.inboxes]
        for p in self.procs:
            p.start()

    def run(self, method: str, seconds: float, dsn: str = "", watch: tuple[int, ...] = ()) -> float:
        """Queries per second of all agents together; CPU per query goes to ``self.cpu``."""
        start_at = time.time() + 0.5
        for q in self.inboxes:
            q.put((method, start_at, seconds, dsn))
        before = _cpu_of(watch), _postgres_cpu()
        results = [self.outbox.get(timeout=seconds + 60) for _ in self.inboxes]
        after = _cpu_of(watch), _postgres_cpu()
        total = sum(r[0] for r in results)
        n = max(1, abs(total))
        self.cpu[method] = (sum(r[1] for r in results) / n, (after[0] - before[0]) / n,
                            (after[1] - before[1]) / n)
        return total / seconds

    def close(self) -> None:
        for q in self.inboxes:
            q.put(None)
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()


def _cpu_of(pids: tuple[int, ...]) -> float:
    """CPU seconds the processes ``pids`` used so far (user + system)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _postgres_cpu() -> float:
    """CPU seconds every PostgreSQL process on this machine used so far (other users'
    backends too: a shared machine makes this an upper bound)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if proc.info["name"] == "postgres" and proc.info["cpu_times"] is not None:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


# -- pgbouncer ---------------------------------------------------------------------------------
def start_pgbouncer(tmp: Path) -> tuple[subprocess.Popen[bytes] | None, str, str]:
    exe = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if exe is None:
        return None, "", "pgbouncer not installed (apt-get install -y pgbouncer)"
    from tests.nodes import free_port

    port = free_port()
    (tmp / "userlist.txt").write_text('"postgres" ""\n')
    (tmp / "pgbouncer.ini").write_text(f"""[databases]
test = host=127.0.0.1 port=5432 dbname=test user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {tmp}/userlist.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 200
logfile = {tmp}/pgbouncer.log
pidfile = {tmp}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits,options
""")
    args = [exe, str(tmp / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        user = "postgres" if _user_exists("postgres") else "nobody"
        os.chmod(tmp.parent, 0o711)
        os.chmod(tmp, 0o755)
        shutil.chown(tmp, user)
        args[1:1] = ["-u", user]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dsn = f"host=127.0.0.1 port={port} dbname=test user=postgres"
    import psycopg

    deadline = time.monotonic() + 10
    while True:
        try:
            psycopg.connect(dsn, autocommit=True, prepare_threshold=None).close()
            return proc, dsn, ""
        except psycopg.OperationalError as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode() if proc.stderr else ""
                return None, "", f"pgbouncer did not start: {exc} {err[-300:]}"
            time.sleep(0.1)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# -- single-process latency baselines -----------------------------------------------------------
def latency(fn: Any, n: int, repeats: int = 3) -> float:
    """Best of ``repeats`` mean latencies, after one call to warm up."""
    return bu.best_per_call(fn, n, repeats=repeats, warmup=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per run")
    args = parser.parse_args()

    import psycopg

    from actors import connect
    from actors.examples import Ping
    from actors.pool import Execute
    from tests.nodes import free_port, start_node_process

    tmp = Path(tempfile.mkdtemp(prefix="bench_pool_"))
    node = start_node_process(tmp, {"children": [{"name": "echo", "actor": "echo"},
                                                 {"name": "pool", "actor": "actors.pool:PoolActor",
                                                  "settings": {"backend": "postgres", "dsn": PG,
                                                               "min_size": POOL_SIZE,
                                                               "max_size": POOL_SIZE,
                                                               "worker_threads": 16}},
                                                 {"name": "lane", "actor": "actors.pool:PoolActor",
                                                  "settings": {"backend": "postgres", "dsn": PG,
                                                               "min_size": 0,
                                                               # the actor keeps one: 8 to lease
                                                               "max_size": POOL_SIZE + 1,
                                                               "max_lease": 1}}]})
    (tmp / "pgb").mkdir()
    bouncer, bouncer_dsn, bouncer_note = start_pgbouncer(tmp / "pgb")
    raw_endpoint = f"tcp://127.0.0.1:{free_port()}"
    raw_ready = mp.get_context("spawn").Event()
    raw_server = mp.get_context("spawn").Process(target=_raw_pool_server, daemon=True,
                                                 args=(raw_endpoint, POOL_SIZE, raw_ready))
    raw_server.start()
    raw_ready.wait(30)
    try:
        print(f"bench_pool: SELECT 1 on PostgreSQL 127.0.0.1:5432, {os.cpu_count()} CPUs, "
              f"{args.seconds:g} s per run, pool size {POOL_SIZE}")
        # latency, one caller, in this process
        with psycopg.connect(PG, autocommit=True) as direct:
            t_direct = latency(lambda: direct.execute("SELECT 1").fetchone(), 2000)

        def fresh() -> None:
            with psycopg.connect(PG, autocommit=True) as c:
                c.execute("SELECT 1").fetchone()

        t_fresh = latency(fresh, 50)
        with connect(node.endpoint) as conn:
            t_pool = latency(lambda: conn.ask("pool", Execute("SELECT 1", idempotent=True), timeout=10), 1000)
            t_echo = latency(lambda: conn.ask("echo", Ping(1), timeout=10), 1000)
            acquire = conn.ask("pool", "pool.stats", {}, timeout=5).acquire_ms_p50 / 1000
        connect_cost = t_fresh - t_direct
        removed = 1 - acquire / connect_cost
        end_to_end = (t_fresh - t_pool) / t_fresh
        print("\nlatency, one caller (mean per query):")
        print(f"  open connection, in process        {t_direct * 1e6:8.0f} us")
        print(f"  fresh psycopg connection per query {t_fresh * 1e6:8.0f} us")
        print(f"  via pool actor                     {t_pool * 1e6:8.0f} us   "
              f"{t_fresh / t_pool:5.1f}x faster than fresh")
        print(f"  echo actor round trip (runtime floor) {t_echo * 1e6:6.0f} us   "
              f"pool actor adds {(t_pool - t_echo) * 1e6:.0f} us to it")
        print(f"  per-query connection overhead: fresh connect+close {connect_cost * 1e6:.0f} us, "
              f"pool acquire p50 {acquire * 1e6:.1f} us -> {removed * 100:.2f} % removed "
              f"(target >= 95 %; spec claims 60 %)")
        print(f"  end to end, pool actor vs fresh connection: {end_to_end * 100:.1f} % less time per query "
              f"(the rest is the actor round trip and the query itself)")

        print("\nthroughput, queries/s from N agent processes (ratio = pool actor / baseline):")
        header = f"  {'agents':>6} {'pool actor':>11} {'fresh conn':>11} {'psycopg_pool':>13} {'pgbouncer':>10}" \
                 f" {'echo':>7} {'raw zmq+pq':>11}  {'÷fresh':>7} {'÷psycopg_pool':>14} {'÷pgbouncer':>11}" \
                 f" {'÷echo':>6} {'÷raw':>5}   {'echo÷pgb':>8} {'raw÷pgb':>8}"
        lanes = []
        with connect(node.endpoint) as conn:
            hosts = {row.name: row.pid for row in conn.status().actors}
        watch = {"pool_actor": (hosts["pool"],), "echo_actor": (hosts["echo"],),
                 "fast_lane": (hosts["lane"],), "raw_pool": (raw_server.pid or 0,),
                 "pgbouncer": (bouncer.pid,) if bouncer else ()}
        cpu_at_4: dict[str, tuple[float, float, float]] = {}
        print(header)
        for n in AGENTS:
            agents = Agents(n, node.endpoint)
            try:
                qps = {m: agents.run(m, args.seconds, watch=watch.get(m, ()))
                       for m in ("pool_actor", "fresh", "psycopg_pool", "echo_actor", "fast_lane",
                                 "direct")}
                qps["raw_pool"] = agents.run("raw_pool", args.seconds, raw_endpoint,
                                             watch=watch["raw_pool"])
                qps["pgbouncer"] = agents.run("pgbouncer", args.seconds, bouncer_dsn,
                                              watch=watch["pgbouncer"]) if bouncer else float("nan")
                if n == 4:
                    cpu_at_4 = dict(agents.cpu)
            finally:
                agents.close()
            p = qps["pool_actor"]
            pgb = qps["pgbouncer"]
            lanes.append((n, qps))
            print(f"  {n:>6} {p:>11.0f} {qps['fresh']:>11.0f} {qps['psycopg_pool']:>13.0f} "
                  f"{pgb:>10.0f} {qps['echo_actor']:>7.0f} {qps['raw_pool']:>11.0f}  "
                  f"{p / qps['fresh']:>6.1f}x {p / qps['psycopg_pool']:>13.2f}x {p / pgb:>10.2f}x "
                  f"{p / qps['echo_actor']:>5.2f}x {p / qps['raw_pool']:>4.2f}x   "
                  f"{qps['echo_actor'] / pgb:>7.2f}x {qps['raw_pool'] / pgb:>7.2f}x")
        print("\nfast lane (PoolClient, a lease of 1 connection per agent), same runs:")
        print(f"  {'agents':>6} {'fast lane':>10} {'direct':>8} {'pgbouncer':>10}  {'÷pgbouncer':>11} "
              f"{'÷direct':>8}   {'direct÷pgb':>10}   targets at 4 agents: >= 1.5x pgbouncer, "
              ">= 0.8x direct; pool actor >= 0.6x raw")
        for n, qps in lanes:
            fast = qps["fast_lane"]
            note = "" if fast > 0 else "   (some statements went through the actor!)"
            print(f"  {n:>6} {abs(fast):>10.0f} {qps['direct']:>8.0f} {qps['pgbouncer']:>10.0f}  "
                  f"{abs(fast) / qps['pgbouncer']:>10.2f}x {abs(fast) / qps['direct']:>7.2f}x   "
                  f"{qps['direct'] / qps['pgbouncer']:>9.2f}x{note}")
        print("\nwhere the CPU goes at 4 agents, us per query (agents; the pool/echo/raw host or "
              "pgbouncer; every postgres process):")
        for m in ("direct", "fast_lane", "pgbouncer", "pool_actor", "echo_actor", "raw_pool"):
            if m in cpu_at_4:
                a, h, pg = (x * 1e6 for x in cpu_at_4[m])
                print(f"  {m:<11} agents {a:6.1f}   host {h:6.1f}   postgres {pg:6.1f}   "
                      f"total {a + h + pg:6.1f}")
        if bouncer_note:
            print(f"  (pgbouncer: {bouncer_note})")
        with connect(node.endpoint) as conn:
            stats = conn.ask("pool", "pool.stats", {}, timeout=5)
        print(f"\npool after the run: size {stats.size}, operations {stats.operations}, "
              f"acquire wait p50 {stats.acquire_ms_p50:.3f} ms p99 {stats.acquire_ms_p99:.3f} ms, "
              f"errors {stats.errors}")
    finally:
        node.stop()
        raw_server.kill()
        raw_server.join(10)
        if bouncer is not None:
            bouncer.send_signal(signal.SIGTERM)
            bouncer.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
