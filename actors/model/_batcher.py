"""Dynamic batching: rows asked one by one, run together.

The actor thread hands each ask's row to :meth:`Batcher.submit` and returns the future;
one batching thread takes the rows waiting, up to ``max_batch``, waiting for more no longer
than ``max_wait`` after the oldest arrived (Ray Serve's ``@serve.batch``:
``max_batch_size``, ``batch_wait_timeout_s``), runs them in one call and completes each
future with its own row of the answer. A batch that fails is run again row by row, so a
bad row fails only its own ask; a fatal failure (out of memory) goes to ``fatal``, which
ends the process so that its supervisor starts a fresh one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

Run = Callable[[list[Any]], list[Any]]


class QueueFull(BufferError):
    """More asks are waiting for the model than ``max_queue``: try later (or another replica)."""


class Batcher:
    """See module doc; ``reply(output_row, batch_size)`` makes each ask's answer."""

    def __init__(self, run: Run, reply: Callable[[Any, int], Any], *, max_batch: int,
                 max_wait: float, max_queue: int, is_fatal: Callable[[BaseException], bool],
                 fatal: Callable[[BaseException, int], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._run = run
        self._reply = reply
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_queue = max_queue
        self._is_fatal = is_fatal
        self._fatal = fatal
        self._clock = clock
        self._queue: collections.deque[tuple[float, Any, concurrent.futures.Future[Any]]] = \
            collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self.batches = self.rows = self.largest = self.refused = self.failed = 0
        self._thread = threading.Thread(target=self._serve, name="model-batcher", daemon=True)
        self._thread.start()

    def queued(self) -> int:
        """Rows waiting for a batch now."""
        return len(self._queue)

    def submit(self, row: Any) -> concurrent.futures.Future[Any]:
        """Queue ``row``; its future completes with ``reply(output, batch_size)``."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._cond:
            if len(self._queue) >= self.max_queue:
                self.refused += 1
                raise QueueFull(f"{len(self._queue)} asks already wait for the model "
                                f"(settings.max_queue {self.max_queue})")
            self._queue.append((self._clock(), row, future))
            self._cond.notify()
        return future

    def _take(self) -> list[tuple[float, Any, concurrent.futures.Future[Any]]]:
        """The next batch: wait for a first row, then for more until full or its time is up."""
        with self._cond:
            while not self._queue and not self._stopped:
                self._cond.wait()
            while self._queue and len(self._queue) < self.max_batch and not self._stopped:
                left = self._queue[0][0] + self.max_wait - self._clock()
                if left <= 0:
                    break
                self._cond.wait(left)
            count = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(count)]

    def _serve(self) -> None:
        while not self._stopped:
            batch = [entry for entry in self._take() if entry[2].set_running_or_notify_cancel()]
            if batch:
                self._run_batch([(row, future) for _, row, future in batch])

    def _run_batch(self, batch: list[tuple[Any, concurrent.futures.Future[Any]]]) -> None:
        try:
            outputs = self._run([row for row, _ in batch])
            if len(outputs) != len(batch):
                raise ValueError(f"the model answered {len(outputs)} rows for a batch of "
                                 f"{len(batch)}: its first dimension must be the batch")
        except BaseException as exc:
            if self._is_fatal(exc):
                self._fatal(exc, len(batch))
                return
            if len(batch) > 1:  # find the row at fault: each alone
                for one in batch:
                    self._run_batch([one])
                return
            self.failed += 1
            batch[0][1].set_exception(exc)
            return
        self.batches += 1
        self.rows += len(batch)
        self.largest = max(self.largest, len(batch))
        for (_, future), output in zip(batch, outputs, strict=True):
            future.set_result(self._reply(output, len(batch)))

    def close(self) -> None:
        """Stop taking batches; rows still queued fail with a RuntimeError."""
        with self._cond:
            self._stopped = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for _, _, future in left:
            if future.set_running_or_notify_cancel():
                future.set_exception(RuntimeError("the model actor is stopping"))
        self._thread.join(5.0)
