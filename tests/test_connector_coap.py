"""The CoAP actor on a real node, spoken to with aiocoap over loopback: actors served as
resources (GET and POST become asks), and devices asked with coap.request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import aiocoap
import aiocoap.resource
import pytest

from actors.connectors import LoopThread
from actors.connectors.coap import CoapRequest, CoapResponse, CoapStatistics
from messages import HandlerError
from tests.nodes import RunningNode, eventually, free_port


class Device(aiocoap.resource.Resource):  # type: ignore[misc]
    """A device's resource: GET answers a reading, POST echoes what it got."""

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CONTENT, payload=b'{"celsius": 21.5}', content_format=50)

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload, content_format=50)


class Peer:
    """An aiocoap context on a loop thread of its own: a client, and a device on ``port``."""

    def __init__(self) -> None:
        self.thread = LoopThread("coap-peer")
        self.port = free_port()
        site = aiocoap.resource.Site()
        site.add_resource(["temp"], Device())
        self.context = self.thread.run(aiocoap.Context.create_server_context(
            site, bind=("127.0.0.1", self.port)), 10)

    def request(self, method: Any, uri: str, payload: bytes = b"") -> aiocoap.Message:
        """Send one request and wait for the response."""
        async def send() -> aiocoap.Message:
            return await self.context.request(aiocoap.Message(code=method, uri=uri,
                                                              payload=payload)).response
        return self.thread.run(send(), 15)

    def close(self) -> None:
        self.thread.run(self.context.shutdown(), 10)
        self.thread.close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    client = Peer()
    yield client
    client.close()


@pytest.fixture
def coap_node(start_node: Callable[..., RunningNode], peer: Peer) -> tuple[RunningNode, str]:
    """A node serving echo at /echo (GET and POST) and /only-get, allowed to ask the peer."""
    port = free_port()
    node = start_node({"children": [
        {"name": "profiler", "actor": "profiler"},
        {"name": "echo", "actor": "echo"},
        {"name": "coap", "actor": "coap", "settings": {
            "port": port, "request": [f"coap://127.0.0.1:{peer.port}/*"],
            "resources": [{"path": "echo", "target": "echo", "get": "echo.ping", "post": "echo.ping"},
                          {"path": "only/get", "target": "echo", "get": "echo.ping"}]}},
    ]})
    return node, f"coap://127.0.0.1:{port}"


def test_get_and_post_map_to_asks(coap_node: tuple[RunningNode, str], peer: Peer) -> None:
    """GET asks with the query as the body (values read as JSON), answering 2.05 Content; POST
    asks with the JSON payload, answering 2.04 Changed; both in JSON (Content-Format 50)."""
    node, base = coap_node
    got = peer.request(aiocoap.GET, f"{base}/echo?n=3&text=hi")
    assert str(got.code) == "2.05 Content" and got.opt.content_format == 50
    assert json.loads(got.payload) == {"n": 3, "text": "hi", "incarnation": 1}
    got = peer.request(aiocoap.POST, f"{base}/echo", b'{"n": 4}')
    assert str(got.code) == "2.04 Changed" and json.loads(got.payload)["n"] == 4
    with node.connect() as conn:
        stats = conn.ask("coap", "actor.statistics", {}, timeout=2.0)
        assert isinstance(stats, CoapStatistics) and (stats.served, stats.answered) == (2, 2)


