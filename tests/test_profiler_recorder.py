"""The caller side: Recorder batching, shipping, failures; profiled in sync and async code."""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from actors.profiler import (
    Histogram,
    Recorder,
    default_recorder,
    profiled,
    relative_error,
    set_default_recorder,
)
from messages import pack_value, unpack_value


class Sink:
    """Collects batches; ``arrived`` is set on each one."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []
        self.arrived = threading.Event()

    def __call__(self, batch: dict[str, Any]) -> None:
        self.batches.append(unpack_value(pack_value(batch)))  # as on the wire
        self.arrived.set()

    def samples(self, op: str) -> Histogram:
        """Every shipped sample of ``op`` merged."""
        return Histogram.merged(Histogram.from_dict(b["ops"][op]) for b in self.batches if op in b["ops"])


def test_batches_ship_by_count() -> None:
    """With max_pending=100, 250 samples leave as two batches of 100; 50 wait."""
    sink = Sink()
    r = Recorder(sink, max_pending=100, background=False)
    for i in range(250):
        r.record("op", 0.001 * (i % 7 + 1))
    assert [sum(sum(h["counts"]) for h in b["ops"].values()) for b in sink.batches] == [100, 100]
    assert r.statistics().pending == 50
    assert r.flush() == 50 and sink.samples("op").count == 250


def test_batches_ship_by_time() -> None:
    """One sample reaches the sink from the flush thread without any further call."""
    sink = Sink()
    with Recorder(sink, flush_interval=0.05) as r:
        r.record("op", 0.01)
        assert sink.arrived.wait(5)
    assert sink.samples("op").count == 1


def test_batch_is_one_histogram_per_op_with_source() -> None:
    """A batch maps each op to its histogram and names the source process."""
    sink = Sink()
    r = Recorder(sink, background=False, source="agent-7")
    r.record("a", 0.01)
    r.record("b", 0.02, ok=False)
    r.record("a", 0.0)
    r.flush()
    (batch,) = sink.batches
    assert batch["source"] == "agent-7" and sorted(batch["ops"]) == ["a", "b"]
    assert sink.samples("a").count == 2 and sink.samples("b").errors == 1


def test_samples_recorded_elsewhere_join_the_next_batch() -> None:
    """Recorder.add merges another process's histogram into the pending op, re-bucketed to
    this recorder's precision, and counts its samples toward max_pending."""
    sink = Sink()
    r = Recorder(sink, background=False, max_pending=10)
    r.record("op", 0.001)
    elsewhere = Histogram(sub_bits=4)
    for seconds in (0.002, 0.003, 0.004):
        elsewhere.record(seconds, ok=seconds < 0.004)
    r.add("op", elsewhere)
    assert r.statistics().pending == 4 and not sink.batches
    r.flush()
    got = sink.samples("op")
    assert got.count == 4 and got.errors == 1 and got.max == pytest.approx(0.004)
    many = Histogram()
    many.record(0.01, times=10)
    r.add("other", many)  # reaches max_pending: shipped at once
    assert sink.samples("other").count == 10


def test_failing_sink_never_reaches_the_caller() -> None:
    """A sink that raises drops the batch, counts it, and keeps the reason."""
    def broken(batch: dict[str, Any]) -> None:
        raise ConnectionError("profiler unreachable")

    r = Recorder(broken, max_pending=10, background=False)
    for _ in range(25):
        r.record("op", 0.001)
    stats = r.statistics()
    assert (stats.dropped_batches, stats.dropped_samples) == (2, 20)
    assert stats.last_error == "ConnectionError: profiler unreachable"


def test_ops_past_max_ops_are_refused_not_stored() -> None:
    """Memory stays bounded: new ops beyond max_ops are counted and dropped."""
    r = Recorder(None, max_ops=3, background=False)
    for i in range(10):
        r.record(f"op{i}", 0.001)
    assert r.statistics().refused_ops == 7
    batch = r.take()
    assert batch is not None and sorted(batch["ops"]) == ["op0", "op1", "op2"]


@pytest.mark.parametrize(("bad", "error", "text"), [
    (-0.5, ValueError, "cannot be negative"),
    (math.nan, ValueError, "NaN"),
    (math.inf, ValueError, "finite"),
    ("0.5", TypeError, "expected a number of seconds, got str"),
    (None, TypeError, "got NoneType"),
])
def test_bad_durations_raise_a_clear_error(bad: Any, error: type[Exception], text: str) -> None:
    """Negative, NaN, infinite and non-number durations name the op and the problem."""
    r = Recorder(None, background=False)
    with pytest.raises(error, match=text) as info:
        r.record("db.query", bad)
    assert "'db.query'" in str(info.value)
    assert r.statistics().recorded == 0


