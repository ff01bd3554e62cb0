"""The HTTP actor on a real node against a real HTTP server on loopback: requests and
responses as messages, limits and pauses shared by every agent, retries by method, the
breaker, deadlines, and keys that never show."""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.connectors.http import HttpRequest, HttpResponse, HttpStatistics
from messages import HandlerError
from tests.http_servers import Answer, Got, ScriptedServer, serving
from tests.nodes import RunningNode, free_port

SECRET = "sk-test-7f3a9c1e5b2d4e6f8a0b"
"""The API key the node reads from its environment; no output may ever show it."""


def echo(got: Got) -> Answer:
    return Answer(200, {"method": got.method, "path": got.path, "query": got.query,
                        "json": got.json() if got.body.startswith(b"{") else None,
                        "authorized": got.headers.get("authorization") == f"Bearer {SECRET}"})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    yield from serving({"/": echo, "/slow": lambda got: Answer(200, {"slow": True}, delay=float(
        got.query.get("s", ["0.3"])[0])), "/fail": lambda got: Answer(500, {"error": "boom"})})


def http_node(start_node: Callable[..., RunningNode], server: ScriptedServer,
              resources: dict[str, Any] | None = None, breaker: dict[str, Any] | None = None,
              ) -> RunningNode:
    """A node with profiler, breaker and an HTTP actor whose resource ``api`` is ``server``."""
    return start_node({"children": [
        {"name": "profiler", "actor": "profiler"},
        {"name": "breaker", "actor": "breaker", "settings": breaker or {}},
        {"name": "http", "actor": "http", "settings": {"resources": resources or {
            "api": {"base_url": f"{server.url}/v1/", "api_key_env": "TEST_API_KEY"}}}},
    ]}, env={"TEST_API_KEY": SECRET})


def ask(node: RunningNode, msg: HttpRequest, timeout: float = 10.0) -> HttpResponse:
    with node.connect() as conn:
        reply = conn.ask("http", msg, timeout=timeout)
    assert isinstance(reply, HttpResponse)
    return reply


def test_get_and_post_travel_as_messages_on_kept_alive_connections(
        start_node: Callable[..., RunningNode], server: ScriptedServer) -> None:
    """A GET with query parameters and a POST with a JSON body reach the server under the base
    URL with the key in Authorization; the answer comes back as status, headers, bytes and
    decoded JSON; the requests share one kept-alive connection."""
    node = http_node(start_node, server)
    got = ask(node, HttpRequest("items/7", params={"full": "yes"}))
    assert got.status == 200 and got.ok and got.attempts == 1
    assert got.json == {"method": "GET", "path": "/v1/items/7", "query": {"full": ["yes"]},
                        "json": None, "authorized": True}
    assert json.loads(got.body) == got.json and got.headers["content-type"] == "application/json"
    posted = ask(node, HttpRequest("/items", method="POST", json={"name": "lamp"}))
    assert posted.json["method"] == "POST" and posted.json["json"] == {"name": "lamp"}
    full = ask(node, HttpRequest(f"{server.url}/v1/items/8"))
    assert full.json["path"] == "/v1/items/8"
    assert len({r.peer for r in server.got("/v1/")}) == 1, "each request opened a connection"


def test_requests_outside_the_resource_are_refused(start_node: Callable[..., RunningNode],
                                                   server: ScriptedServer) -> None:
    """A full URL on another host, an unknown resource, or json and body together are refused
    before anything is sent (PublishRefused is a PermissionError; BadPayload a ValueError)."""
    node = http_node(start_node, server)
    with node.connect() as conn:
        for msg, exception in ((HttpRequest("http://example.invalid/v1/x"), "PublishRefused"),
                               (HttpRequest("x", resource="nope"), "PublishRefused"),
                               (HttpRequest("x", json={}, body=b"{}"), "BadPayload")):
            with pytest.raises(HandlerError) as caught:
                conn.ask("http", msg, timeout=5.0)
            assert caught.value.details["exception"] == exception
    assert server.got("/") == []


def test_rate_limit_is_shared_by_every_agent(start_node: Callable[..., RunningNode],
                                             server: ScriptedServer) -> None:
    """Four agents asking at once through a resource limited to 5 requests/s (burst 1): the
    server never sees requests closer together than the bucket allows. A token bucket of
    capacity b refilled at r per second admits at most b + r*t requests in any t seconds,
    so with b = 1 the k-th request after the first arrives no sooner than k/r seconds."""
    node = http_node(start_node, server, {"api": {"base_url": f"{server.url}/v1/", "rate": 5.0,
                                                  "burst": 1}})
    ask(node, HttpRequest("warm-up"))  # the connection is open before the measured requests

    def agent(n: int) -> list[int]:
        with node.connect() as conn:
            return [conn.ask("http", HttpRequest(f"a{n}/{i}"), timeout=10.0).status for i in range(3)]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = [s for f in [pool.submit(agent, n) for n in range(4)] for s in f.result()]
    assert statuses == [200] * 12
    arrivals = sorted(r.at for r in server.got("/v1/a"))
    slack = 0.05  # the server stamps arrivals a little after the actor sent them
    for k, at in enumerate(arrivals):
        assert at - arrivals[0] >= k / 5.0 - slack, (k, [round(a - arrivals[0], 3) for a in arrivals])
    with node.connect() as conn:
        stats = conn.ask("http", "actor.statistics", {}, timeout=5.0)
    assert isinstance(stats, HttpStatistics) and stats.resources["api"]["throttled"] >= 1


