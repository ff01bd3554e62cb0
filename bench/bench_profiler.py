"""Profiler benchmarks, each figure beside its baseline measured in the same run.

1. Cost of one recorded sample in the caller: Recorder.record vs prometheus_client
   Histogram.observe and hdrhistogram record_value (target: <= 2x observe).
2. profiled() overhead on an ask round trip to a real node's echo actor (target: <= 5 %).
3. Bottleneck detection latency on a real node: from the moment an op starts taking
   200 ms (its first slow call completes 200 ms later) to the profiler.bottleneck event
   reaching a subscriber (target: p99 <= 1 s; the specification claims < 5 s).

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_profiler.py   (about 40 s)
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.profiler import Recorder, connection_sink, profiled  # noqa: E402
from tests.nodes import start_node_process  # noqa: E402

N = 300_000
REPEATS = 7


def best_ns(fns, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Best of REPEATS runs of each fn(), interleaved so noise hits all alike; ns per item."""
    best = [float("inf")] * len(fns)
    for _ in range(REPEATS):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter_ns()
            fn()
            best[k] = min(best[k], (time.perf_counter_ns() - t0) / n)
    return best


def bench_record() -> None:
    from hdrh.histogram import HdrHistogram
    from prometheus_client import CollectorRegistry
    from prometheus_client import Histogram as PromHistogram

    rng = random.Random(1)
    values = [rng.lognormvariate(-5, 1.5) for _ in range(N)]
    micros = [int(v * 1e6) + 1 for v in values]
    recorder = Recorder(lambda batch: None, flush_interval=0.25)  # ships batches, as in use
    prom = PromHistogram("op_seconds", "bench", registry=CollectorRegistry())
    hdr = HdrHistogram(1, 3_600_000_000, 2)
    record, observe, record_value = recorder.record, prom.observe, hdr.record_value

    def ours() -> None:
        for v in values:
            record("db.query", v)

    def prometheus() -> None:
        for v in values:
            observe(v)

    def hdrh() -> None:
        for v in micros:
            record_value(v)

    def loop() -> None:
        for _v in values:
            pass

    empty, ns_ours, ns_prom, ns_hdr = best_ns([loop, ours, prometheus, hdrh], N)
    recorder.close()
    print("1. cost of one recorded sample in the caller (best of 7 x 300k, loop overhead "
          f"{empty:.0f} ns included in each)")
    print(f"   Recorder.record            {ns_ours:7.0f} ns/sample")
    print(f"   prometheus Histogram.observe {ns_prom:5.0f} ns/sample   ratio ours/prometheus = "
          f"{ns_ours / ns_prom:.2f}  (target <= 2.00)")
    print(f"   hdrhistogram record_value  {ns_hdr:7.0f} ns/sample   ratio ours/hdrhistogram = "
          f"{ns_ours / ns_hdr:.2f}")

    p = profiled("fn", recorder=Recorder(None, background=False, max_pending=10**9))

    def bare() -> None:
        return None

    wrapped = p(bare)
    n = N // 3

    def call_bare() -> None:
        for _ in range(n):
            bare()

    def call_wrapped() -> None:
        for _ in range(n):
            wrapped()

    def call_with() -> None:
        for _ in range(n):
            with p:
                pass

    b, w, c = best_ns([call_bare, call_wrapped, call_with], n)
    print(f"   @profiled call             {w:7.0f} ns/call  (bare call {b:.0f} ns: +{w - b:.0f} ns)")
    print(f"   with profiled(...)         {c:7.0f} ns/block")


