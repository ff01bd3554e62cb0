"""The connection pool actor: many agents share real connections to one backend.

Backends: SQLite (default, a file in the node's data directory), PostgreSQL (psycopg 3),
Redis (redis-py), raw TCP with a line protocol. Messages: ``pool.execute``,
``pool.command``, ``pool.transaction``, ``pool.stats``, ``pool.configure``, and
``pool.lease`` for the PostgreSQL fast lane, which :class:`PoolClient` uses to run
statements in the agent's own process on connections leased from the pool's budget.
"""

from ._actor import PoolActor
from ._connector import Connector, ErrorClass, ResultSet
from ._errors import (
    AcquireTimeout,
    BackendUnavailable,
    OperationFailed,
    PoolClosed,
    PoolError,
    UnsupportedOperation,
)
from ._fastlane import PoolClient, PoolClientStatistics
from ._lease_messages import Lease, LeaseGrant, LeaseReport
from ._messages import (
    Command,
    CommandResult,
    Configure,
    ConnectionInfo,
    Execute,
    ExecuteResult,
    PoolStatistics,
    Statement,
    Stats,
    Transaction,
)
from ._policy import Backoff, ConnState, PoolLoad, SizingDecision, decide_size
from ._pool import Pool
from ._runner import Runner
from ._settings import PoolSettings
from ._slot import PoolConfig
from ._upkeep import Upkeep

__all__ = [
    "AcquireTimeout",
    "BackendUnavailable",
    "Backoff",
    "Command",
    "CommandResult",
    "Configure",
    "ConnState",
    "ConnectionInfo",
    "Connector",
    "ErrorClass",
    "Execute",
    "ExecuteResult",
    "Lease",
    "LeaseGrant",
    "LeaseReport",
    "OperationFailed",
    "Pool",
    "PoolActor",
    "PoolClient",
    "PoolClientStatistics",
    "PoolClosed",
    "PoolConfig",
    "PoolError",
    "PoolLoad",
    "PoolSettings",
    "PoolStatistics",
    "ResultSet",
    "Runner",
    "SizingDecision",
    "Statement",
    "Stats",
    "Transaction",
    "UnsupportedOperation",
    "Upkeep",
    "decide_size",
]
