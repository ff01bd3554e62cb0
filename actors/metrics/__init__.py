"""Prometheus metrics of a node: the built-in ``metrics`` actor and its custom collector.

Configure with ``"metrics": {"port": 9464}`` in the node config (or
``AGENTCELL_METRICS__PORT=9464``); ``/metrics`` answers in Prometheus' text format. Needs
the ``metrics`` extra (``prometheus-client``).
"""

from ._actor import MetricsActor, MetricsStatistics
from ._collector import NodeCollector
from ._families import families
from ._settings import DEFAULT_BUCKETS, DEFAULT_PORT, MetricsSettings

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_PORT",
    "MetricsActor",
    "MetricsSettings",
    "MetricsStatistics",
    "NodeCollector",
    "families",
]