def bench_ask_overhead(tmp: Path) -> None:
    (tmp / "ask").mkdir()
    node = start_node_process(tmp / "ask", {"children": [{"name": "echo", "actor": "echo"}]})
    try:
        with node.connect() as conn:
            recorder = Recorder(lambda batch: None, flush_interval=0.25)
            timed = profiled("echo.ping", recorder=recorder)
            pairs = 10_000
            for _ in range(500):
                conn.ask("echo", "echo.ping", {"n": 1})
            bare_runs, prof_runs = [], []
            clock = time.perf_counter
            for i in range(2 * pairs):  # alternate ask by ask, so drift and noise hit both alike
                if i % 2:
                    t0 = clock()
                    conn.ask("echo", "echo.ping", {"n": 1})
                    bare_runs.append(clock() - t0)
                else:
                    t0 = clock()
                    with timed:
                        conn.ask("echo", "echo.ping", {"n": 1})
                    prof_runs.append(clock() - t0)
            recorder.close()
    finally:
        node.stop()
    bare, prof = statistics.median(bare_runs), statistics.median(prof_runs)
    print("2. ask round trip to echo on a real node (median of 10k asks each, alternating ask by ask)")
    print(f"   bare ask                   {bare * 1e6:7.1f} us")
    print(f"   ask inside profiled(...)   {prof * 1e6:7.1f} us   ratio = {prof / bare:.3f}  "
          f"(overhead {100 * (prof / bare - 1):+.1f} %, target <= +5 %)")


def bench_detection(tmp: Path) -> None:
    ops = [f"svc{i}.call" for i in range(20)]
    settings = {"windows": [2.0, 20.0], "jump_factor": 3.0, "min_samples": 20, "share": 0.99,
                "default_threshold": 0.1}
    (tmp / "detect").mkdir()
    node = start_node_process(tmp / "detect", {"children": [
        {"name": "profiler", "actor": "actors.profiler:ProfilerActor", "settings": settings}]})
    first: dict[tuple[str, str], float] = {}
    stop = threading.Event()
    try:
        with node.connect() as conn:
            subscribed = threading.Event()

            def listen() -> None:
                with conn.subscribe("profiler.bottleneck") as reader:
                    subscribed.set()
                    while not stop.is_set():
                        event = reader.next(0.05)
                        if event is not None and event.body["state"] == "raised":
                            first.setdefault((event.body["op"], event.body["kind"]), time.monotonic())

            listener = threading.Thread(target=listen)
            listener.start()
            subscribed.wait(5)
            recorder = Recorder(connection_sink(conn))  # default flush interval 0.25 s
            start = time.monotonic()
            rng = random.Random(3)
            slow_at = {op: start + 6.0 + rng.uniform(0, 6) for op in ops}  # after 6 s of calm
            end = max(slow_at.values()) + 3.0
            tick = threading.Event()
            while (now := time.monotonic()) < end:
                for op in ops:  # 100 calls/s per op; a slow call completes 200 ms after the switch
                    slow = now >= slow_at[op] + 0.2
                    recorder.record(op, rng.uniform(0.18, 0.22) if slow else rng.uniform(0.004, 0.006))
                tick.wait(0.01)
            recorder.close()
            stop.set()
            listener.join()
    finally:
        node.stop()
    print("3. bottleneck detection latency on a real node: op switches from 5 ms to 200 ms ->")
    print("   profiler.bottleneck event at a subscriber (20 ops x 100 calls/s, recorder flush 0.25 s,")
    print("   windows 2 s / 20 s, threshold 100 ms, jump factor 3; includes the 200 ms slow call)")
    for kind in ("threshold", "jump"):
        lat = sorted(first[(op, kind)] - slow_at[op] for op in ops if (op, kind) in first)
        missed = len(ops) - len(lat)
        if not lat:
            print(f"   {kind:<9} no alert received ({missed} missed)")
            continue
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        print(f"   {kind:<9} n={len(lat):2d} missed={missed} p50 {statistics.median(lat):.3f} s  "
              f"p99 {p99:.3f} s  max {lat[-1]:.3f} s   p99/target(1 s) = {p99:.2f}, "
              f"p99/spec claim(5 s) = {p99 / 5:.2f}")
    early = [k for k, t in first.items() if k[0] in slow_at and t < slow_at[k[0]]]
    print(f"   false alarms before the slowdown: {len(early)}")


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    bench_record()
    with tempfile.TemporaryDirectory() as tmp:
        bench_ask_overhead(Path(tmp))
        bench_detection(Path(tmp))


if __name__ == "__main__":
    main()
