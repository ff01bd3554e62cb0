"""Reading a running node for people and scrapers, without touching its hot path.

:class:`NodeReader` gathers one :class:`NodeState` from the answers the node and its
built-in actors already give; :class:`EventFeed` follows the event stream so that views
change the moment something happens. The Prometheus exporter (``actors.metrics``), the
terminal view (``actors.top``) and the web dashboard (``actors.dashboard``) are built on
these two.
"""

from ._events import TOPICS, EventFeed
from ._reader import POOL_TAG, NodeReader, NodeState, report_window
from ._settings import ServeSettings, Sources, positive_seconds

__all__ = [
    "POOL_TAG",
    "TOPICS",
    "EventFeed",
    "NodeReader",
    "NodeState",
    "ServeSettings",
    "Sources",
    "positive_seconds",
    "report_window",
]
