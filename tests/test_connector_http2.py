"""The HTTP actor over HTTP/2 against a real HTTP/2 server on loopback (Hypercorn over TLS
with ALPN, a throwaway CA from trustme): the server sees HTTP/2, concurrent asks travel as
streams of one connection, and the resource's limits and the asker's deadline still hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.connectors.http import HttpRequest, HttpResponse, HttpStatistics
from messages import HandlerError
from tests.h2_server import H2Server
from tests.nodes import RunningNode


@pytest.fixture
def h2(tmp_path: Path) -> Iterator[Callable[..., H2Server]]:
    """Start HTTP/2 servers (options of :class:`H2Server`); all closed at teardown."""
    servers: list[H2Server] = []

    def make(**options: Any) -> H2Server:
        folder = tmp_path / f"h2-{len(servers)}"
        folder.mkdir()
        servers.append(H2Server(folder, **options))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def h2_node(start_node: Callable[..., RunningNode], h2: Callable[..., H2Server],
            ) -> Iterator[Callable[..., RunningNode]]:
    """Start a node whose HTTP actor has resource ``api`` at an HTTP/2 server, trusting its CA
    (``trust=False``: the system's CAs only). The nodes stop before the servers close: a
    TLS connection a node still held would keep its server waiting for the close."""
    started: list[RunningNode] = []

    def start(server: H2Server, *, trust: bool = True, **resource: Any) -> RunningNode:
        started.append(start_node({"children": [
            {"name": "breaker", "actor": "breaker"},
            {"name": "http", "actor": "http", "settings": {"resources": {"api": {
                "base_url": f"{server.url}/", **({"ca_file": server.ca_file} if trust else {}),
                **resource}}}},
        ]}))
        return started[-1]

    yield start
    for node in started:
        node.stop()


def test_concurrent_asks_are_streams_of_one_http2_connection(
        h2_node: Callable[..., RunningNode], h2: Callable[..., H2Server]) -> None:
    """Eight asks sent at once from a cold start, each answered only once the server holds
    all eight: the server sees each as HTTP/2, all eight in hand at the same time, and all
    on one TCP connection (one client address) — with HTTP/1.1 eight requests in hand at
    once would need eight connections."""
    server = h2()
    node = h2_node(server)
    with node.connect() as conn:
        replies = conn.ask_many("http", [HttpRequest("gather", params={"n": 8})] * 8, timeout=15)
        stats = conn.ask("http", "actor.statistics", {}, timeout=5)
    assert all(isinstance(r, HttpResponse) and r.status == 200 for r in replies)
    assert {r.http_version for r in replies} == {"HTTP/2"}
    assert {r.json["http_version"] for r in replies} == {"2"}
    assert server.versions() == {"2"} and len(server.got("/gather")) == 8
    assert server.max_in_flight == 8
    assert len(server.connections()) == 1, server.connections()
    assert isinstance(stats, HttpStatistics) and stats.http2


def test_concurrency_limit_holds_over_http2(h2_node: Callable[..., RunningNode],
                                            h2: Callable[..., H2Server]) -> None:
    """With concurrency 2, six asks at once (each answered once the server holds two) never
    put more than two streams in the server's hands, though one connection could carry all
    six."""
    server = h2()
    node = h2_node(server, concurrency=2)
    with node.connect() as conn:
        replies = conn.ask_many("http", [HttpRequest("gather", params={"n": 2})] * 6, timeout=15)
    assert [r.status for r in replies] == [200] * 6
    assert server.max_in_flight == 2 and len(server.connections()) == 1
    assert server.versions() == {"2"}


def test_deadline_cut_streams_do_not_wedge_the_connection(
        h2_node: Callable[..., RunningNode], h2: Callable[..., H2Server]) -> None:
    """Three asks with a 1 s deadline to a 30 s answer end in ServiceTimeout before their
    deadline. The server allows 3 streams per connection, and httpcore does not reset a
    stream it gave up on (encode/httpcore#1022), so h2 still counts all three as open: the
    next ask is refused by h2 before anything is sent, the actor opens a new connection and
    the retry goes through on it. (When httpcore resets such streams, the next ask takes one
    attempt on the first connection and this test fails: then Clients.replace can go.)"""
    server = h2(max_streams=3)
    node = h2_node(server)
    with node.connect() as conn:
        assert conn.ask("http", HttpRequest("first"), timeout=5).status == 200
        cut = conn.ask_many("http", [HttpRequest("slow", params={"s": 30})] * 3, timeout=1.0,
                            return_exceptions=True)
        assert [e.details["exception"] for e in cut] == ["ServiceTimeout"] * 3
        after = conn.ask("http", HttpRequest("after"), timeout=5)
        stats = conn.ask("http", "actor.statistics", {}, timeout=5)
    assert (after.status, after.attempts, after.http_version) == (200, 2, "HTTP/2")
    assert stats.resources["api"]["connections_replaced"] == 1
    first, = server.connections("/first")
    assert server.connections("/slow") == {first}
    assert server.connections("/after") != {first}


def test_a_server_outside_the_trusted_cas_is_refused(h2_node: Callable[..., RunningNode],
                                                     h2: Callable[..., H2Server]) -> None:
    """Without ``ca_file`` the throwaway CA is not trusted: the ask fails with
    ServiceUnavailable (the connection could not be opened, so it never ran) and the server
    never sees a request."""
    server = h2()
    node = h2_node(server, trust=False, retry={"max_attempts": 1})
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("http", HttpRequest("x"), timeout=5)
    assert caught.value.details["exception"] == "ServiceUnavailable"
    assert caught.value.details["may_have_run"] is False
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert server.got() == []
