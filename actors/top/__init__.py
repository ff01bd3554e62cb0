"""``run_node.py top``: a live full-screen view of a node (extra ``top``: textual).

The tree's actors with state, pid, incarnation, restarts, health and score, handled/s
and p99; open alerts; breakers; the slowest operations. Follows the event stream, so a
crash shows at once. :class:`TopModel` is the view's state as plain rows (no textual).
"""

from ._app import TopApp, run_top
from ._confirm import Confirm
from ._model import ACTOR_COLUMNS, SORT_KEYS, ActorRow, TopModel

__all__ = [
    "ACTOR_COLUMNS",
    "SORT_KEYS",
    "ActorRow",
    "Confirm",
    "TopApp",
    "TopModel",
    "run_top",
]
