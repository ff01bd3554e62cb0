"""Supervision of Agent Cellphone: child specs, OTP restart policy, the node's tree.

The node (:class:`Node`) runs supervisors in one poll loop; each supervised actor lives in
a process of its own, started from a preloaded forkserver.
"""

from ._config import (
    DEFAULT_CONFIG,
    DEFAULT_ENDPOINT,
    EXTENDS_KEY,
    NodeConfig,
    check_endpoint,
    extend_import_path,
    load_config,
    parse_config,
)
from ._node import Node
from ._policy import (
    BackoffState,
    ExitDecision,
    RestartIntensity,
    decide_exit,
    restart_plan,
    should_restart,
)
from ._specs import (
    DEFAULT_MAX_BUSY,
    DEFAULT_MAX_RESTARTS,
    DEFAULT_MAX_SECONDS,
    DEFAULT_SHUTDOWN,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_LIVENESS,
    Backoff,
    ChildSpec,
    SupervisorSpec,
)
from ._tree import Supervisor

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_BUSY",
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_SHUTDOWN",
    "EXTENDS_KEY",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_LIVENESS",
    "Backoff",
    "BackoffState",
    "ChildSpec",
    "ExitDecision",
    "Node",
    "NodeConfig",
    "RestartIntensity",
    "Supervisor",
    "SupervisorSpec",
    "check_endpoint",
    "decide_exit",
    "extend_import_path",
    "load_config",
    "parse_config",
    "restart_plan",
    "should_restart",
]
