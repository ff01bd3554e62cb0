"""The OpenAI-compatible actor on a real node, with the official client, against a real HTTP
server on loopback that speaks the OpenAI wire format (tests/openai_server.py): only the
model behind it is scripted."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from actors.connectors.openai import (
    Chat,
    ChatCompletion,
    ChatStream,
    Embed,
    Embeddings,
    Next,
    OpenAIStatistics,
    StreamedChat,
)
from actors.health import StatusQuery
from actors.profiler import Report
from messages import HandlerError
from tests.http_servers import ScriptedServer
from tests.nodes import RunningNode
from tests.openai_server import api_error, openai_server

KEY = "sk-proj-Q9x8W7v6U5t4S3r2"
PRICES = {"tiny-chat": {"prompt": 2.0, "completion": 8.0}, "tiny-embed": {"prompt": 0.5}}
HI = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


@pytest.fixture
def api() -> Iterator[ScriptedServer]:
    server = openai_server(piece_delay=0.15)
    yield server
    server.close()


def openai_node(start_node: Callable[..., RunningNode], api: ScriptedServer, *,
                health: bool = False, **settings: Any) -> RunningNode:
    watch = [{"name": "health", "actor": "health"}] if health else []
    return start_node({"children": [
        {"name": "profiler", "actor": "profiler"}, *watch,
        {"name": "breaker", "actor": "breaker"},
        {"name": "openai", "actor": "openai", "settings": {
            "base_url": f"{api.url}/v1", "api_key_env": "TEST_OPENAI_KEY", "model": "tiny-chat",
            "prices": PRICES, **settings}},
    ]}, env={"TEST_OPENAI_KEY": KEY})


def test_chat_counts_tokens_and_cost_per_model(start_node: Callable[..., RunningNode],
                                               api: ScriptedServer) -> None:
    """A chat answers the model's text with its token counts; the cost is the price per
    million tokens times the tokens (4 read at $2, 3 written at $8: $0.000032); the key went
    as a Bearer token; statistics, health and the profiler have the model."""
    node = openai_node(start_node, api, health=True)
    with node.connect() as conn:
        got = conn.ask("openai", Chat(HI), timeout=10)
        assert isinstance(got, ChatCompletion)
        assert (got.content, got.finish_reason, got.prompt_tokens, got.completion_tokens) == \
            ("echo: hello there", "stop", 4, 3)
        assert got.cost == pytest.approx((4 * 2.0 + 3 * 8.0) / 1_000_000)
        vectors = conn.ask("openai", Embed(["a b", "c"], model="tiny-embed"), timeout=10)
        assert isinstance(vectors, Embeddings) and vectors.vectors == [[3.0, 0.0, 0.5], [1.0, 1.0, 0.5]]
        assert vectors.cost == pytest.approx(3 * 0.5 / 1_000_000)
        stats = conn.ask("openai", "actor.statistics", {}, timeout=5)
        assert isinstance(stats, OpenAIStatistics) and stats.availability == 1.0
        assert stats.models["tiny-chat"]["prompt_tokens"] == 4
        assert stats.models["tiny-chat"]["completion_tokens"] == 3
        assert stats.models["tiny-embed"]["prompt_tokens"] == 3
        assert stats.cost == pytest.approx(got.cost + vectors.cost)
        report = _eventually(lambda: _report(conn, "openai:chat:tiny-chat"))
        details = _eventually(lambda: conn.ask("health", StatusQuery("openai"), timeout=5)
                              .details.get("models"))
    assert api.got("/v1/chat/completions")[0].headers["authorization"] == f"Bearer {KEY}"
    assert report
    assert details["tiny-chat"]["completion_tokens"] == 3
    assert details["tiny-chat"]["cost"] == pytest.approx(got.cost)


def test_streamed_pieces_reach_the_asker_as_they_arrive(start_node: Callable[..., RunningNode],
                                                        api: ScriptedServer) -> None:
    """The server sends one piece every 0.15 s as server-sent events; the agent's iterator
    yields the first piece while the server is still sending (more than one pull brings
    pieces), the pieces join to the completion, and usage is counted from the stream."""
    node = openai_node(start_node, api)
    words = "one two three four five six"
    with node.connect() as conn:
        chat = StreamedChat(conn, Chat([{"role": "user", "content": words}]))
        pieces, arrived = [], []
        for piece in chat:
            pieces.append(piece)
            arrived.append(time.monotonic())
        assert "".join(pieces) == f"echo: {words}"
        assert chat.completion is not None and chat.completion.content == "".join(pieces)
        assert chat.completion.completion_tokens == 7 and chat.completion.prompt_tokens == 6
        assert chat.pulls >= 3, "the pieces came in one lump, not as they arrived"
        assert arrived[-1] - arrived[0] >= 0.15 * 4  # spread over the server's sending
        stats = conn.ask("openai", "actor.statistics", {}, timeout=5)
    assert stats.models["tiny-chat"]["completion_tokens"] == 7


def test_a_lost_pull_can_be_asked_again(start_node: Callable[..., RunningNode],
                                        api: ScriptedServer) -> None:
    """Pulling with the same ``after`` again gives the same pieces (a pull is idempotent), and
    an unknown stream is refused."""
    node = openai_node(start_node, api)
    with node.connect() as conn:
        started = conn.ask("openai", Chat([{"role": "user", "content": "a b"}], stream=True), timeout=10)
        assert isinstance(started, ChatStream)
        done = _eventually(lambda: conn.ask("openai", Next(started.stream, 0, 1.0), timeout=5).done
                           and conn.ask("openai", Next(started.stream, 0, 1.0), timeout=5))
        again = conn.ask("openai", Next(started.stream, 0, 1.0), timeout=5)
        assert done.pieces == again.pieces == ["echo: ", "a ", "b"] and again.done
        with pytest.raises(HandlerError) as caught:
            conn.ask("openai", Next("no-such-stream"), timeout=5)
        assert caught.value.details["exception"] == "RequestRejected"


def test_429_with_retry_after_pauses_and_is_retried(start_node: Callable[..., RunningNode],
                                                    api: ScriptedServer) -> None:
    """A 429 with retry-after 1 is retried after the pause (the client's own retries are off:
    the server sees exactly two requests), and another agent's chat during the pause waits
    for it; the statistics count the pause."""
    node = openai_node(start_node, api)
    api.script("/v1/chat/completions", api_error(429, "Rate limit reached", {"retry-after": "1"}))
    with node.connect() as first, node.connect() as second:
        asking = concurrent.futures.ThreadPoolExecutor(1).submit(first.ask, "openai", Chat(HI),
                                                                 timeout=10)
        limited_at = _eventually(lambda: api.got("/v1/chat/completions"))[0].at
        other = second.ask("openai", Chat(HI), timeout=10)
        got = asking.result(10)
        stats = first.ask("openai", "actor.statistics", {}, timeout=5)
    assert got.attempts == 2 and other.content == "echo: hello there"
    later = api.got("/v1/chat/completions")[1:]
    assert len(later) == 2 and all(r.at - limited_at >= 1.0 - 0.02 for r in later)
    assert stats.api["pauses"] == 1


def test_500s_are_retried_and_then_reported(start_node: Callable[..., RunningNode],
                                            api: ScriptedServer) -> None:
    """A 500 then an answer: retried (a chat changes nothing, so it is idempotent). Three 500s:
    ServiceUnavailable with status 500 after the policy's 3 attempts."""
    node = openai_node(start_node, api, retry={"max_attempts": 3, "base_delay": 0.01})
    api.script("/v1/chat/completions", api_error(500, "oops"))
    with node.connect() as conn:
        assert conn.ask("openai", Chat(HI), timeout=10).attempts == 2
        api.script("/v1/chat/completions", *[api_error(500, "oops")] * 3)
        with pytest.raises(HandlerError) as caught:
            conn.ask("openai", Chat(HI), timeout=10)
    details = caught.value.details
    assert (details["exception"], details["status"], details["attempts"]) == ("ServiceUnavailable", 500, 3)


