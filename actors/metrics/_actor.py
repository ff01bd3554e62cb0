"""The metrics actor: serves the Prometheus text format at ``/metrics`` on loopback."""

from __future__ import annotations

import logging
import os
import threading
from wsgiref.simple_server import WSGIServer

import attrs
from prometheus_client import CollectorRegistry, start_http_server

from actors import Actor, Connection, connect
from actors.observe import NodeReader

from ._collector import NodeCollector
from ._settings import MetricsSettings

log = logging.getLogger("actors.metrics")


@attrs.frozen
class MetricsStatistics:
    """The metrics actor's answer to ``actor.statistics``."""

    url: str
    scrapes: int
    failed_scrapes: int
    last_scrape_seconds: float


class MetricsActor(Actor):
    """Prometheus exporter of its node: a custom collector reads the node at each scrape.

    Nothing is counted on any hot path: a scrape asks the front door and the built-in
    actors for what they already keep (see :class:`~actors.observe.NodeReader`).
    """

    settings_class = MetricsSettings

    def on_start(self) -> None:
        s: MetricsSettings = self.context.settings
        self._connection: Connection = connect(self.context.node_endpoint)
        reader = NodeReader(self._connection, s.sources(), me=self.context.name)
        self.collector = NodeCollector(reader, s.buckets, timeout=s.scrape_timeout)
        if s.nice:  # Linux: this thread's; the server and reading threads made below inherit it
            os.nice(s.nice)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector)
        try:
            self._server: WSGIServer
            self._server, self._serving = start_http_server(s.port, s.host, registry)
        except OSError as exc:
            self.collector.close()
            self._connection.close()
            raise OSError(exc.errno, f"metrics actor {self.context.name!r}: cannot listen on "
                          f"{s.host}:{s.port}: {exc.strerror}; choose another port with "
                          f"AGENTCELL_{self.context.name.upper()}__PORT") from exc
        host = f"[{s.host}]" if ":" in s.host else s.host
        self.url = f"http://{host}:{self._server.server_port}/metrics"
        log.info("metrics of this node at %s", self.url)

    def on_stop(self) -> None:
        server, serving = self._server, self._serving
        server.shutdown()
        server.server_close()
        if isinstance(serving, threading.Thread):
            serving.join(2.0)
        self.collector.close()
        self._connection.close()

    def statistics(self) -> MetricsStatistics:
        c = self.collector
        return MetricsStatistics(self.url, c.scrapes, c.failed, round(c.last_seconds, 6))
