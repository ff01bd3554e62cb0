"""What the codec's checks cost (issue 11): ``messages.decode`` beside a bare
``msgpack.unpackb`` of the same bytes, measured in the same run, for a small ask and for
a pool reply of 10,000 rows (where the nesting scan has the most to walk); and that reply
built into its message class, as a client's ask does, with either decoder.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_codec.py   (about 10 s; starts no process)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu
import msgpack

from actors.pool import ExecuteResult
from messages import Envelope, decode, encode, from_wire

ROUNDS = 7
"""Interleaved rounds of each measurement; the table shows the median and the best."""


def per_call(fn: Callable[[bytes], Any], data: bytes, n: int) -> float:
    """Microseconds per call of ``fn(data)`` over ``n`` calls."""
    started = time.perf_counter()
    for _ in range(n):
        fn(data)
    return (time.perf_counter() - started) / n * 1e6


def bare(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def bare_built(data: bytes) -> Any:
    return from_wire(ExecuteResult, bare(data)["body"])


def decode_built(data: bytes) -> Any:
    return from_wire(ExecuteResult, decode(data).body)


def main() -> None:
    small = encode(Envelope("ask", 12345, "echo", "echo.ping", {"n": 42, "text": "hello"},
                            time.time()))
    result = encode(Envelope("reply", 1, "pool", "pool.result", {
        "columns": ["a", "b", "c"], "rows": [[i, f"t{i}", 1.5] for i in range(10_000)],
        "rowcount": -1}, incarnation=1))
    cases = {
        "small ask (echo.ping)": (small, 200_000, bare, decode),
        "reply of 10,000 rows x 3": (result, 300, bare, decode),
        "the same reply, then from_wire (what an ask returns)": (result, 30, bare_built,
                                                                 decode_built),
    }
    rows = []
    for name, (data, n, baseline, measured) in cases.items():
        ours: list[float] = []
        base: list[float] = []
        for _ in range(ROUNDS):
            base.append(per_call(baseline, data, n))
            ours.append(per_call(measured, data, n))
        ratio = bu.median(ours) / bu.median(base)
        rows.append([name, f"{len(data):,}", f"{bu.median(base):.2f}", f"{bu.median(ours):.2f}",
                     f"{min(ours):.2f}", f"{ratio:.2f}x"])
    print(bu.table(f"decode, µs per call (median of {ROUNDS} interleaved rounds)",
                   ["message", "bytes", "msgpack.unpackb", "messages.decode", "decode best",
                    "decode / unpackb"], rows))


if __name__ == "__main__":
    main()
