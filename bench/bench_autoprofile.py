"""What automatic handler profiling costs an ask round trip (issue 7).

Two nodes run side by side: echo alone, and echo with a profiler (so every echo handler
is timed and shipped in batches). Rounds of 1000 asks alternate between them; the figure
is the paired median ratio. Run: python bench/bench_autoprofile.py (about 30 s).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROUNDS = 15
ASKS = 1000


def main() -> int:
    from actors import connect
    from actors.examples import Ping
    from tests.nodes import eventually, start_node_process

    tmp = Path(tempfile.mkdtemp(prefix="bench-autoprofile-"))
    (tmp / "plain").mkdir()
    (tmp / "profiled").mkdir()
    plain = start_node_process(tmp / "plain", {"children": [{"name": "echo", "actor": "echo"}]})
    profiled = start_node_process(tmp / "profiled", {"children": [
        {"name": "profiler", "actor": "profiler"}, {"name": "echo", "actor": "echo"}]})
    try:
        with connect(plain.endpoint) as a, connect(profiled.endpoint) as b:
            for conn in (a, b):
                for i in range(200):
                    conn.ask("echo", Ping(n=i))

            def round_trip_us(conn) -> float:
                t0 = time.perf_counter()
                for i in range(ASKS):
                    conn.ask("echo", Ping(n=i))
                return (time.perf_counter() - t0) * 1e6 / ASKS

            ratios, plain_us, prof_us = [], [], []
            for k in range(ROUNDS):
                first, second = (a, b) if k % 2 == 0 else (b, a)
                x = round_trip_us(first)
                y = round_trip_us(second)
                p, q = (x, y) if first is a else (y, x)
                plain_us.append(p)
                prof_us.append(q)
                ratios.append(q / p)

            def recorded() -> int:
                ops = b.ask("profiler", "profiler.report", {})["ops"]
                return int(ops.get("echo:echo.ping", {}).get("windows", {}).get("all", {})
                           .get("count", 0))

            seen = eventually(lambda: recorded() >= 200 + ROUNDS * ASKS, timeout=10) and recorded()
        ratio = statistics.median(ratios)
        print("Automatic profiling: ask round trip to echo, one in flight "
              f"({ROUNDS} alternating rounds x {ASKS} asks)")
        print(f"  echo, node without profiler   {statistics.median(plain_us):7.1f} us (median round)")
        print(f"  echo, every handler profiled  {statistics.median(prof_us):7.1f} us (median round)")
        print(f"  paired median ratio {ratio:.3f} -> overhead {100 * (ratio - 1):+.1f} % "
              f"(target <= +5 %: {'met' if ratio <= 1.05 else 'NOT met'})")
        print(f"  samples that reached the profiler: {seen} of {200 + ROUNDS * ASKS}")
    finally:
        plain.stop()
        profiled.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
