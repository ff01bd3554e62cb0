"""Restart benchmark (issue 3): crash-to-serving latency beside bare process starts and Ray.

1. SIGKILL the ``chaos`` actor of a real node (pid from ``conn.status()``), time until an ask
   to it succeeds (the agent asks at once, ``retries=5``) — median and p99 over >= 100 kills —
   and the death-detected latency: kill to the ``lifecycle.exited`` event arriving on the
   node's PUB endpoint. Also kill to ``lifecycle.started``. Targets: median <= 20 ms,
   p99 <= 60 ms, detection <= 5 ms.
2. Beside: bare ``multiprocessing`` process start (fork, forkserver with the runtime's modules
   preloaded, spawn) — start() until the child runs its first line and says so over a pipe —
   and Ray actor restart with max_restarts (Ray kept on 127.0.0.1), all in the same run.
3. RSS and PSS of ten idle actor processes, beside ten bare Python processes importing zmq.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_restart.py   (about 55 s on 2 cores)
Every process it starts is killed by pid at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu

KILLS = 120
MP_STARTS = 30
RAY_KILLS = 15
DEADLINE = 240.0
RUNTIME_PRELOAD = ["actors", "actors._host", "actors.examples", "messages", "zmq", "msgpack",
                   "pykka"]


class Events:
    """Lifecycle events from the node's PUB socket, stamped (perf_counter) on arrival by a
    thread that does nothing else."""

    def __init__(self, endpoint: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self._stop = False
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(endpoint, ready), daemon=True)
        self.thread.start()
        assert ready.wait(5)

    def _run(self, endpoint: str, ready: threading.Event) -> None:
        from actors import EventReader

        with EventReader(endpoint, "lifecycle.") as reader:  # confirmed: no slow-joiner gap
            ready.set()
            while not self._stop:
                event = reader.next(0.1)
                if event is not None:
                    at = time.perf_counter()
                    with self.cond:
                        self.events.append((at, event.body))
                        self.cond.notify_all()

    def wait(self, event: str, name: str, incarnation: int, timeout: float = 10.0) -> float | None:
        """Arrival time of that event (perf_counter), or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, e in self.events:
                    if (e.get("event"), e.get("name"), e.get("incarnation")) == \
                            (event, name, incarnation):
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)


def _child_ready(conn: Any) -> None:
    conn.send(time.perf_counter())
    conn.close()


def mp_starts(method: str, n: int, preload: list[str] | None = None) -> list[float]:
    """ms from Process.start() to the child's first line of user code (it sends over a pipe)."""
    ctx = multiprocessing.get_context(method)
    if preload is not None:
        ctx.set_forkserver_preload(preload)
    out = []
    for i in range(n + 1):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_child_ready, args=(w,))
        t0 = time.perf_counter()
        p.start()
        ran_at = r.recv()
        if i:  # the first one pays for starting the forkserver itself
            out.append((ran_at - t0) * 1000)
        p.join(5)
        r.close()
        w.close()
    return out


SETTLE = 0.1
"""Seconds between one restart and the next kill: faults 100 ms apart, not back to back
(a warm standby is forked when its predecessor starts and needs ~30 ms to be ready)."""


def crash_loop(conn: Any, events: Events, kills: int, *, ask_at_once: bool,
               time_left: Any) -> dict[str, list[float]]:
    from actors.examples import Count
    serve, detect, started = [], [], []
    for _ in range(kills):
        if time_left() < 30:
            break
        time.sleep(SETTLE)
        st = conn.status("chaos").actors[0]
        assert st.state == "running", st
        pid, inc = st.pid, st.incarnation
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        if not ask_at_once:
            events.wait("started", "chaos", inc + 1)
        reply = conn.ask_reply("chaos", Count(), timeout=5.0, retries=5)
        t_ok = time.perf_counter()
        assert reply.incarnation == inc + 1, (reply, inc)
        serve.append((t_ok - t0) * 1000)
        t_exit = events.wait("exited", "chaos", inc, timeout=5)
        t_start = events.wait("started", "chaos", inc + 1, timeout=5)
        if t_exit is not None:
            detect.append((t_exit - t0) * 1000)
        if t_start is not None:
            started.append((t_start - t0) * 1000)
    return {"serve": serve, "detect": detect, "started": started}