def test_concurrency_limit_bounds_requests_in_flight(start_node: Callable[..., RunningNode],
                                                     server: ScriptedServer) -> None:
    """Six slow requests at once through a resource with concurrency 2: the server never has
    more than two in hand, and every one is answered."""
    node = http_node(start_node, server, {"api": {"base_url": f"{server.url}/", "concurrency": 2}})
    with node.connect() as conn:
        replies = conn.ask_many("http", [HttpRequest("slow", params={"s": 0.2}) for _ in range(6)],
                                timeout=15.0)
    assert [r.status for r in replies] == [200] * 6
    assert server.max_in_flight == 2


def test_retry_after_pauses_every_agent_for_that_resource(start_node: Callable[..., RunningNode],
                                                          server: ScriptedServer) -> None:
    """A 429 with Retry-After: 1 to one agent's POST pauses the resource: that POST is sent
    again after the pause (a 429 was not acted on, RFC 6585 §4), and another agent's GET,
    asked during the pause, reaches the server only once the pause is over."""
    node = http_node(start_node, server)
    server.script("/v1/limited", Answer(429, {"error": "slow down"}, {"Retry-After": "1"}))
    with node.connect() as first, node.connect() as second:
        posting = concurrent.futures.ThreadPoolExecutor(1).submit(
            first.ask, "http", HttpRequest("limited", method="POST", json={"n": 1}), timeout=10.0)
        limited_at = _wait_for(lambda: server.got("/v1/limited"))[0].at
        other = second.ask("http", HttpRequest("other"), timeout=10.0)
        posted = posting.result(10)
    assert posted.status == 200 and posted.attempts == 2
    assert other.status == 200
    second_post = server.got("/v1/limited")[1]
    (other_got,) = server.got("/v1/other")
    assert second_post.at - limited_at >= 1.0 - 0.02
    assert other_got.at - limited_at >= 1.0 - 0.02


def test_a_pause_past_the_deadline_is_refused_at_once(start_node: Callable[..., RunningNode],
                                                      server: ScriptedServer) -> None:
    """While the resource is paused for 30 s, an ask with a 2 s deadline fails at once with
    RateLimited (nothing sent; may_have_run false), not by timing out."""
    node = http_node(start_node, server)
    server.script("/v1/limited", Answer(503, b"busy", {"Retry-After": "30"}))
    with node.connect() as conn:
        first = conn.ask("http", HttpRequest("limited", method="POST"), timeout=5.0)
        assert first.status == 503 and first.attempts == 1  # a POST that may have run: not retried
        started = time.monotonic()
        with pytest.raises(HandlerError) as caught:
            conn.ask("http", HttpRequest("anything"), timeout=2.0)
        assert time.monotonic() - started < 2.0
    assert caught.value.details["exception"] == "RateLimited"
    assert caught.value.details["may_have_run"] is False and "paused" in str(caught.value)
    assert server.got("/v1/anything") == []


def test_idempotent_requests_are_retried_and_others_are_not(start_node: Callable[..., RunningNode],
                                                            server: ScriptedServer) -> None:
    """A GET that meets 502 then 200 is retried (2 attempts); a POST that meets 502 is answered
    with the 502 (it may have run); a POST marked idempotent is retried; a GET failing on every
    attempt ends with the last response after the policy's 3 attempts."""
    node = http_node(start_node, server)
    server.script("/v1/get", Answer(502))
    assert ask(node, HttpRequest("get")).attempts == 2
    server.script("/v1/post", Answer(502))
    post = ask(node, HttpRequest("post", method="POST", json={}))
    assert (post.status, post.attempts) == (502, 1)
    server.script("/v1/again", Answer(502))
    assert ask(node, HttpRequest("again", method="POST", idempotent=True)).attempts == 2
    server.script("/v1/down", Answer(500), Answer(500), Answer(500), Answer(500))
    down = ask(node, HttpRequest("down"))
    assert (down.status, down.attempts) == (500, 3)
    assert len(server.got("/v1/down")) == 3


def test_timeouts_are_capped_by_the_askers_deadline(start_node: Callable[..., RunningNode],
                                                    server: ScriptedServer) -> None:
    """A service slower than the asker's 1 s deadline ends in ServiceTimeout, replied before the
    deadline (not the asker's AskTimeout), saying it may have run."""
    node = http_node(start_node, server, {"api": {"base_url": f"{server.url}/", "timeout": 30,
                                                  "retry": {"max_attempts": 1}}})
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("http", HttpRequest("slow", params={"s": 5}), timeout=1.0)
    assert caught.value.details["exception"] == "ServiceTimeout"
    assert caught.value.details["may_have_run"] is True
    assert isinstance(caught.value, HandlerError)


