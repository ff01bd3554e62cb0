"""What CurveZMQ costs (issue 12): each figure with CURVE beside the same without, one run.

Two nodes run echo on loopback, one plain and one with ``security`` (keys written by
``actors.write_keys``); an agent asks each with the sync client (one ask in flight, and
``ask_many`` with 100 in flight) and the asyncio client (100 tasks), the secured one with an
agent key. Beside them, raw pyzmq DEALER<->ROUTER msgpack echo with and without CURVE: the
encryption's own cost, with no runtime around it. Rounds are interleaved (order reversed
every other round) so that load from other processes falls on both alike; ratios are the
median of per-round ratios, and best against best; the client's CPU per ask, which load
elsewhere hardly moves, is the median over the rounds. Target: one ask in flight with
CURVE >= 0.85x plain (both ratios).

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_curve.py   (about a minute on 2 cores)
Every process it starts is killed by pid at the end.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu
from bench_core import RawClient, ours_async_pipelined

ROUNDS = 21         # interleaved rounds of the one-in-flight measurement
RT_N = 1500         # asks per round
PIPE_ROUNDS = 7
PIPE_N = 5000       # asks per pipelined round
WINDOW = 100
TARGET = 0.85
DEADLINE = 240.0    # the whole bench gives up (and cleans up) past this


def measured(fns: dict[str, Any], n: int, rounds: int,
             servers: dict[str, int]) -> dict[str, dict[str, list[float]]]:
    """Per fn and round, interleaved (order reversed every other round, so that load from
    other processes falls on all alike): the rate (/s), and the CPU µs per message of this
    process and of the server process ``servers[fn]`` — which load elsewhere hardly moves."""
    import psutil

    got: dict[str, dict[str, list[float]]] = {k: {"rate": [], "cpu": [], "server": []} for k in fns}
    order = list(fns)
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):
            server = psutil.Process(servers[k])
            s0, c0, t0 = server.cpu_times(), time.process_time(), time.perf_counter()
            fns[k]()
            t1, c1, s1 = time.perf_counter(), time.process_time(), server.cpu_times()
            got[k]["rate"].append(n / (t1 - t0))
            got[k]["cpu"].append((c1 - c0) * 1e6 / n)
            got[k]["server"].append((s1.user + s1.system - s0.user - s0.system) * 1e6 / n)
    return got


def row(res: dict[str, dict[str, list[float]]], key: str, base: str) -> list[str]:
    """median rate, best rate, paired median ratio, best/best ratio, median CPU µs of the
    client and of the server."""
    rates, baseline = res[key]["rate"], res[base]["rate"]
    paired = bu.median([a / b for a, b in zip(rates, baseline, strict=True)])
    return [f"{bu.median(rates):,.0f}", f"{max(rates):,.0f}", f"{paired:.0%}",
            f"{max(rates) / max(baseline):.0%}", f"{bu.median(res[key]['cpu']):.0f}",
            f"{bu.median(res[key]['server']):.0f}"]


COLUMNS = ["", "median /s", "best /s", "vs plain (paired median)", "vs plain (best/best)",
           "client CPU µs", "server CPU µs"]


def main() -> int:
    started = time.monotonic()
    from actors import ClientKeys, connect, write_keys
    from actors.examples import Ping
    from tests.nodes import start_node_process

    procs = bu.Procs()
    nodes: list[Any] = []
    watchdog = bu.watchdog("bench_curve", DEADLINE, lambda: procs.stop_nodes(nodes))
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
        echo_pid = {k: int(c.status("echo").actors[0].pid or 0) for k, c in conns.items()}
        servers = {"plain": echo_pid["plain"], "curve": echo_pid["curve"],
                   "raw_plain": procs.popens[0].pid, "raw_curve": procs.popens[1].pid}
        one = measured({"plain": lambda: rt(conns["plain"]), "curve": lambda: rt(conns["curve"]),
                        "raw_plain": lambda: raw["raw_plain"].roundtrip(RT_N),
                        "raw_curve": lambda: raw["raw_curve"].roundtrip(RT_N)}, RT_N, ROUNDS,
                       servers)
        ratio = bu.median([a / b for a, b in zip(one["curve"]["rate"], one["plain"]["rate"],
                                                 strict=True)])
        best = max(one["curve"]["rate"]) / max(one["plain"]["rate"])
        verdict = "PASS" if min(ratio, best) >= TARGET else "FAIL"
        rows = [["agent → echo, plain (conn.ask)", *row(one, "plain", "plain"), "baseline"],
                ["agent → echo, CURVE, agent key (conn.ask)", *row(one, "curve", "plain"),
                 f"≥ {TARGET:.0%} {verdict}"],
                ["raw pyzmq DEALER↔ROUTER + msgpack, plain", *row(one, "raw_plain", "raw_plain"),
                 "baseline"],
                ["raw pyzmq DEALER↔ROUTER + msgpack, CURVE", *row(one, "raw_curve", "raw_plain"), ""]]
        print(bu.table(f"1. One ask in flight (round trips/s over {ROUNDS} interleaved rounds x "
                       f"{RT_N}; CURVE vs plain per round, then the median, and best vs best; "
                       "CPU µs per round trip of the client and of the server process, median "
                       "over the rounds)",
                       [*COLUMNS, "target"], rows), flush=True)

        print(f"[{time.monotonic() - started:5.1f}s] pipelined ...", flush=True)
        msgs = [Ping(i) for i in range(PIPE_N)]
        pipe = measured({
            "many_plain": lambda: conns["plain"].ask_many("echo", msgs, window=WINDOW, timeout=60.0),
            "many_curve": lambda: conns["curve"].ask_many("echo", msgs, window=WINDOW, timeout=60.0),
            "async_plain": lambda: asyncio.run(ours_async_pipelined(nodes[0].endpoint, PIPE_N)),
            "async_curve": lambda: asyncio.run(ours_async_pipelined(nodes[1].endpoint, PIPE_N, **agent)),
            "raw_plain": lambda: raw["raw_plain"].pipelined(PIPE_N),
            "raw_curve": lambda: raw["raw_curve"].pipelined(PIPE_N),
        }, PIPE_N, PIPE_ROUNDS, {f"{how}_{kind}": servers[kind if how != "raw" else f"raw_{kind}"]
                                  for how in ("many", "async", "raw") for kind in ("plain", "curve")})
        rows = []
        for label, plain, curve in (("conn.ask_many, window of 100", "many_plain", "many_curve"),
                                    ("connect_async, 100 tasks", "async_plain", "async_curve"),
                                    ("raw pyzmq, window of 100", "raw_plain", "raw_curve")):
            rows.append([f"{label}: plain", *row(pipe, plain, plain)])
            rows.append([f"{label}: CURVE", *row(pipe, curve, plain)])
        print(bu.table(f"2. 100 asks in flight (asks/s over {PIPE_ROUNDS} interleaved rounds x "
                       f"{PIPE_N:,}; columns as above)", COLUMNS, rows), flush=True)
        for client in raw.values():
            client.close()
        for conn in conns.values():
            conn.close()
    finally:
        leftovers = procs.stop_nodes(nodes)
        watchdog.cancel()
    print(f"\nbench_curve: {time.monotonic() - started:.1f} s; SIGKILLed at the end (by pid): "
          f"{leftovers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
