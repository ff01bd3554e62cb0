"""Actor runtime of Agent Cellphone: the Actor base class, its host process, and clients.

Agents use :func:`connect` / :func:`connect_async`; actor authors subclass :class:`Actor`
and mark handlers with :func:`handler`.
"""

from ._actor import Actor, ActorContext, handler
from ._async_client import AsyncConnection, connect_async
from ._builtins import BUILTIN_ACTORS
from ._client import Connection, ConnectionStatistics, Reply, connect
from ._host import HostSpec, build_settings, host_main, host_standby, load_actor_class
from ._wire import subscribe_confirmed

__all__ = [
    "BUILTIN_ACTORS",
    "Actor",
    "ActorContext",
    "AsyncConnection",
    "Connection",
    "ConnectionStatistics",
    "HostSpec",
    "Reply",
    "build_settings",
    "connect",
    "connect_async",
    "handler",
    "host_main",
    "host_standby",
    "load_actor_class",
    "subscribe_confirmed",
]
