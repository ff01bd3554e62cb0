"""The transport layer: every ZeroMQ context and socket the project makes is made here.

Node (front door and control ROUTERs, events XPUB), actor hosts (actor ROUTER, control
DEALER), the sync and asyncio clients, the command line and the built-in actors all call
:func:`bind_socket` or :func:`connect_socket`, so each option is decided once:

- ``linger`` 0 unless a caller has something to flush (:data:`LINGER_MS`);
- clients reconnect to a restarted actor within milliseconds, not ZeroMQ's 100 ms
  (:data:`RECONNECT_INTERVAL_MS`, backing off to :data:`RECONNECT_INTERVAL_MAX_MS`);
- TCP peers exchange ZMTP heartbeats, so a peer that vanished without closing (a machine
  that lost power, a dropped route) is noticed and its queue released
  (:data:`ZMTP_HEARTBEAT_INTERVAL_MS` × :data:`ZMTP_HEARTBEAT_LIVENESS`);
- ``ipc://`` endpoints live in directories only their owner may enter (0700), and the
  socket file is the owner's alone (0600);
- CurveZMQ on every TCP socket of a node that has keys (``security=`` on :func:`bind_socket`,
  ``keys=`` on :func:`connect_socket`; see :mod:`actors._security`).

Subscriptions to a node's event stream are made and confirmed in :mod:`actors._events`,
on sockets from :func:`connect_socket`.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import zmq
import zmq.asyncio

if TYPE_CHECKING:
    from ._security import ClientKeys, ServerKeys

LINGER_MS: Final = 0
"""Milliseconds a closed socket keeps unsent messages, unless the caller says otherwise."""
RECONNECT_INTERVAL_MS: Final = 2
"""First reconnect attempt to a restarted actor (ZeroMQ's default of 100 ms would dominate
crash-to-serving time); later attempts back off up to RECONNECT_INTERVAL_MAX_MS."""
RECONNECT_INTERVAL_MAX_MS: Final = 10
ZMTP_HEARTBEAT_INTERVAL_MS: Final = 5_000
"""Milliseconds between ZMTP PINGs on a quiet TCP connection."""
ZMTP_HEARTBEAT_LIVENESS: Final = 6
"""PINGs a TCP peer may leave unanswered before its connection is dropped."""
ZMTP_HEARTBEAT_TIMEOUT_MS: Final = ZMTP_HEARTBEAT_INTERVAL_MS * ZMTP_HEARTBEAT_LIVENESS
IPC_DIR_MODE: Final = 0o700
IPC_SOCKET_MODE: Final = 0o600

S = TypeVar("S", bound="zmq.Socket[Any]")


def new_context() -> zmq.Context[zmq.Socket[bytes]]:
    """A fresh ZeroMQ context (one per owner that terminates it: node, host, connection)."""
    return zmq.Context()


def new_async_context() -> zmq.asyncio.Context:
    """A fresh context whose sockets belong to the running asyncio event loop."""
    return zmq.asyncio.Context()


def bind_socket(ctx: zmq.Context[S], kind: int, endpoint: str, *,
         security: ServerKeys | None = None, **options: Any) -> S:
    """A socket of ``kind`` bound at ``endpoint`` (``tcp://HOST:*`` picks a free port).

    ``options`` are ZeroMQ socket options by pyzmq's attribute name (``rcvhwm=…``); with
    ``security`` a TCP socket is a CurveZMQ server authenticated by ZAP.
    """
    socket = _socket(ctx, kind, endpoint, options)
    try:
        if security is not None and endpoint.startswith("tcp://"):
            security.serve(socket)
        if endpoint.startswith("ipc://"):
            _private_directory(endpoint)
        socket.bind(endpoint)
        if endpoint.startswith("ipc://"):
            _private_socket_file(endpoint)
    except BaseException:
        socket.close(linger=0)
        raise
    return socket


def connect_socket(ctx: zmq.Context[S], kind: int, endpoint: str, *,
            keys: ClientKeys | None = None, **options: Any) -> S:
    """A socket of ``kind`` connected to ``endpoint``, reconnecting fast after a restart.

    With ``keys`` a TCP connection is a CurveZMQ client of the node those keys name.
    """
    options.setdefault("reconnect_ivl", RECONNECT_INTERVAL_MS)
    options.setdefault("reconnect_ivl_max", RECONNECT_INTERVAL_MAX_MS)
    socket = _socket(ctx, kind, endpoint, options)
    try:
        if keys is not None and endpoint.startswith("tcp://"):
            keys.apply(socket)
        socket.connect(endpoint)
    except BaseException:
        socket.close(linger=0)
        raise
    return socket


def is_local(endpoint: str) -> bool:
    """Whether only this machine can reach ``endpoint``: ``ipc://``, ``inproc://``, or TCP
    on a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``). A wildcard (``*``,
    ``0.0.0.0``), an interface name or any other address is reachable from elsewhere."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bound_endpoint(socket: zmq.Socket[Any]) -> str:
    """The endpoint a socket is bound at, with the port ZeroMQ picked for ``*``."""
    return socket.getsockopt_string(zmq.LAST_ENDPOINT)


def close_context(ctx: zmq.Context[Any], *, linger_ms: int = LINGER_MS) -> None:
    """Close every socket of ``ctx`` (after ``linger_ms`` for queued messages) and
    terminate it; an authenticator serving the context is stopped first."""
    from ._security import stop_authenticator

    stop_authenticator(ctx)
    ctx.destroy(linger=linger_ms)


def close_with_context(socket: zmq.Socket[Any], *, linger_ms: int) -> None:
    """Close ``socket``, sending what is queued within ``linger_ms``, then its own context."""
    from ._security import stop_authenticator

    context = socket.context
    socket.close(linger=linger_ms)
    stop_authenticator(context)
    context.term()


def _socket(ctx: zmq.Context[S], kind: int, endpoint: str, options: dict[str, Any]) -> S:
    socket = ctx.socket(kind)
    try:
        socket.linger = options.pop("linger", LINGER_MS)
        if endpoint.startswith("tcp://"):
            socket.heartbeat_ivl = ZMTP_HEARTBEAT_INTERVAL_MS
            socket.heartbeat_timeout = ZMTP_HEARTBEAT_TIMEOUT_MS
        for name, value in options.items():
            setattr(socket, name, value)
    except BaseException:
        socket.close(linger=0)
        raise
    return socket


def _ipc_path(endpoint: str) -> Path | None:
    path = endpoint[len("ipc://"):]
    return None if path.startswith("@") else Path(path)  # "@": Linux's abstract namespace


def _private_directory(endpoint: str) -> None:
    """Create the socket's directory (and parents) as 0700 when it does not exist yet."""
    path = _ipc_path(endpoint)
    if path is not None and not path.parent.exists():
        path.parent.mkdir(mode=IPC_DIR_MODE, parents=True, exist_ok=True)


def _private_socket_file(endpoint: str) -> None:
    """Only the owner may connect: connecting to a Unix socket needs write permission on it."""
    path = _ipc_path(endpoint)
    if path is not None:
        os.chmod(path, IPC_SOCKET_MODE)
