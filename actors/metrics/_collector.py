"""The custom collector: each scrape reads the node once and turns the read into families.

Reads run on one thread of the collector's own (it owns the client sockets), so scrapes
that arrive together are served one after the other and no thread leaves sockets behind.
A node that does not answer within ``scrape_timeout`` is ``agentcell_node_up 0``, not a
failed scrape.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from actors.observe import NodeReader, NodeState
from messages import CellphoneError

from ._families import families


class NodeCollector(Collector):
    """Reads the node at each ``collect()`` (one scrape) through ``reader``."""

    def __init__(self, reader: NodeReader, bounds: Sequence[float], *, timeout: float) -> None:
        self.reader, self.bounds, self.timeout = reader, list(bounds), timeout
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="metrics-read")
        self._lock = threading.Lock()
        self.scrapes = self.failed = 0
        self.last_seconds = 0.0

    def describe(self) -> list[Metric]:
        """Nothing up front: the registry then never scrapes the node just to learn names."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every family for one read of the node, then ``agentcell_node_up`` and the timing."""
        start = time.perf_counter()
        state = self._read()
        if state is not None:
            yield from families(state, self.bounds)
        seconds = time.perf_counter() - start
        with self._lock:
            self.scrapes += 1
            self.failed += state is None
            self.last_seconds = seconds
        yield GaugeMetricFamily("agentcell_node_up", "1 if the node answered this scrape",
                                value=0 if state is None else 1)
        yield GaugeMetricFamily("agentcell_scrape_duration_seconds",
                                "How long reading the node and building this answer took",
                                value=seconds)

    def _read(self) -> NodeState | None:
        future = self._thread.submit(self.reader.read, tree=True, window=None, bounds=self.bounds)
        try:
            return future.result(self.timeout)
        except (CellphoneError, TimeoutError):  # concurrent.futures.TimeoutError is TimeoutError
            return None

    def close(self) -> None:
        """Stop the reading thread (a read in progress finishes on its own)."""
        self._thread.shutdown(wait=False, cancel_futures=True)