def test_connection_refused_is_retried_for_any_method(start_node: Callable[..., RunningNode],
                                                      server: ScriptedServer) -> None:
    """Nothing listens on the resource's port: a POST is tried on every attempt of the policy
    (it cannot have reached the service) and fails with ServiceUnavailable, may_have_run
    false, attempts 2."""
    node = http_node(start_node, server, {"api": {
        "base_url": f"http://127.0.0.1:{free_port()}/", "retry": {"max_attempts": 2,
                                                                  "base_delay": 0.01}}})
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("http", HttpRequest("x", method="POST", json={}), timeout=5.0)
    details = caught.value.details
    assert (details["exception"], details["may_have_run"], details["attempts"]) == \
        ("ServiceUnavailable", False, 2)


def test_breaker_opens_on_error_rate_and_on_slow_calls(start_node: Callable[..., RunningNode],
                                                       server: ScriptedServer) -> None:
    """Resource http:flaky (always 500) opens its circuit once 4 calls hold 50 % failures;
    resource http:sluggish (0.3 s answers, slow past 0.1 s) once 4 calls are 100 % slow
    (resilience4j: opens when the failure rate or the slow-call rate reaches its threshold
    over a window holding minimum_calls). Then asks fail with CircuitOpenError and nothing
    more reaches the server."""
    policy = {"minimum_calls": 4, "window_size": 4, "failure_rate": 0.5, "slow_call_rate": 1.0,
              "slow_call_seconds": 0.1, "open_seconds": 60}
    node = http_node(start_node, server, {
        "flaky": {"base_url": f"{server.url}/fail/", "retry": {"max_attempts": 1}},
        "sluggish": {"base_url": f"{server.url}/slow/", "retry": {"max_attempts": 1}},
    }, breaker={"resources": {"http:flaky": {"breaker": policy},
                              "http:sluggish": {"breaker": policy}}})
    with node.connect() as conn:
        for resource, path in (("flaky", "/fail/"), ("sluggish", "/slow/")):
            for _ in range(4):
                conn.ask("http", HttpRequest("x", resource=resource), timeout=5.0)
            seen = len(server.got(path))

            def refused(resource: str = resource) -> bool:
                try:
                    conn.ask("http", HttpRequest("x", resource=resource), timeout=5.0)
                except HandlerError as exc:
                    return exc.details["exception"] == "CircuitOpenError"
                return False

            assert _wait_for(refused)
            assert len(server.got(path)) <= seen + 2  # at most what passed before the open was seen
            after = len(server.got(path))
            assert refused() and len(server.got(path)) == after
        stats = conn.ask("http", "actor.statistics", {}, timeout=5.0)
    assert stats.availability == 0.0
    assert {stats.resources[r]["state"] for r in ("flaky", "sluggish")} == {"open"}


def test_the_key_never_shows(start_node: Callable[..., RunningNode], server: ScriptedServer,
                             tmp_path: Any) -> None:
    """After successes, 500s, refused URLs, connection failures and timeouts, the key is in
    no error message, no statistics, no status, no event and no log line; the server got it."""
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    node = http_node(start_node, server, {
        "api": {"base_url": f"{server.url}/v1/", "api_key_env": "TEST_API_KEY"},
        "filed": {"base_url": f"{server.url}/f/", "api_key_file": str(key_file),
                  "auth_header": "X-Api-Key", "auth_scheme": ""},
        "gone": {"base_url": f"http://127.0.0.1:{free_port()}/", "api_key_env": "TEST_API_KEY",
                 "retry": {"max_attempts": 1}}})
    events = node.event_log()
    texts: list[str] = []
    try:
        with node.connect() as conn:
            assert conn.ask("http", HttpRequest("ok", resource="api"), timeout=5).json["authorized"]
            conn.ask("http", HttpRequest("x", resource="filed"), timeout=5)
            for msg in (HttpRequest(f"http://elsewhere.invalid/{SECRET[:6]}"),
                        HttpRequest("x", resource="gone"),
                        HttpRequest("slow", resource="api", params={"s": 3}),
                        HttpRequest("x", resource="missing")):
                try:
                    conn.ask("http", msg, timeout=1.0)
                except Exception as exc:
                    texts.append(f"{exc} {exc.__dict__}")
            texts.append(repr(conn.ask("http", "actor.statistics", {}, timeout=5)))
        texts.append(node.cli("status", "--json").stdout)
        texts.append(node.cli("breakers").stdout)
    finally:
        events.close()
    assert server.got("/f/")[0].headers["x-api-key"] == SECRET
    texts += [json.dumps(e, default=repr) for e in events.events]
    texts.append(node.log_text())
    assert len(texts) >= 7
    for text in texts:
        assert SECRET not in text


def _wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    from tests.nodes import eventually

    found = eventually(check, timeout)
    assert found, "the condition did not come true in time"
    return found