def test_a_slow_answer_ends_before_the_deadline(start_node: Callable[..., RunningNode],
                                                api: ScriptedServer) -> None:
    """The model takes 5 s; an ask with a 1 s deadline hears ServiceTimeout in time."""
    from tests.http_servers import Answer

    node = openai_node(start_node, api, retry={"max_attempts": 1})
    api.script("/v1/chat/completions", Answer(200, {}, delay=5.0))
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        conn.ask("openai", Chat(HI), timeout=1.0)
    assert caught.value.details["exception"] == "ServiceTimeout"


def test_a_refused_key_is_rejected_without_showing_it(start_node: Callable[..., RunningNode],
                                                      api: ScriptedServer) -> None:
    """A 401 whose message quotes the key is RequestRejected (not retried), and neither the
    reply, the statistics nor the node's log shows the key."""
    node = openai_node(start_node, api)
    api.script("/v1/chat/completions", api_error(401, f"Incorrect API key provided: {KEY}."))
    with node.connect() as conn:
        with pytest.raises(HandlerError) as caught:
            conn.ask("openai", Chat(HI), timeout=10)
        stats = conn.ask("openai", "actor.statistics", {}, timeout=5)
    assert caught.value.details["exception"] == "RequestRejected"
    assert caught.value.details["status"] == 401 and "***" in str(caught.value)
    for text in (str(caught.value), json.dumps(caught.value.details), repr(stats), node.log_text(),
                 node.cli("status", "--json").stdout):
        assert KEY not in text
    assert len(api.got("/v1/chat/completions")) == 1


def test_a_stream_that_breaks_reports_the_error_after_its_pieces(
        start_node: Callable[..., RunningNode], api: ScriptedServer) -> None:
    """The server drops the connection mid-stream: the pieces that came are pulled, then the
    pull fails with ServiceUnavailable."""
    from tests.http_servers import Answer

    node = openai_node(start_node, api, timeout=2.0)
    api.script("/v1/chat/completions", Answer(
        200, headers={"Content-Type": "text/event-stream"},
        chunks=[b'data: {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": '
                b'"tiny-chat", "choices": [{"index": 0, "delta": {"content": "half"}, '
                b'"finish_reason": null}]}\n\n', b"garbage that is not an event\n\n"],
        chunk_delay=0.1))
    pieces: list[str] = []
    with node.connect() as conn, pytest.raises(HandlerError) as caught:
        for piece in StreamedChat(conn, Chat(HI)):
            pieces.append(piece)
    assert pieces == ["half"]
    assert caught.value.details["exception"] == "ServiceUnavailable"


