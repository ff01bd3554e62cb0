"""The transport layer: every socket is made in one place, every byte goes through the codec,
and the event stream has one reader."""

from __future__ import annotations

import ast
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from actors import (
    EventReader,
    bind_socket,
    bound_endpoint,
    close_context,
    connect_socket,
    new_context,
    read_event,
)
from messages import (
    KIND_EVENT,
    ActorExited,
    ActorStarted,
    Envelope,
    ProtocolError,
    Welcome,
    encode,
    to_wire,
    type_tag,
)

ROOT = Path(__file__).resolve().parent.parent
SOCKET_OWNERS = {"actors/_transport.py", "actors/_security.py"}
"""The transport makes every socket; the security module runs pyzmq's ZAP authenticator."""
CODEC = {"messages/_codec.py"}
FOREIGN = {
    "tests/foreign_agent.py": "an agent in 'another language': nothing but pyzmq and msgpack",
    "tests/test_bad_input.py": "sends bytes a foreign or broken peer might send",
    "tests/raw_peer.py": "RawPeer, a foreign peer: plain pyzmq and msgpack as PROTOCOL.md says",
    "tests/test_hardening.py": "a raw peer that breaks the protocol on purpose",
    "tests/test_protocol_gaps.py": "PROTOCOL.md as a foreign peer reads it, byte for byte",
    "tests/test_child_commands.py": "node commands sent by a foreign peer, envelope by envelope",
    "tests/test_fuzz.py": "fuzzes the wire with raw msgpack and raw sockets",
    "tests/wire_strategies.py": "builds raw msgpack frames for the fuzz suite",
    "tests/test_codec_limits.py": "hand-made msgpack the codec must refuse",
    "tests/test_messages.py": "hand-made msgpack the codec must refuse",
    "bench/bench_core.py": "the raw pyzmq + msgpack baseline the runtime is measured against",
    "bench/bench_pool.py": "the raw zmq + libpq ceiling the pool is measured against",
    "bench/_bench_util.py": "the raw pyzmq echo server baseline",
    "bench/bench_codec.py": "bare msgpack, the codec's baseline",
}
"""Test and bench code that deliberately plays a foreign client (or a baseline) and so
makes raw sockets or raw msgpack; everything else goes through the transport and codec."""


def _python_files() -> Iterator[tuple[str, ast.Module]]:
    for folder in ("actors", "messages", "supervisor", "examples", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path))
    yield "run_node.py", ast.parse((ROOT / "run_node.py").read_text())


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else "?"


_CONTEXTS = {"zmq.Context", "zmq.asyncio.Context", "zmq.Context.instance",
             "zmq.asyncio.Context.instance"}


def _socket_making(tree: ast.Module) -> list[str]:
    """Places that make a ZeroMQ context or socket: a call of ``zmq.Context`` or
    ``zmq.asyncio.Context`` (``.instance()`` included), ``<anything>.socket(kind)`` (the
    stdlib's ``socket.socket`` and paho's argument-less ``client.socket()`` excepted),
    importing ``Context`` from zmq, and ZeroMQ's ``zmq.auth``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dotted(node.func) in _CONTEXTS:
            found.append(f"line {node.lineno}: {_dotted(node.func)}()")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "socket" and node.args \
                and _dotted(node.func.value) != "socket":
            found.append(f"line {node.lineno}: {_dotted(node.func)}(...)")
        if isinstance(node, ast.Attribute) and _dotted(node) == "zmq.auth":
            found.append(f"line {node.lineno}: zmq.auth")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zmq") and (
                node.module.startswith("zmq.auth") or any(a.name == "Context" for a in node.names)):
            found.append(f"line {node.lineno}: from {node.module} import ...")
    return found


def _msgpack_imports(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "msgpack" for a in node.names):
            found.append(f"line {node.lineno}: import msgpack")
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "msgpack":
            found.append(f"line {node.lineno}: from msgpack import ...")
    return found


def test_only_the_transport_makes_sockets():
    """No module but the transport makes a ZeroMQ context or socket (foreign-client test
    and bench code excepted, each for the reason FOREIGN gives)."""
    offenders = {path: found for path, tree in _python_files()
                 if path not in SOCKET_OWNERS and path not in FOREIGN
                 and (found := _socket_making(tree))}
    assert offenders == {}, f"make sockets through actors._transport instead: {offenders}"


def test_only_the_codec_uses_msgpack():
    """No module but the codec imports msgpack (use messages.encode/decode or
    pack_value/unpack_value); foreign-client test and bench code excepted."""
    offenders = {path: found for path, tree in _python_files()
                 if path not in CODEC and path not in FOREIGN and (found := _msgpack_imports(tree))}
    assert offenders == {}, f"go through messages' codec instead: {offenders}"


def test_the_scan_finds_what_it_forbids():
    """The scans catch each form they forbid (a scan that finds nothing proves nothing)."""
    tree = ast.parse("import zmq, msgpack\nfrom msgpack import packb\nctx = zmq.Context()\n"
                     "a = zmq.asyncio.Context.instance()\ns = ctx.socket(zmq.SUB)\n"
                     "import socket\nt = socket.socket(socket.AF_INET)\nu = client.socket()\n"
                     "from zmq.auth.thread import ThreadAuthenticator\nc: zmq.Context[Any]\n")
    assert sorted(f.split(":")[0] for f in _socket_making(tree)) == [
        "line 3", "line 4", "line 5", "line 9"]
    assert len(_msgpack_imports(tree)) == 2


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context = new_context()
    yield context
    close_context(context)


def test_ipc_endpoints_are_private(ctx: zmq.Context[zmq.Socket[bytes]], tmp_path: Path):
    """An ipc socket's missing directory is created 0700 and the socket file is 0600."""
    path = tmp_path / "run" / "deeper" / "node.sock"
    socket = bind_socket(ctx, zmq.ROUTER, f"ipc://{path}")
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    dealer = connect_socket(ctx, zmq.DEALER, f"ipc://{path}")
    dealer.send(b"hello")
    try:
        assert socket.poll(2000) and socket.recv_multipart()[-1] == b"hello"
    finally:
        dealer.close()
        socket.close()


