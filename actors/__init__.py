"""Actor runtime of Agent Cellphone: the Actor base class, its host process, and clients.

Agents use :func:`connect` / :func:`connect_async`; actor authors subclass :class:`Actor`
and mark handlers with :func:`handler`.
"""

from ._actor import Actor, ActorContext, handler
from ._async_client import AsyncConnection, connect_async
from ._builtins import BUILTIN_ACTORS
from ._client import Connection, ConnectionStatistics, Reply, connect
from ._events import AsyncEventReader, EventReader, NodeEvent, read_event, subscribe_confirmed
from ._host import HostSpec, build_settings, host_main, host_standby, load_actor_class
from ._security import (
    ENV_CLIENT_KEY,
    ENV_NODE_KEY,
    ROLE_AGENT,
    ROLE_OPERATOR,
    ClientKeys,
    ServerKeys,
    authenticated_peer,
    write_keys,
)
from ._transport import (
    bind_socket,
    bound_endpoint,
    close_context,
    connect_socket,
    is_local,
    new_context,
)

__all__ = [
    "BUILTIN_ACTORS",
    "ENV_CLIENT_KEY",
    "ENV_NODE_KEY",
    "ROLE_AGENT",
    "ROLE_OPERATOR",
    "Actor",
    "ActorContext",
    "AsyncConnection",
    "AsyncEventReader",
    "ClientKeys",
    "Connection",
    "ConnectionStatistics",
    "EventReader",
    "HostSpec",
    "NodeEvent",
    "Reply",
    "ServerKeys",
    "authenticated_peer",
    "bind_socket",
    "bound_endpoint",
    "build_settings",
    "close_context",
    "connect",
    "connect_async",
    "connect_socket",
    "handler",
    "host_main",
    "host_standby",
    "is_local",
    "load_actor_class",
    "new_context",
    "read_event",
    "subscribe_confirmed",
    "write_keys",
]
