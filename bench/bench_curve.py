"""What CurveZMQ costs (issue 12): each figure with CURVE beside the same without, one run.

Two nodes run echo on loopback, one plain and one with ``security`` (keys written by
``actors.write_keys``); an agent asks each with the sync client (one ask in flight, and
``ask_many`` with 100 in flight) and the asyncio client (100 tasks), the secured one with an
agent key. Beside them, raw pyzmq DEALER<->ROUTER msgpack echo with and without CURVE: the
encryption's own cost, with no runtime around it. Rounds are interleaved (order reversed
every other round) so that load from other processes falls on both alike; ratios are the
median of per-round ratios. Target: one ask in flight with CURVE >= 0.85x plain.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_curve.py   (about a minute on 2 cores)
Every process it starts is killed by pid at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu
from bench_core import RawClient, best_and_median, cpu_us, ours_async_pipelined, paired

ROUNDS = 11         # interleaved rounds of the one-in-flight measurement
RT_N = 1000         # asks per round
PIPE_ROUNDS = 5
PIPE_N = 5000       # asks per pipelined round
WINDOW = 100
TARGET = 0.85
DEADLINE = 240.0    # the whole bench gives up (and cleans up) past this


def main() -> int:
    started = time.monotonic()
    from actors import ClientKeys, connect, write_keys
    from actors.examples import Ping
    from tests.nodes import start_node_process

    procs = bu.Procs()
    nodes: list[Any] = []
    watchdog = threading.Timer(DEADLINE, lambda: (print("bench_curve: deadline passed; cleaning "
                                                        "up", flush=True), _cleanup(procs, nodes),
                                                  os._exit(2)))
    watchdog.daemon = True
    watchdog.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-curve-"))
    try:
        write_keys(tmp / "keys", agents=["bench"])
        agent = {"client_key": str(tmp / "keys" / "clients" / "bench.key_secret"),
                 "node_key": str(tmp / "keys" / "node.key")}
        echo = {"children": [{"name": "echo", "actor": "echo"}]}
        (tmp / "plain").mkdir()
        (tmp / "curve").mkdir()
        nodes.append(start_node_process(tmp / "plain", echo))
        nodes.append(start_node_process(tmp / "curve", {**echo, "security": {"keys": str(tmp / "keys")}}))
        for node in nodes:
            procs.pids |= node.descendants() | {node.pid}
        plain_port, curve_port = bu.free_port(), bu.free_port()
        procs.popen([bu.PY, str(Path(__file__).parent / "_bench_util.py"), "raw-server", str(plain_port)])
        procs.popen([bu.PY, str(Path(__file__).parent / "_bench_util.py"), "raw-server", str(curve_port),
                     str(tmp / "keys" / "node.key_secret")])
        bu.wait_port(plain_port)
        bu.wait_port(curve_port)
        keys = ClientKeys.resolve(**agent, env={})
        assert keys is not None
        raw = {"raw_plain": RawClient(plain_port),
               "raw_curve": RawClient(curve_port, (keys.server, keys.public, keys.secret))}
        conns = {"plain": connect(nodes[0].endpoint), "curve": connect(nodes[1].endpoint, **agent)}
        for conn in conns.values():
            for i in range(300):
                conn.ask("echo", Ping(i), timeout=5.0)
        for client in raw.values():
            client.roundtrip(300)

        def rt(conn: Any, n: int = RT_N) -> None:
            ask = conn.ask
            for i in range(n):
                ask("echo", Ping(i), timeout=5.0)

        print(f"[{time.monotonic() - started:5.1f}s] round trips ...", flush=True)
        one = best_and_median({"plain": lambda: rt(conns["plain"]), "curve": lambda: rt(conns["curve"]),
                               "raw_plain": lambda: raw["raw_plain"].roundtrip(RT_N),
                               "raw_curve": lambda: raw["raw_curve"].roundtrip(RT_N)}, RT_N, ROUNDS)
        echo_pid = {k: c.status("echo").actors[0].pid for k, c in conns.items()}
        raw_pid = {"raw_plain": procs.popens[0].pid, "raw_curve": procs.popens[1].pid}
        cpu = {k: cpu_us(3000, lambda k=k: rt(conns[k], 3000), echo_pid[k]) for k in conns}
        cpu |= {k: cpu_us(3000, lambda k=k: raw[k].roundtrip(3000), raw_pid[k]) for k in raw}
        ratio, raw_ratio = paired(one, "curve", "plain"), paired(one, "raw_curve", "raw_plain")
        rows = [
            ["agent → echo, plain (conn.ask)", *_fig(one, "plain"), "100%", *_cpu(cpu, "plain"), "baseline", ""],
            ["agent → echo, CURVE, agent key (conn.ask)", *_fig(one, "curve"), f"{ratio:.0%}",
             *_cpu(cpu, "curve"), f"≥ {TARGET:.0%}", "PASS" if ratio >= TARGET else "FAIL"],
            ["raw pyzmq DEALER↔ROUTER + msgpack, plain", *_fig(one, "raw_plain"), "100%",
             *_cpu(cpu, "raw_plain"), "baseline", ""],
            ["raw pyzmq DEALER↔ROUTER + msgpack, CURVE", *_fig(one, "raw_curve"), f"{raw_ratio:.0%}",
             *_cpu(cpu, "raw_curve"), "", ""],
        ]
        print(bu.table(f"1. One ask in flight (round trips/s; median and best of {ROUNDS} interleaved "
                       f"rounds x {RT_N}; CURVE vs plain as the paired median; CPU µs per round trip "
                       "over 3000 more, client and server process)",
                       ["", "median /s", "best /s", "vs plain", "client CPU µs", "server CPU µs",
                        "target", ""], rows), flush=True)

        print(f"[{time.monotonic() - started:5.1f}s] pipelined ...", flush=True)
        msgs = [Ping(i) for i in range(PIPE_N)]
        pipe = best_and_median({
            "many_plain": lambda: conns["plain"].ask_many("echo", msgs, window=WINDOW, timeout=60.0),
            "many_curve": lambda: conns["curve"].ask_many("echo", msgs, window=WINDOW, timeout=60.0),
            "async_plain": lambda: asyncio.run(ours_async_pipelined(nodes[0].endpoint, PIPE_N)),
            "async_curve": lambda: asyncio.run(ours_async_pipelined(nodes[1].endpoint, PIPE_N, **agent)),
            "raw_plain": lambda: raw["raw_plain"].pipelined(PIPE_N),
            "raw_curve": lambda: raw["raw_curve"].pipelined(PIPE_N),
        }, PIPE_N, PIPE_ROUNDS)
        rows = []
        for label, plain, curve in (("conn.ask_many, window of 100", "many_plain", "many_curve"),
                                    ("connect_async, 100 tasks", "async_plain", "async_curve"),
                                    ("raw pyzmq, window of 100", "raw_plain", "raw_curve")):
            rows.append([f"{label}: plain", *_fig(pipe, plain), "100%"])
            rows.append([f"{label}: CURVE", *_fig(pipe, curve), f"{paired(pipe, curve, plain):.0%}"])
        print(bu.table(f"2. 100 asks in flight (asks/s; median and best of {PIPE_ROUNDS} interleaved "
                       f"rounds x {PIPE_N:,}; CURVE vs plain as the paired median)",
                       ["", "median /s", "best /s", "vs plain"], rows), flush=True)
        for client in raw.values():
            client.close()
        for conn in conns.values():
            conn.close()
    finally:
        leftovers = _cleanup(procs, nodes)
        watchdog.cancel()
    print(f"\nbench_curve: {time.monotonic() - started:.1f} s; SIGKILLed at the end (by pid): "
          f"{leftovers}")
    return 0


def _fig(res: dict[str, Any], key: str) -> list[str]:
    return [f"{res[key][0]:,.0f}", f"{res[key][1]:,.0f}"]


def _cpu(cpu: dict[str, tuple[float, float]], key: str) -> list[str]:
    return [f"{cpu[key][0]:.0f}", f"{cpu[key][1]:.0f}"]


def _cleanup(procs: bu.Procs, nodes: list[Any]) -> list[str]:
    for node in nodes:
        procs.pids |= node.descendants()
        node.stop()
    return procs.cleanup()


if __name__ == "__main__":
    sys.exit(main())