def test_bad_op_names_are_refused() -> None:
    """An op must be a non-empty string."""
    r = Recorder(None, background=False)
    with pytest.raises(TypeError, match="op: expected a non-empty string"):
        r.record("", 0.1)
    with pytest.raises(TypeError, match="op: expected a non-empty string, got int"):
        r.record(42, 0.1)  # type: ignore[arg-type]


def test_threads_record_without_losing_samples() -> None:
    """8 threads x 5000 samples: every one is counted."""
    sink = Sink()
    r = Recorder(sink, max_pending=1000, background=False)

    def work() -> None:
        for _ in range(5000):
            r.record("op", 0.002)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r.flush()
    assert sink.samples("op").count == 40_000


def _child_batch(seed: int) -> bytes:
    """Run in another process: record 20k samples, return the batch as msgpack bytes."""
    rng = random.Random(seed)
    r = Recorder(None, background=False, max_pending=10**9, source=f"child-{seed}")
    for _ in range(20_000):
        r.record("llm.call", rng.lognormvariate(-3 + seed * 0.5, 0.7))
    batch = r.take()
    assert batch is not None
    return pack_value(batch)


def test_batches_from_several_processes_merge_exactly() -> None:
    """Four processes' batches merge into the histogram of all 80k samples, within error."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        blobs = list(pool.map(_child_batch, range(4)))
    parts = [Histogram.from_dict(unpack_value(b)["ops"]["llm.call"]) for b in blobs]
    merged = Histogram.merged(parts)
    values: list[float] = []
    for seed in range(4):
        rng = random.Random(seed)
        values += [rng.lognormvariate(-3 + seed * 0.5, 0.7) for _ in range(20_000)]
    values.sort()
    assert merged.count == 80_000 and merged.max == values[-1] and merged.min == values[0]
    for q in (50, 90, 99, 99.9):
        want = values[max(1, math.ceil(q / 100 * len(values) - 1e-9)) - 1]
        assert abs(merged.percentile(q) - want) <= relative_error(7) * want


def test_profiled_decorator_sync_records_ok_and_errors() -> None:
    """A decorated function records each call; a raising call counts as an error."""
    r = Recorder(None, background=False)

    @profiled("work", recorder=r)
    def work(fail: bool) -> str:
        if fail:
            raise KeyError("boom")
        return "done"

    assert work(False) == "done" and work.__name__ == "work"
    with pytest.raises(KeyError):
        work(True)
    batch = r.take()
    assert batch is not None
    h = Histogram.from_dict(batch["ops"]["work"])
    assert (h.count, h.errors) == (2, 1)


async def test_profiled_decorator_async_times_the_await() -> None:
    """A decorated coroutine function records the time across its awaits."""
    r = Recorder(None, background=False)

    @profiled("llm.call", recorder=r)
    async def call() -> int:
        await asyncio.sleep(0.02)
        return 7

    assert await asyncio.gather(call(), call()) == [7, 7]
    batch = r.take()
    assert batch is not None
    h = Histogram.from_dict(batch["ops"]["llm.call"])
    assert h.count == 2 and h.min >= 0.015


async def test_profiled_async_context_manager() -> None:
    """``async with profiled(...)`` records the block; an exception is an error."""
    r = Recorder(None, background=False)
    async with profiled("block", recorder=r):
        await asyncio.sleep(0)
    with pytest.raises(RuntimeError):
        async with profiled("block", recorder=r):
            raise RuntimeError("x")
    batch = r.take()
    assert batch is not None
    assert Histogram.from_dict(batch["ops"]["block"]).errors == 1


def test_profiled_context_manager_nested_reuse() -> None:
    """One profiled object nests: inner and outer blocks are both recorded."""
    r = Recorder(None, background=False)
    p = profiled("step", recorder=r)
    with p, p:
        pass
    batch = r.take()
    assert batch is not None and sum(batch["ops"]["step"]["counts"]) == 2


def test_profiled_uses_the_default_recorder() -> None:
    """Without recorder=, samples go to the process default, which can be replaced."""
    mine = Recorder(None, background=False)
    old = set_default_recorder(mine)
    try:
        assert default_recorder() is mine
        with profiled("default.op"):
            pass
        batch = mine.take()
        assert batch is not None and "default.op" in batch["ops"]
    finally:
        set_default_recorder(old)


def test_profiled_refuses_a_bad_op() -> None:
    """profiled needs a non-empty op name."""
    with pytest.raises(TypeError, match="op"):
        profiled("")