def ms_row(label: str, values: list[float], target: str = "", ok: bool | None = None) -> list[str]:
    if not values:
        return [label, "0", "", "", "", "", target, "not measured"]
    return [label, str(len(values)), f"{bu.median(values):.1f}", f"{bu.pct(values, 99):.1f}",
            f"{min(values):.1f}", f"{max(values):.1f}", target,
            "" if ok is None else ("PASS" if ok else "FAIL")]


def main() -> int:
    started = time.monotonic()
    time_left = lambda: DEADLINE - (time.monotonic() - started)  # noqa: E731

    from tests.nodes import start_node_process

    procs = bu.Procs()
    nodes: list[Any] = []
    out: list[str] = []
    watchdog = bu.watchdog("bench_restart", DEADLINE + 20, lambda: procs.stop_nodes(nodes))
    tmp = Path(tempfile.mkdtemp(prefix="bench-restart-"))
    try:
        # -- 1. crash to serving ------------------------------------------------------
        (tmp / "crash").mkdir()
        node = start_node_process(tmp / "crash", {"max_restarts": 100_000, "max_seconds": 1,
                                                  "children": [{"name": "echo", "actor": "echo"},
                                                               {"name": "chaos", "actor": "chaos",
                                                                "warm_standby": False}]})
        nodes.append(node)
        procs.pids |= node.descendants() | {node.pid}
        from actors import connect
        from actors.examples import Count
        conn = connect(node.endpoint)
        conn.ask("chaos", Count(), timeout=5.0)
        events = Events(conn.about().events)
        print(f"[{time.monotonic() - started:5.1f}s] {KILLS} kills, agent asks at once ...",
              flush=True)
        a = crash_loop(conn, events, KILLS, ask_at_once=True, time_left=time_left)
        print(f"[{time.monotonic() - started:5.1f}s] 30 kills, agent asks after "
              "lifecycle.started ...", flush=True)
        b = crash_loop(conn, events, 30, ask_at_once=False, time_left=time_left)
        restarts = conn.status("chaos").actors[0].incarnation - 1
        time.sleep(1.0)  # chaos idle since its last restart
        m_restarted = bu.memory(conn.status("chaos").actors[0].pid or 0)
        events.close()
        conn.close()
        procs.pids |= node.descendants()

        # the same with warm_standby: a forked host waits for the next incarnation
        print(f"[{time.monotonic() - started:5.1f}s] {KILLS} kills, warm_standby ...", flush=True)
        (tmp / "standby").mkdir()
        sb = start_node_process(tmp / "standby", {
            "max_restarts": 100_000, "max_seconds": 1,
            "children": [{"name": "chaos", "actor": "chaos"}]})  # warm_standby: the default
        nodes.append(sb)
        procs.pids |= sb.descendants() | {sb.pid}
        sconn = connect(sb.endpoint)
        sconn.ask("chaos", Count(), timeout=5.0)
        sevents = Events(sconn.about().events)
        d = crash_loop(sconn, sevents, KILLS, ask_at_once=True, time_left=time_left)
        restarts += sconn.status("chaos").actors[0].incarnation - 1
        sevents.close()
        sconn.close()
        procs.pids |= sb.descendants()

        # -- 2. baselines -------------------------------------------------------------
        print(f"[{time.monotonic() - started:5.1f}s] multiprocessing starts ...", flush=True)
        mp = {"fork": mp_starts("fork", MP_STARTS),
              "forkserver": mp_starts("forkserver", MP_STARTS, RUNTIME_PRELOAD),
              "spawn": mp_starts("spawn", MP_STARTS // 2)}
        procs.remember_descendants()  # the forkserver and resource tracker
        print(f"[{time.monotonic() - started:5.1f}s] ray restarts (child process) ...", flush=True)
        ray = bu.run_ray(procs, "ray-restart", RAY_KILLS, timeout=max(30.0, time_left() - 40))

        sv, dt = a["serve"], a["detect"]
        rows = [
            ms_row("no standby: SIGKILL → ask succeeds (agent asks at once, retries=5)", sv),
            ms_row("no standby: SIGKILL → lifecycle.exited on the PUB socket (detection)", dt,
                   "median ≤ 5", bu.median(dt) <= 5 if dt else None),
            ms_row("no standby: SIGKILL → lifecycle.started on the PUB socket", a["started"]),
            ms_row("no standby: SIGKILL → ask succeeds, asked after lifecycle.started",
                   b["serve"]),
            ms_row("default (warm_standby): SIGKILL → ask succeeds (asks at once, retries=5)",
                   d["serve"], "median ≤ 20", bu.median(d["serve"]) <= 20 if d["serve"] else None),
            ["  same, p99", "", "", "", "", "", "p99 ≤ 60",
             ("PASS" if bu.pct(d["serve"], 99) <= 60 else "FAIL") if d["serve"] else ""],
            ms_row("default (warm_standby): SIGKILL → lifecycle.exited (detection)", d["detect"],
                   "median ≤ 5", bu.median(d["detect"]) <= 5 if d["detect"] else None),
            ms_row("default (warm_standby): SIGKILL → lifecycle.started", d["started"]),
            ms_row("bare multiprocessing start: fork", mp["fork"]),
            ms_row("bare multiprocessing start: forkserver, runtime preloaded", mp["forkserver"]),
            ms_row("bare multiprocessing start: spawn", mp["spawn"]),
        ]
        if isinstance(ray, dict):
            rows.append(ms_row(f"Ray actor restart, max_restarts=-1 (node ip {ray['ip']})",
                               ray["restart_ms"]))
        else:
            rows.append(["Ray actor restart", "0", "", "", "", "", "", f"not measured: {ray}"])
        out.append(bu.table(f"1-2. Crash to serving (ms; {restarts} restarts of chaos in this run; "
                            "a bare start is start() → child's first line)",
                            ["", "n", "median", "p99", "min", "max", "target", ""], rows))
        print(out[-1], flush=True)

        # -- 3. memory of ten idle actors ---------------------------------------------
        print(f"[{time.monotonic() - started:5.1f}s] ten idle actors ...", flush=True)
        (tmp / "ten").mkdir()
        ten = start_node_process(tmp / "ten", {"children": [
            {"name": f"echo{i}", "actor": "echo"} for i in range(10)]})
        nodes.append(ten)
        procs.pids |= ten.descendants() | {ten.pid}
        bare = [procs.popen([bu.PY, str(Path(__file__).parent / "_bench_util.py"), "idle-zmq"],
                            stdout=subprocess.PIPE, text=True) for _ in range(10)]
        for p in bare:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        with connect(ten.endpoint) as c10:
            pids = [s.pid for s in c10.status().actors if s.name.startswith("echo")]
        time.sleep(1.0)
        m_act = [bu.memory(p) for p in pids if p]
        m_bare = [bu.memory(p.pid) for p in bare]
        import psutil
        fs = [p.pid for p in psutil.Process(ten.pid).children()
              if "forkserver" in " ".join(p.cmdline())]
        m_fs = [bu.memory(p) for p in fs]
        standby_pids = [p.pid for p in psutil.Process(fs[0]).children()
                        if p.pid not in pids] if fs else []
        m_standby = [bu.memory(p) for p in standby_pids]

        def mrow(label: str, ms: list[dict[str, float]]) -> list[str]:
            return [label, str(len(ms)), f"{sum(m['rss'] for m in ms):.1f}",
                    f"{sum(m['pss'] for m in ms):.1f}", f"{sum(m['uss'] for m in ms):.1f}",
                    f"{bu.median([m['pss'] for m in ms]):.1f}"]
        rows = [mrow("ten idle echo actor processes (forkserver children)", m_act),
                mrow("ten bare python -c 'import zmq' (baseline)", m_bare)]
        if m_fs:
            rows.append(mrow("(the node's forkserver, which shares its pages with them)", m_fs))
        if m_standby:
            rows.append(mrow("their warm standbys (one waiting host per actor, the default)",
                             m_standby))
        rows.append(mrow("one restarted idle chaos actor", [m_restarted]))
        out.append(bu.table("3. Memory of ten idle actor processes (MiB; psutil memory_full_info)",
                            ["", "processes", "RSS total", "PSS total", "USS total",
                             "PSS median each"], rows))
        print(out[-1], flush=True)
    finally:
        killed = procs.stop_nodes(nodes)
        watchdog.cancel()
    print(f"\nbench_restart: {time.monotonic() - started:.1f} s; cleaned up {len(procs.pids)} "
          f"processes; SIGKILLed at the end (by pid): {killed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