CHAT_COST = (4 * 2.0 + 3 * 8.0) / 1_000_000
"""One chat of HI: 4 tokens read at $2 and 3 written at $8 per million (PRICES)."""


def _usage(conn: Any) -> tuple[dict[str, Any], OpenAIStatistics]:
    stats = conn.ask("openai", "actor.statistics", {}, timeout=5)
    assert isinstance(stats, OpenAIStatistics)
    return stats.models, stats


def _incarnation(conn: Any) -> int:
    return int(conn.status("openai").actors[0].incarnation)


def test_tokens_and_cost_survive_a_restart(start_node: Callable[..., RunningNode],
                                           api: ScriptedServer) -> None:
    """Two chats and an embedding, then ``run_node.py restart openai``: the next incarnation
    starts from the counts saved at the stop (no periodic saves: snapshot_interval 0), and
    a third chat adds to them (3 chats: 12 tokens read, 9 written, 3 x $0.000032)."""
    node = openai_node(start_node, api, snapshot_interval=0)
    with node.connect() as conn:
        conn.ask_many("openai", [Chat(HI), Chat(HI)], timeout=10)
        conn.ask("openai", Embed(["a b", "c"], model="tiny-embed"), timeout=10)
        before, stats = _usage(conn)
        assert stats.unsaved == 3
        assert node.cli("restart", "openai").returncode == 0
        assert _incarnation(conn) == 2
        restored, stats = _usage(conn)
        assert restored == before and stats.unsaved == 0
        assert stats.cost == pytest.approx(2 * CHAT_COST + 3 * 0.5 / 1_000_000)
        conn.ask("openai", Chat(HI), timeout=10)
        after, _ = _usage(conn)
    assert {k: after["tiny-chat"][k] for k in ("requests", "prompt_tokens", "completion_tokens")} \
        == {"requests": 3, "prompt_tokens": 12, "completion_tokens": 9}
    assert after["tiny-chat"]["cost"] == pytest.approx(3 * CHAT_COST)
    assert after["tiny-embed"] == before["tiny-embed"]


def test_tokens_and_cost_survive_a_sigkill(start_node: Callable[..., RunningNode],
                                           api: ScriptedServer) -> None:
    """With snapshot_interval 0.2 the counts are saved while the actor runs: once the
    statistics say nothing is unsaved, a SIGKILL of the actor's process loses none of
    them, and the next chat adds to them."""
    node = openai_node(start_node, api, snapshot_interval=0.2)
    with node.connect() as conn:
        conn.ask_many("openai", [Chat(HI)] * 3, timeout=10)
        _eventually(lambda: _usage(conn)[1].unsaved == 0)
        before, _ = _usage(conn)
        os.kill(int(conn.status("openai").actors[0].pid), signal.SIGKILL)
        _eventually(lambda: _incarnation(conn) == 2)
        restored, _ = _usage(conn)
        conn.ask("openai", Chat(HI), timeout=10)
        after, _ = _usage(conn)
    assert before["tiny-chat"]["requests"] == 3 and restored == before
    assert (after["tiny-chat"]["requests"], after["tiny-chat"]["prompt_tokens"]) == (4, 16)
    assert after["tiny-chat"]["cost"] == pytest.approx(4 * CHAT_COST)


def test_a_saved_entry_of_another_shape_is_not_restored() -> None:
    """Restoring keeps the entries that have the saved shape and skips the others (a negative
    count, a bool, a cost that is not a number); another snapshot version restores nothing;
    whether a model is priced follows today's prices, not the saved ones."""
    from actors.connectors.openai import Price
    from actors.connectors.openai._usage import Usage

    good = {"requests": 2, "prompt_tokens": 8, "completion_tokens": 6, "cost": 0.000064}
    saved = {"v": 1, "models": {"tiny-chat": good, "bad-count": {**good, "requests": -1},
                                "bad-bool": {**good, "prompt_tokens": True},
                                "bad-cost": {**good, "cost": "free"}, "not-a-row": 3}}
    usage = Usage({"tiny": Price(prompt=1.0)})
    assert usage.restore(saved) == 1
    assert usage.snapshot() == {"tiny-chat": {**good, "priced": True}}
    assert Usage({}).restore({**saved, "v": 2}) == 0
    again = Usage({})
    assert again.restore(usage.to_snapshot()[0]) == 1
    assert again.snapshot() == {"tiny-chat": {**good, "priced": False}}


def _report(conn: Any, op: str) -> Any:
    """The profiler's report of ``op``, or None while it has no samples of it yet."""
    try:
        return conn.ask("profiler", Report(op=op), timeout=5)
    except HandlerError:
        return None


def _eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    from tests.nodes import eventually

    found = eventually(check, timeout)
    assert found, "the condition did not come true in time"
    return found
