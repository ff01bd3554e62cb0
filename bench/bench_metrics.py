"""What Prometheus scraping costs a node: scrape time, and the ask round trip under scrapes.

One node with 50 actors (profiler, health, breaker, pool, metrics and 45 echo actors) and a
profiler holding 200 operations:

1. Scrape time: ``GET /metrics`` (every source read, every family built, the text sent),
   median and p90 over ``--scrapes`` scrapes, beside its baseline in the same run: one
   ``node.status`` ask, the cheapest read of the node there is.
2. Ask round trip (``echo.ping``, one agent thread) in blocks that alternate between no
   scraper and a scraper process GETting ``/metrics`` every second; each scraped block's
   mean is divided by the mean of the plain blocks beside it, and the median of those
   ratios is the figure (target: within 2 %), with the ratio of the overall means.

Run: ``PYTHONPATH=. python bench/bench_metrics.py [--blocks 10] [--seconds 3] [--scrapes 30]
[--nice 10]`` (``--nice 0``: the exporter at the actors' priority).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_util import PY, ROOT, Procs, free_port

from actors import Connection, connect
from actors.examples import Ping
from actors.profiler import Recorder, connection_sink

ECHOES = 45
OPS = 200


def start_node(procs: Procs, tmp: Path, port: int, nice: int) -> str:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    children = [{"name": n, "actor": n, "warm_standby": False}
                for n in ("profiler", "health", "breaker", "pool")]
    children += [{"name": f"echo{i}", "actor": "echo", "warm_standby": False} for i in range(ECHOES)]
    config = {"data_dir": str(tmp / "data"), "children": children,
              "metrics": {"port": port, "nice": nice}}
    (tmp / "node.json").write_text(json.dumps(config))
    proc = procs.popen([PY, str(ROOT / "run_node.py"), "--config", str(tmp / "node.json"),
                        "--endpoint", endpoint, "--log-file", str(tmp / "node.log")],
                       stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready at" not in line:
        raise SystemExit(f"node did not start: {line!r}; see {tmp / 'node.log'}")
    procs.remember_descendants(proc.pid)
    return endpoint


def fill_profiler(endpoint: str) -> None:
    """200 operations with a spread of durations, shipped as the Recorder ships them."""
    with connect(endpoint) as conn:
        recorder = Recorder(connection_sink(conn), background=False)
        for i in range(OPS):
            for k in range(50):
                recorder.record(f"bench.op{i:03d}", 0.0001 * (1 + k) * (1 + i % 7))
        recorder.flush()
        deadline = time.monotonic() + 30
        while conn.ask("profiler", "actor.statistics", {})["ops"] < OPS:
            if time.monotonic() > deadline:
                raise SystemExit("the profiler never held the 200 operations")
            time.sleep(0.1)


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return len(response.read())


def scrape_figures(endpoint: str, url: str, n: int) -> None:
    import psutil

    get(url)  # the first scrape classifies the actors (which are pools)
    with connect(endpoint) as conn:
        pids = {r.name: r.pid for r in conn.status().actors if r.pid}
        pids["node"] = conn.about().pid
    procs = {name: psutil.Process(pid) for name, pid in pids.items()}
    cpu0 = {name: sum(p.cpu_times()[:2]) for name, p in procs.items()}
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        size = get(url)
        times.append(time.perf_counter() - t)
    cpu = {name: (sum(p.cpu_times()[:2]) - cpu0[name]) / n for name, p in procs.items()}
    with connect(endpoint) as conn:
        conn.status()
        base = []
        for _ in range(n):
            t = time.perf_counter()
            conn.status()
            base.append(time.perf_counter() - t)
    med, p90 = statistics.median(times), statistics.quantiles(times, n=10)[-1]
    bmed = statistics.median(base)
    print(f"scrape /metrics ({ECHOES + 5} actors, {OPS} ops, {size / 1024:.0f} KiB): "
          f"median {med * 1000:.1f} ms, p90 {p90 * 1000:.1f} ms | baseline node.status ask "
          f"median {bmed * 1000:.2f} ms | ratio {med / bmed:.0f}x")
    top = sorted(cpu.items(), key=lambda kv: -kv[1])[:5]
    print("CPU per scrape: " + ", ".join(f"{name} {sec * 1000:.1f} ms" for name, sec in top)
          + f", all {ECHOES + 6} processes {sum(cpu.values()) * 1000:.1f} ms")


SCRAPER = """
import sys, time, urllib.request
url = sys.argv[1]
for line in sys.stdin:
    end, n = time.monotonic() + float(line), 0
    while (now := time.monotonic()) < end:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
        n += 1
        time.sleep(max(0.0, min(1.0 - (time.monotonic() - now), end - time.monotonic())))
    print(n, flush=True)
