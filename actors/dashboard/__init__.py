"""The web dashboard of a node: the built-in ``dashboard`` actor (extra ``dashboard``: aiohttp).

Configure with ``"dashboard": {"port": 8765}`` (or ``AGENTCELL_DASHBOARD__PORT``): the
supervision tree with live states, health and alerts, breakers and their transitions,
pools, latency charts per operation, pushed to the page by server-sent events. Read-only
unless ``"control": true``. Assets (uPlot, MIT) ship in the package.
"""

from ._actor import DashboardActor, DashboardStatistics
from ._board import Board, Hub
from ._model import DashboardModel
from ._server import build_app
from ._settings import DEFAULT_PORT, DashboardSettings

__all__ = [
    "DEFAULT_PORT",
    "Board",
    "DashboardActor",
    "DashboardModel",
    "DashboardSettings",
    "DashboardStatistics",
    "Hub",
    "build_app",
]
