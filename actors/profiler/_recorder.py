"""The caller side: record durations into a local histogram, ship them in batches.

:class:`Recorder.record` costs one lock, one ``frexp`` and one dict update per sample;
nothing crosses a socket per sample. A batch (``profiler.record_batch``: one histogram
per op) leaves when ``max_pending`` samples are waiting, and every ``flush_interval``
seconds from a daemon thread, so memory is bounded whatever the rate: at most
``max_ops`` operations of at most 6913 buckets each. A failing sink never reaches the
caller: the batch is dropped and counted.
"""

from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Callable
from math import frexp
from typing import Any, Final

import attrs

from ._histogram import (
    DEFAULT_SUB_BITS,
    HIGHEST,
    LOWEST,
    Histogram,
    check_duration,
    check_sub_bits,
)

Sink = Callable[[dict[str, Any]], None]
"""Receives each batch: ``{"source": str, "ops": {op: Histogram.to_dict()}}``."""

DEFAULT_FLUSH_INTERVAL: Final = 0.25
DEFAULT_MAX_PENDING: Final = 4096
DEFAULT_MAX_OPS: Final = 1000


@attrs.frozen
class RecorderStatistics:
    """Counters of one recorder."""

    recorded: int
    pending: int
    batches: int
    dropped_batches: int
    dropped_samples: int
    refused_ops: int
    last_error: str | None


class Recorder:
    """Per-process sample collector; thread-safe; see the module doc for the costs."""

    def __init__(self, sink: Sink | None = None, *, flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 max_pending: int = DEFAULT_MAX_PENDING, max_ops: int = DEFAULT_MAX_OPS,
                 sub_bits: int = DEFAULT_SUB_BITS, source: str | None = None,
                 background: bool = True) -> None:
        if not (isinstance(flush_interval, (int, float)) and 0 < flush_interval < math.inf):
            raise ValueError(f"flush_interval: expected seconds > 0, got {flush_interval!r}")
        for name, value in (("max_pending", max_pending), ("max_ops", max_ops)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
        self.sink = sink
        self.flush_interval = float(flush_interval)
        self.max_pending = max_pending
        self.max_ops = max_ops
        self.sub_bits = check_sub_bits(sub_bits)
        self._scale = float(2 << sub_bits)
        self.source = source or f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._ops: dict[str, Histogram] = {}
        self._pending = 0
        self._recorded = self._batches = self._dropped_batches = self._dropped_samples = 0
        self._refused_ops = 0
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background and sink is not None:
            self._thread = threading.Thread(target=self._run, name="profiler-recorder", daemon=True)
            self._thread.start()

    def record(self, op: str, seconds: float, ok: bool = True) -> None:
        """Record one duration of ``op``; ValueError/TypeError name a bad duration."""
        try:
            fast = LOWEST <= seconds < HIGHEST  # False for NaN, 0, negatives and huge values
        except TypeError:
            fast = False
        if not fast:
            self._record_slow(op, seconds, ok)
            return
        m, e = frexp(seconds)
        i = (e << self.sub_bits) + int(m * self._scale)
        with self._lock:
            h = self._ops.get(op)
            if h is None:
                h = self._new_op(op)
                if h is None:
                    return
            counts = h.counts
            counts[i] = counts.get(i, 0) + 1
            h.count += 1
            h.total += seconds
            if seconds > h.max:  # noqa: PLR1730 - an if is 4x cheaper than max() here
                h.max = seconds
            if seconds < h.min:  # noqa: PLR1730
                h.min = seconds
            if not ok:
                h.errors += 1
            self._pending += 1
            if self._pending < self.max_pending:
                return
            batch = self._take_locked()
        self._ship(batch)

    def _record_slow(self, op: str, seconds: Any, ok: bool) -> None:
        sample = Histogram(self.sub_bits)
        sample.record(check_duration(seconds, f"duration of {op!r}"), ok)
        self.add(op, sample)

    def add(self, op: str, samples: Histogram) -> None:
        """Add samples recorded elsewhere (another process's histogram of ``op``) to the next
        batch, as if each had been recorded here."""
        if samples.count <= 0:
            return
        if samples.sub_bits != self.sub_bits:
            samples = samples.rebucket(self.sub_bits)
        with self._lock:
            h = self._ops.get(op)
            if h is None:
                h = self._new_op(op)
                if h is None:
                    return
            h.merge(samples)
            self._pending += samples.count
            if self._pending < self.max_pending:
                return
            batch = self._take_locked()
        self._ship(batch)

    def _new_op(self, op: str) -> Histogram | None:
        if not isinstance(op, str) or not op:
            raise TypeError(f"op: expected a non-empty string, got {type(op).__name__} {op!r}")
        if len(self._ops) >= self.max_ops:
            self._refused_ops += 1
            return None
        h = self._ops[op] = Histogram(self.sub_bits)
        return h

    def _take_locked(self) -> dict[str, Any] | None:
        if not self._ops:
            return None
        ops, self._ops = self._ops, {}
        self._recorded += self._pending
        self._pending = 0
        return {"source": self.source, "ops": {op: h.to_dict() for op, h in ops.items()}}

    def take(self) -> dict[str, Any] | None:
        """Remove and return the pending samples as one batch (None if there are none)."""
        with self._lock:
            return self._take_locked()

    def flush(self) -> int:
        """Ship the pending samples now; returns how many samples the batch held."""
        batch = self.take()
        return self._ship(batch)

    def _ship(self, batch: dict[str, Any] | None) -> int:
        if batch is None:
            return 0
        samples = sum(sum(h["counts"]) for h in batch["ops"].values())
        if self.sink is None:
            self._count_drop(samples, "no sink configured")
            return 0
        try:
            self.sink(batch)
        except Exception as exc:
            self._count_drop(samples, f"{type(exc).__name__}: {exc}")
            return 0
        with self._lock:
            self._batches += 1
        return samples

    def _count_drop(self, samples: int, why: str) -> None:
        with self._lock:
            self._dropped_batches += 1
            self._dropped_samples += samples
            self._last_error = why

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def statistics(self) -> RecorderStatistics:
        """Counters: recorded samples, batches shipped, batches and samples dropped."""
        with self._lock:
            return RecorderStatistics(self._recorded + self._pending, self._pending, self._batches,
                                      self._dropped_batches, self._dropped_samples,
                                      self._refused_ops, self._last_error)

    def close(self) -> None:
        """Stop the flush thread and ship what is pending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.sink is not None:
            self.flush()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connection_sink(connection: Any, actor: str = "profiler") -> Sink:
    """A sink that tells each batch to the profiler actor ``actor`` over ``connection``."""

    def send(batch: dict[str, Any]) -> None:
        connection.tell(actor, "profiler.record_batch", batch)

    return send
