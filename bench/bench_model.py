"""Model actor (issue 16): inferences/s of a small MLP asked by 8 agent processes, with
dynamic batching and without, beside calling the model in-process in one loop (the floor).

The model is an MLP 256 -> 1024 -> 1024 -> 10 (about 1.3 M parameters, float32, CPU, one
torch thread everywhere). Variants, all in the same run, interleaved over ``ROUNDS`` rounds:

- **batched**: the node's model actor with ``max_batch`` 8 (the number of agents: a batch
  that cannot fill waits ``max_wait_ms`` for nothing) and ``max_wait_ms`` 2;
- **batched, no wait**: ``max_batch`` 8, ``max_wait_ms`` 0 — a batch is whatever queued
  while the previous one ran;
- **unbatched**: the same actor with ``max_batch`` 1 (one forward pass per ask);
- **in-process, one row per call** (the floor): one loop in this process calling the model
  on one row at a time, converting lists to a tensor and back as the actor does;
- **in-process, 8 rows per call**: the same loop on batches of 8 (what batching 8 agents
  can reach at best).

Each agent process connects, warms up, then asks ``PER_AGENT`` rows one at a time (an agent
waits for its answer before asking again), so at most 8 asks are in flight; the rate is
all answers over the span from the first agent's start to the last one's end.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_model.py   (about a minute on 2 cores)
     python bench/bench_model.py agent ENDPOINT ACTOR COUNT START   (one agent; used by the bench)
Needs the ``ml`` extra (torch). Every process it starts is stopped by pid at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

AGENTS = 8
PER_AGENT = 400
WARMUP = 20
ROUNDS = 2
BATCH = 8
MODEL = '''
import torch


def build() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(),
                               torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
'''


def row(i: int) -> list[float]:
    return [((i * 7 + j) % 13) / 13.0 for j in range(256)]


def agent(endpoint: str, actor: str, count: int, start_at: float) -> None:
    """One agent: ask ``count`` rows one at a time; print its start, end and answers."""
    from actors import connect
    from actors.model import Infer

    with connect(endpoint) as conn:
        for i in range(WARMUP):
            conn.ask(actor, Infer(row(i)), timeout=30)
        time.sleep(max(0.0, start_at - time.time()))
        began = time.time()
        batches = 0
        for i in range(count):
            batches += conn.ask(actor, Infer(row(i)), timeout=30).batch
        print(json.dumps({"start": began, "end": time.time(), "count": count,
                          "mean_batch": batches / count}), flush=True)


def through_actor(endpoint: str, actor: str) -> tuple[float, float]:
    """(inferences/s, mean batch size seen) of AGENTS agent processes asking ``actor``."""
    start_at = time.time() + 3.0  # every agent connected and warmed up by then
    procs = [subprocess.Popen([sys.executable, __file__, "agent", endpoint, actor, str(PER_AGENT),
                               str(start_at)], stdout=subprocess.PIPE, text=True)
             for _ in range(AGENTS)]
    try:
        results = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = sum(r["count"] for r in results)
    return total / span, sum(r["mean_batch"] for r in results) / len(results)


def in_process(rows_per_call: int) -> float:
    """Rows/s of one loop calling the model here, ``rows_per_call`` rows at a time."""
    import torch

    torch.set_num_threads(1)
    namespace: dict[str, Any] = {}
    exec(compile(MODEL, "benchmlp.py", "exec"), namespace)
    model = namespace["build"]().eval()
    total = AGENTS * PER_AGENT
    rows = [row(i) for i in range(total)]
    began = time.perf_counter()
    with torch.inference_mode():
        for at in range(0, total, rows_per_call):
            model(torch.tensor(rows[at:at + rows_per_call], dtype=torch.float32)).tolist()
    return total / (time.perf_counter() - began)


def main() -> None:
    from tests.nodes import start_node_process

    load = os.getloadavg()[0]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    print(f"uptime: {uptime.strip()}")
    figures: dict[str, list[float]] = {"batched": [], "nowait": [], "unbatched": [], "floor": [],
                                       "ceiling": []}
    batch_sizes: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        node = start_node_process(Path(tmp), {"children": [
            {"name": "batched", "actor": "model", "settings": {
                "factory": "benchmlp:build", "max_batch": BATCH, "max_wait_ms": 2}},
            {"name": "nowait", "actor": "model", "settings": {
                "factory": "benchmlp:build", "max_batch": BATCH, "max_wait_ms": 0}},
            {"name": "unbatched", "actor": "model", "settings": {
                "factory": "benchmlp:build", "max_batch": 1}}]}, files={"benchmlp.py": MODEL})
        try:
            for _ in range(ROUNDS):
                rate, mean_batch = through_actor(node.endpoint, "batched")
                figures["batched"].append(rate)
                batch_sizes.append(mean_batch)
                figures["nowait"].append(through_actor(node.endpoint, "nowait")[0])
                figures["unbatched"].append(through_actor(node.endpoint, "unbatched")[0])
                figures["floor"].append(in_process(1))
                figures["ceiling"].append(in_process(BATCH))
        finally:
            node.stop()
    floor = sorted(figures["floor"])[len(figures["floor"]) // 2]
    print(f"\nload average at start {load:.1f}; {AGENTS} agents x {PER_AGENT} asks, "
          f"{ROUNDS} rounds (median, range)\n")
    print("| variant                                          | inferences/s | range           | x floor |")
    print("|--------------------------------------------------|--------------|-----------------|---------|")
    names = {"batched": f"8 agents -> model actor, batching ({BATCH} rows, 2 ms)",
             "nowait": f"8 agents -> model actor, batching ({BATCH} rows, 0 ms)",
             "unbatched": "8 agents -> model actor, no batching",
             "floor": "in-process loop, 1 row per call (floor)",
             "ceiling": f"in-process loop, {BATCH} rows per call"}
    for key, label in names.items():
        values = sorted(figures[key])
        median = values[len(values) // 2]
        print(f"| {label:<48} | {median:>12,.0f} | {values[0]:>6,.0f}-{values[-1]:<8,.0f} | "
              f"{median / floor:>7.2f} |")
    print(f"\nmean rows per forward pass seen by the batched agents: "
          f"{sum(batch_sizes) / len(batch_sizes):.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "agent":
        agent(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    else:
        main()
