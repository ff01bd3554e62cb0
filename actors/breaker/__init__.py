"""Circuit breakers, retry policies and error analytics shared by every agent of a node.

Run :class:`BreakerActor` (built-in name ``breaker``); guard calls with
:class:`BreakerClient` (local checks, batched outcomes) or ask ``breaker.call`` to
forward a message to another actor through a breaker and a retry policy.
"""

from ._actor import STATE_TOPIC, BreakerActor
from ._analytics import ErrorAnalytics, ErrorEntry
from ._classify import classify, error_types
from ._errors import (
    BreakerError,
    CallDeadlineExceeded,
    CallFailed,
    CircuitOpenError,
    RetriesExhausted,
    UnknownResource,
)
from ._guard import BreakerClient, Guarded, GuardStatistics
from ._local import LocalConnection
from ._machine import CLOSED, HALF_OPEN, NOT_A_TRIAL, OPEN, Breaker, BreakerSnapshot, Decision, Transition
from ._messages import (
    Acquire,
    AcquireReply,
    BreakerSettings,
    BreakerStatistics,
    Call,
    Configure,
    ForceClosed,
    ForceOpen,
    Record,
    RecordBatch,
    RecordReply,
    Reset,
    ResourceConfig,
    ResourceStats,
    StateInfo,
    States,
    StatesReply,
    Stats,
    StatsReply,
)
from ._policy import BreakerPolicy, RetryOverride, RetryPolicy
from ._retry import RetryDecision, backoff, decide
from ._table import breakers_table
from ._window import CountWindow, TimeWindow, WindowTotals

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "NOT_A_TRIAL",
    "OPEN",
    "STATE_TOPIC",
    "Acquire",
    "AcquireReply",
    "Breaker",
    "BreakerActor",
    "BreakerClient",
    "BreakerError",
    "BreakerPolicy",
    "BreakerSettings",
    "BreakerSnapshot",
    "BreakerStatistics",
    "Call",
    "CallDeadlineExceeded",
    "CallFailed",
    "CircuitOpenError",
    "Configure",
    "CountWindow",
    "Decision",
    "ErrorAnalytics",
    "ErrorEntry",
    "ForceClosed",
    "ForceOpen",
    "GuardStatistics",
    "Guarded",
    "LocalConnection",
    "Record",
    "RecordBatch",
    "RecordReply",
    "Reset",
    "ResourceConfig",
    "ResourceStats",
    "RetriesExhausted",
    "RetryDecision",
    "RetryOverride",
    "RetryPolicy",
    "StateInfo",
    "States",
    "StatesReply",
    "Stats",
    "StatsReply",
    "TimeWindow",
    "Transition",
    "UnknownResource",
    "WindowTotals",
    "backoff",
    "breakers_table",
    "classify",
    "decide",
    "error_types",
]