"""


class Scraper:
    """A process of its own that GETs ``/metrics`` every second for as long as it is told,
    as Prometheus would: its work never shares the agent's interpreter (or its GIL)."""

    def __init__(self, procs: Procs, url: str) -> None:
        self.proc = procs.popen([PY, "-c", SCRAPER, url], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)

    def start(self, seconds: float) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{seconds}\n")
        self.proc.stdin.flush()

    def count(self) -> int:
        assert self.proc.stdout is not None
        return int(self.proc.stdout.readline())


def block(conn: Connection, seconds: float, scraper: Scraper | None) -> tuple[list[float], int]:
    """Ask round trips for ``seconds``, with ``scraper`` scraping meanwhile if given."""
    if scraper is not None:
        scraper.start(seconds)
    out: list[float] = []
    end, i = time.perf_counter() + seconds, 0
    while (t := time.perf_counter()) < end:
        conn.ask("echo0", Ping(i))
        out.append(time.perf_counter() - t)
        i += 1
    return out, scraper.count() if scraper is not None else 0


def round_trips(procs: Procs, endpoint: str, url: str, blocks: int, seconds: float) -> None:
    """Blocks alternate plain, scraped, plain...; each scraped block is compared with the
    mean of the plain blocks on either side of it, so a drift in the machine's load over
    the run is not counted as the scrapes' cost."""
    with connect(endpoint) as conn:
        for i in range(500):
            conn.ask("echo0", Ping(i))
        scraper = Scraper(procs, url)
        runs = [block(conn, seconds, scraper if b % 2 else None) for b in range(2 * blocks + 1)]
    means = [statistics.fmean(r) for r, _ in runs]
    ratios = [means[b] / ((means[b - 1] + means[b + 1]) / 2) for b in range(1, len(runs), 2)]
    plain = [x for b, (r, _) in enumerate(runs) if b % 2 == 0 for x in r]
    scraped = [x for b, (r, _) in enumerate(runs) if b % 2 for x in r]
    scrapes = sum(n for _, n in runs)
    mp, ms = statistics.fmean(plain), statistics.fmean(scraped)
    print(f"ask round trip, {len(plain)} / {len(scraped)} asks in {len(runs)} alternating blocks "
          f"of {seconds:g} s: without scrapes mean {mp * 1e6:.1f} us (median "
          f"{statistics.median(plain) * 1e6:.1f}), scraped every second mean {ms * 1e6:.1f} us "
          f"(median {statistics.median(scraped) * 1e6:.1f}, {scrapes} scrapes) | ratio of means "
          f"{ms / mp:.3f}, median of {len(ratios)} block ratios {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10, help="scraped blocks (plain: one more)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one block")
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--nice", type=int, default=10, help="the exporter's nice setting")
    args = parser.parse_args()
    print(f"# load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
          f"exporter nice {args.nice}")
    procs = Procs()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            endpoint = start_node(procs, Path(tmp), port, args.nice)
            url = f"http://127.0.0.1:{port}/metrics"
            fill_profiler(endpoint)
            scrape_figures(endpoint, url, args.scrapes)
            round_trips(procs, endpoint, url, args.blocks, args.seconds)
    finally:
        procs.cleanup()


if __name__ == "__main__":
    main()