def test_bad_requests_get_4xx_and_the_actor_keeps_serving(coap_node: tuple[RunningNode, str],
                                                          peer: Peer) -> None:
    """Not JSON, wrong fields → 4.00 with the reason; an unserved method → 4.05; an unknown
    path → 4.04; the actor answers the next good request, unrestarted."""
    node, base = coap_node
    bad = peer.request(aiocoap.POST, f"{base}/echo", b"{nope")
    assert str(bad.code) == "4.00 Bad Request" and b"not JSON" in bad.payload
    wrong = peer.request(aiocoap.POST, f"{base}/echo", b'{"n": "four"}')
    assert str(wrong.code) == "4.00 Bad Request" and b"expected an integer" in wrong.payload
    assert str(peer.request(aiocoap.POST, f"{base}/only/get", b"{}").code) == "4.05 Method Not Allowed"
    assert str(peer.request(aiocoap.GET, f"{base}/nowhere").code) == "4.04 Not Found"
    assert str(peer.request(aiocoap.GET, f"{base}/echo?n=1").code) == "2.05 Content"
    with node.connect() as conn:
        stats = conn.ask("coap", "actor.statistics", {}, timeout=2.0)
        assert stats.bad_requests == 2 and stats.answered == 1
        assert {r.name: r.incarnation for r in conn.status().actors}["coap"] == 1


def test_a_target_that_is_down_is_503(start_node: Callable[..., RunningNode], peer: Peer) -> None:
    """A resource whose actor does not exist answers 5.03 Service Unavailable, not a hang."""
    port = free_port()
    start_node({"children": [{"name": "coap", "actor": "coap", "settings": {
        "port": port, "breaker": None,
        "resources": [{"path": "ghost", "target": "nobody", "get": "echo.ping", "timeout": 1.0}]}}]})
    got = peer.request(aiocoap.GET, f"coap://127.0.0.1:{port}/ghost")
    assert str(got.code) == "5.03 Service Unavailable" and b"nobody" in got.payload


def test_coap_request_reaches_a_device(coap_node: tuple[RunningNode, str], peer: Peer) -> None:
    """coap.request GETs and POSTs to a device and returns its answer decoded; a URI outside
    settings.request is refused; a device that does not answer is DeviceUnavailable."""
    node, _ = coap_node
    device = f"coap://127.0.0.1:{peer.port}/temp"
    with node.connect() as conn:
        got = conn.ask("coap", CoapRequest(device), timeout=10.0)
        assert isinstance(got, CoapResponse)
        assert (got.code, got.success, got.content_format) == ("2.05", True, 50)
        assert got.payload == {"celsius": 21.5}
        posted = conn.ask("coap", CoapRequest(device, "POST", {"set": 19}), timeout=10.0)
        assert posted.code == "2.04" and posted.payload == {"set": 19}
        missing = conn.ask("coap", CoapRequest(f"coap://127.0.0.1:{peer.port}/none"), timeout=10.0)
        assert (missing.code, missing.success) == ("4.04", False)
        with pytest.raises(HandlerError) as refused:
            conn.ask("coap", CoapRequest("coap://127.0.0.2/temp"), timeout=10.0)
        assert refused.value.details["exception"] == "PublishRefused"

        def timings() -> dict[str, int]:
            ops = conn.ask("profiler", "profiler.report", {"window": "all"})["ops"]
            return {op: int(v["windows"]["all"]["count"]) for op, v in ops.items()}
        op = f"coap:request:127.0.0.1:{peer.port}/temp"
        assert eventually(lambda: timings().get(op) == 2, timeout=10), timings()


def test_a_silent_device_is_unavailable(start_node: Callable[..., RunningNode]) -> None:
    """A request to a port where nothing answers fails with DeviceUnavailable within its timeout."""
    silent = free_port()
    node = start_node({"children": [{"name": "coap", "actor": "coap", "settings": {
        "port": 0, "breaker": None, "request": ["coap://127.0.0.1:*"]}}]})
    with node.connect() as conn:
        with pytest.raises(HandlerError) as down:
            conn.ask("coap", CoapRequest(f"coap://127.0.0.1:{silent}/x", timeout=1.0), timeout=10.0)
        assert down.value.details["exception"] == "DeviceUnavailable"
        stats = conn.ask("coap", "actor.statistics", {}, timeout=2.0)
        assert stats.unreachable == 1 and stats.endpoint == ""
