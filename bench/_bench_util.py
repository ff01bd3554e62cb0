"""Shared helpers of the benches: process bookkeeping (every process a bench starts is
killed by pid at the end, a watchdog for a bench that hangs), baselines run as separate processes, statistics,
and table printing.

This module imports only the standard library at the top, so that ``spawn`` children that
re-import it stay bare.

Run as a script it serves the baselines:
    python bench/_bench_util.py raw-server PORT [KEY]  msgpack ROUTER echo (the raw pyzmq floor);
                                                       with KEY (a .key_secret file) a CURVE server
    python bench/_bench_util.py idle-zmq               a bare Python process that imports zmq
    python bench/_bench_util.py ray-core N             Ray actor-call figures as one JSON line
    python bench/_bench_util.py ray-restart KILLS      Ray actor restart figures as one JSON line
    python bench/_bench_util.py node-preload-main ARGS run_node.py ARGS, with "__main__" added to
                                                       the forkserver preload (diagnostic only)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


# -- process bookkeeping -------------------------------------------------------------------
class Procs:
    """Every process a bench started (and their descendants, seen while alive); killed by pid."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.popens: list[subprocess.Popen[Any]] = []

    def popen(self, args: list[str], **kw: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(args, cwd=ROOT, **kw)
        self.popens.append(proc)
        self.pids.add(proc.pid)
        return proc

    def remember_descendants(self, pid: int | None = None) -> None:
        import psutil
        roots = [pid] if pid is not None else [os.getpid()]
        for root in roots:
            with contextlib.suppress(psutil.NoSuchProcess):
                self.pids |= {p.pid for p in psutil.Process(root).children(recursive=True)}

    def cleanup(self) -> list[str]:
        """SIGKILL every remembered pid still alive; reap our children. Returns the killed ones
        as "pid what" strings."""
        import psutil
        killed = []
        for pid in sorted(self.pids):
            try:
                p = psutil.Process(pid)
                if p.status() == psutil.STATUS_ZOMBIE:
                    continue
                what = " ".join(p.cmdline()[1:3])[-50:]
                os.kill(pid, signal.SIGKILL)
                killed.append(f"{pid} {what}")
            except (psutil.NoSuchProcess, ProcessLookupError):
                pass
        for proc in self.popens:
            with contextlib.suppress(Exception):
                proc.wait(5)
        return killed

    def stop_nodes(self, nodes: Iterable[Any]) -> list[str]:
        """Stop each node started so far (None: not yet), remembering its descendants
        first, then :meth:`cleanup`. Returns what had to be SIGKILLed."""
        for node in nodes:
            if node is not None:
                self.pids |= node.descendants()
                node.stop()
        return self.cleanup()


def watchdog(bench: str, seconds: float, cleanup: Callable[[], object]) -> threading.Timer:
    """A started daemon timer: past ``seconds``, say so, run ``cleanup`` and exit 2, so
    that a hung bench leaves no process behind. Cancel it when the bench ends."""
    def expire() -> None:
        print(f"{bench}: deadline passed; cleaning up", flush=True)
        cleanup()
        os._exit(2)
    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of one process in MiB."""
    import psutil
    m = psutil.Process(pid).memory_full_info()
    mib = 1024 * 1024
    return {"rss": m.rss / mib, "pss": m.pss / mib, "uss": m.uss / mib}


# -- statistics and tables -----------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def best_per_call(fn: Callable[[], object], n: int, *, repeats: int, warmup: bool = False) -> float:
    """Seconds per call of ``fn``: the best mean of ``repeats`` rounds of ``n`` calls (the
    machine is shared: take the quietest round); with ``warmup``, one call first."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (pastes into RESULTS.md as is)."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    out = [f"\n{title}\n", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


# -- raw pyzmq baseline server ------------------------------------------------------------
def raw_server(port: int, key: str | None = None) -> None:
    """ROUTER that decodes each msgpack request and replies with a msgpack map, like an actor
    (decode, build a reply, encode). Requests of kind "tell" only count; a "count" ask
    returns the count. With ``key`` (a secret key file) it is a CURVE server that takes any
    client key (no ZAP handler): the cost of the encryption alone."""
    import msgpack
    import zmq
    import zmq.auth
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.rcvhwm = sock.sndhwm = 100_000
    if key is not None:
        sock.curve_publickey, sock.curve_secretkey = zmq.auth.load_certificate(key)
        sock.curve_server = True
    sock.bind(f"tcp://127.0.0.1:{port}")
    count = 0
    ppid = os.getppid()
    packb, unpackb = msgpack.packb, msgpack.unpackb
    while True:
        if not sock.poll(1000):
            if os.getppid() != ppid:
                return
            continue
        route, payload = sock.recv_multipart()
        req = unpackb(payload, raw=False)
        kind = req["k"]
        if kind == "tell":
            count += 1
            continue
        body = count if req["t"] == "count" else req["b"]
        sock.send_multipart([route, packb({"v": 1, "k": "reply", "id": req["id"], "t": "pong",
                                           "b": body}, use_bin_type=True)])


def raw_request(id_: int, kind: str = "ask", type_: str = "echo.ping") -> bytes:
    """A request about the size and shape of an actor ask envelope."""
    import msgpack
    return msgpack.packb({"v": 1, "k": kind, "id": id_, "to": "echo", "t": type_,
                          "b": {"n": id_, "text": ""}, "dl": time.time() + 5.0},
                         use_bin_type=True)


# -- a node whose forkserver also preloads __main__ (diagnostic) --------------------------
def start_node_preload_main(tmp: Path, config: dict[str, Any]) -> Any:
    """As tests.nodes.start_node_process, but the node runs through ``node-preload-main``:
    its forkserver preloads ``__main__`` (this light module), so actor hosts do not re-import
    run_node.py and the supervisor package as ``__mp_main__`` at every start."""
    from tests.nodes import READY_TIMEOUT, RunningNode, _read_line
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    data_dir = tmp / "data"
    path = tmp / "node.json"
    path.write_text(json.dumps({"data_dir": str(data_dir), **config}))
    log = tmp / "node.log"
    env = {**os.environ, "AGENTCELL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as log_file:
        proc = subprocess.Popen([PY, str(Path(__file__)), "node-preload-main", "--endpoint",
                                 endpoint, "--config", str(path)], stdout=subprocess.PIPE,
                                stderr=log_file, text=True, cwd=ROOT, env=env)
    node = RunningNode(proc, endpoint, data_dir, log)
    line = _read_line(proc, READY_TIMEOUT)
    if "ready at" not in line:
        node.stop()
        raise RuntimeError(f"node did not get ready: {line!r}; log:\n{log.read_text()[-2000:]}")
    node.descendants()
    return node


# -- Ray, isolated in a child process ----------------------------------------------------
def _ray_init() -> Any:
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, logging_level="ERROR")
    ip = ray.util.get_node_ip_address()
    if ip != "127.0.0.1":
        ray.shutdown()
        raise SystemExit(f"Ray advertises {ip}, not 127.0.0.1: not measured")
    return ray


def ray_core(n: int) -> dict[str, Any]:
    ray = _ray_init()
    try:
        @ray.remote
        class Echo:
            def ping(self, n: int) -> int:
                return n

        a = Echo.remote()  # type: ignore[attr-defined]
        for i in range(200):
            ray.get(a.ping.remote(i))
        t0 = time.perf_counter()
        for i in range(n):
            ray.get(a.ping.remote(i))
        rt = n / (time.perf_counter() - t0)
        # 100 in flight: a window of 100 outstanding calls
        total = n * 2
        t0 = time.perf_counter()
        window = [a.ping.remote(i) for i in range(100)]
        sent = 100
        done = 0
        while done < total:
            ready, window = ray.wait(window, num_returns=1)
            done += len(ready)
            if sent < total:
                window.append(a.ping.remote(sent))
                sent += 1
        pipelined = total / (time.perf_counter() - t0)
        return {"ip": ray.util.get_node_ip_address(), "roundtrip": rt, "pipelined100": pipelined}
    finally:
        ray.shutdown()


def ray_restart(kills: int) -> dict[str, Any]:
    ray = _ray_init()
    try:
        @ray.remote(max_restarts=-1, max_task_retries=-1)
        class Victim:
            def pid(self) -> int:
                return os.getpid()

        a = Victim.remote()  # type: ignore[attr-defined]
        lat = []
        deadline = time.monotonic() + 60
        for _ in range(kills):
            if time.monotonic() > deadline:
                break
            pid = ray.get(a.pid.remote())
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            new = ray.get(a.pid.remote(), timeout=30)
            assert new != pid
            lat.append((time.perf_counter() - t0) * 1000)
        return {"ip": ray.util.get_node_ip_address(), "restart_ms": lat}
    finally:
        ray.shutdown()


def run_ray(procs: Procs, mode: str, arg: int, timeout: float) -> dict[str, Any] | str:
    """Run a Ray measurement in a child process; its JSON result, or why it was not measured."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed"
    proc = procs.popen([PY, str(Path(__file__)), mode, str(arg)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    out = err = ""
    while time.monotonic() < deadline:
        procs.remember_descendants(proc.pid)  # ray's gcs, raylet and workers, to kill later
        try:
            out, err = proc.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        procs.remember_descendants(proc.pid)
        return f"ray did not finish within {timeout:.0f} s"
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return f"ray failed (exit {proc.returncode}): {(err or out).strip().splitlines()[-1:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    mode = sys.argv[1]
    if mode == "raw-server":
        raw_server(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    elif mode == "idle-zmq":
        import zmq  # noqa: F401
        print("ready", flush=True)
        ppid = os.getppid()
        while os.getppid() == ppid:
            time.sleep(0.5)
    elif mode == "node-preload-main":
        sys.path.insert(0, str(ROOT))
        import supervisor._process as sp
        sp.PRELOAD = ("__main__", *sp.PRELOAD)  # type: ignore[misc]
        import run_node
        sys.exit(run_node.main(sys.argv[2:]))
    elif mode == "ray-core":
        print(json.dumps(ray_core(int(sys.argv[2]))), flush=True)
    elif mode == "ray-restart":
        print(json.dumps(ray_restart(int(sys.argv[2]))), flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