def test_tcp_sockets_get_the_project_options(ctx: zmq.Context[zmq.Socket[bytes]]):
    """Linger 0, fast reconnects and ZMTP heartbeats on TCP; caller options on top."""
    server = bind_socket(ctx, zmq.ROUTER, "tcp://127.0.0.1:*", rcvhwm=7)
    client = connect_socket(ctx, zmq.DEALER, bound_endpoint(server))
    try:
        assert (server.linger, server.rcvhwm, client.linger) == (0, 7, 0)
        assert (client.reconnect_ivl, client.reconnect_ivl_max) == (2, 10)
        assert server.heartbeat_ivl == client.heartbeat_ivl == 5000
        assert client.heartbeat_timeout == 30_000
    finally:
        client.close()
        server.close()


def _event_frames(event: object, *, raw: dict[str, object] | None = None) -> list[bytes]:
    tag = type_tag(event)
    body = to_wire(event) if raw is None else raw
    return [tag.encode(), encode(Envelope(KIND_EVENT, 0, "echo", tag, body))]


def test_read_event_types_lifecycle_events_and_skips_welcomes():
    """lifecycle.* comes typed, other topics as their map, node.welcome not at all."""
    event = read_event(_event_frames(ActorExited("echo", 3, "killed by SIGKILL", 99)))
    assert event is not None and event.lifecycle == ActorExited("echo", 3, "killed by SIGKILL", 99)
    assert event.lifecycle.ended and event.body["cause"] == "killed by SIGKILL"
    assert read_event(_event_frames(Welcome("lifecycle."))) is None
    other = read_event([b"health.alert", encode(Envelope(KIND_EVENT, 0, "health", "health.alert",
                                                         {"name": "health", "id": 4}))])
    assert other is not None and other.lifecycle is None and other.body == {"name": "health", "id": 4}
    with pytest.raises(ProtocolError):  # a started event without its pid type
        read_event(_event_frames(ActorStarted("echo", 1), raw={"name": "echo", "incarnation": "1"}))


def test_event_reader_confirms_and_counts_refused_frames(ctx: zmq.Context[zmq.Socket[bytes]]):
    """Against a stand-in node (an XPUB that welcomes each subscription), the reader is
    confirmed, hands out events in order, and counts a frame that does not decode."""
    pub = bind_socket(ctx, zmq.XPUB, "tcp://127.0.0.1:*", xpub_verbose=1)
    endpoint = bound_endpoint(pub)
    stop = threading.Event()

    def welcome() -> None:  # the node's XPUB loop, reduced to the welcome
        while not stop.is_set():
            if pub.poll(20):
                frame = pub.recv()
                if frame[:1] == b"\x01":
                    pub.send_multipart(_event_frames(Welcome(frame[1:].decode())))

    thread = threading.Thread(target=welcome)
    thread.start()
    try:
        with EventReader(endpoint, "lifecycle.") as reader:
            assert reader.confirmed
            stop.set()
            thread.join()
            pub.send_multipart([b"lifecycle.exited", b"\xc1 not msgpack"])
            pub.send_multipart(_event_frames(ActorStarted("echo", 2, pid=7)))
            pub.send_multipart([b"health.alert", b"ignored: not subscribed"])
            event = reader.next(5.0)
            assert event is not None and event.lifecycle == ActorStarted("echo", 2, pid=7)
            assert reader.refused == 1
            started = time.monotonic()
            assert reader.next(0.05) is None and time.monotonic() - started < 2.0
    finally:
        stop.set()
        thread.join()
        pub.close()
