"""The connectors' shared core without a broker: payloads, wildcards, MQTT ack order, the
reconnect loop and the delivery rules, driven by a fake adapter and a fake node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.connectors import (
    BadPayload,
    BridgeSettings,
    BrokerUnavailable,
    Delivery,
    PublishRefused,
    Route,
    amqp_matches,
    content_id,
    decode_payload,
    encode_payload,
    nats_matches,
)
from actors.connectors._counters import Counters
from actors.connectors._delivery import Deliverer
from actors.connectors._guard import BrokerGuard
from actors.connectors._session import Session
from actors.connectors.mqtt import MqttSettings, OrderedAcks
from messages import (
    ActorCrashed,
    ConfigError,
    HandlerError,
    InvalidBody,
    RemoteProtocolError,
    from_wire,
)
from supervisor import load_config


def test_payload_encodings_round_trip() -> None:
    """Each encoding gives back what it was given; bytes stay bytes through msgpack."""
    value = {"a": [1, 2.5, None], "b": "é"}
    assert decode_payload(encode_payload(value, "json"), "json") == value
    assert decode_payload(encode_payload({"k": b"\x00"}, "msgpack"), "msgpack") == {"k": b"\x00"}
    assert decode_payload(encode_payload(b"\xff", "bytes"), "bytes") == b"\xff"
    assert decode_payload(encode_payload("héllo", "text"), "text") == "héllo"
    assert encode_payload({"a": 1}, "json") == b'{"a":1}'


@pytest.mark.parametrize(("data", "encoding", "says"), [
    (b"{not json", "json", "not JSON"),
    (b"\xc1", "msgpack", "not msgpack"),
    (b"\xff\xfe", "text", "not UTF-8"),
])
def test_bad_payloads_say_why(data: bytes, encoding: Any, says: str) -> None:
    """A payload that does not decode is a BadPayload (a ValueError) that says why."""
    with pytest.raises(BadPayload, match=says) as info:
        decode_payload(data, encoding)
    assert isinstance(info.value, ValueError)


def test_values_that_do_not_fit_their_encoding_are_refused() -> None:
    """NaN is not JSON, a string is not bytes, bytes are not text."""
    with pytest.raises(BadPayload):
        encode_payload(float("nan"), "json")
    with pytest.raises(BadPayload, match="takes bytes"):
        encode_payload("x", "bytes")
    with pytest.raises(BadPayload, match="takes a string"):
        encode_payload(b"x", "text")


def test_content_ids_are_stable_and_tell_topics_apart() -> None:
    """Equal topic and payload give the same id (a redelivery deduplicates); either differing does not."""
    assert content_id("a", b"x") == content_id("a", b"x")
    assert len({content_id("a", b"x"), content_id("b", b"x"), content_id("a", b"y")}) == 3


# NATS subject wildcards, from the NATS documentation ("Subject-Based Messaging"):
# "time.*.east" matches time.us.east and time.eu.east, not time.us.east.atlanta;
# "time.us.>" matches time.us.east and time.us.east.atlanta, not time.us.
@pytest.mark.parametrize(("pattern", "subject", "expected"), [
    ("time.*.east", "time.us.east", True),
    ("time.*.east", "time.eu.east", True),
    ("time.*.east", "time.us.east.atlanta", False),
    ("time.us.>", "time.us.east", True),
    ("time.us.>", "time.us.east.atlanta", True),
    ("time.us.>", "time.us", False),
    ("time.us.east", "time.us.east", True),
    ("time.us.east", "time.us.west", False),
])
def test_nats_wildcards_follow_the_nats_documentation(pattern: str, subject: str, expected: bool) -> None:
    """NATS: ``*`` is one token, a final ``>`` one or more."""
    assert nats_matches(pattern, subject) is expected


# AMQP topic exchange, from RabbitMQ's tutorial five (bindings "*.orange.*", "*.*.rabbit"
# and "lazy.#"): the routing keys and the bindings they match, as the tutorial lists them.
@pytest.mark.parametrize(("key", "matched"), [
    ("quick.orange.rabbit", {"*.orange.*", "*.*.rabbit"}),
    ("lazy.orange.elephant", {"*.orange.*", "lazy.#"}),
    ("quick.orange.fox", {"*.orange.*"}),
    ("lazy.brown.fox", {"lazy.#"}),
    ("lazy.pink.rabbit", {"*.*.rabbit", "lazy.#"}),
    ("quick.brown.fox", set()),
    ("orange", set()),
    ("quick.orange.new.rabbit", set()),
    ("lazy.orange.new.rabbit", {"lazy.#"}),
])
def test_amqp_wildcards_follow_the_rabbitmq_tutorial(key: str, matched: set[str]) -> None:
    """AMQP topics: ``*`` is exactly one word, ``#`` zero or more."""
    bindings = {"*.orange.*", "*.*.rabbit", "lazy.#"}
    assert {b for b in bindings if amqp_matches(b, key)} == matched


def test_mqtt_acks_go_out_in_arrival_order() -> None:
    """MQTT §4.6: PUBACKs in the order the PUBLISHes came, whatever order they finish in."""
    sent: list[tuple[int, int]] = []
    acks = OrderedAcks(lambda mid, qos: sent.append((mid, qos)))
    seqs = [acks.add(mid, 1) for mid in (11, 12, 13, 14)]
    assert acks.done(seqs[2]) == 0 and acks.done(seqs[1]) == 0 and sent == []
    assert acks.done(seqs[0]) == 3 and sent == [(11, 1), (12, 1), (13, 1)]
    assert acks.done(seqs[3]) == 1 and sent[-1] == (14, 1) and acks.waiting == 0
    assert acks.done(seqs[3]) == 0, "a second done of one message sends nothing"


def test_settings_are_checked_before_anything_starts(tmp_path: Any) -> None:
    """A bad bridge setting is a ConfigError naming the child and the key."""
    config = tmp_path / "node.json"
    config.write_text('{"children": [{"name": "m", "actor": "mqtt", "settings": '
                      '{"subscriptions": [{"topic": "a/#", "target": "echo", "qos": 3}]}}]}')
    with pytest.raises(ConfigError, match=r"child 'm'.*subscriptions\[0\]: qos: .*0, 1 or 2, got 3"):
        load_config(str(config), env={})
    with pytest.raises(InvalidBody, match="reconnect_max"):
        from_wire(MqttSettings, {"reconnect_min": 2.0, "reconnect_max": 1.0})
    with pytest.raises(InvalidBody, match="payload"):
        from_wire(MqttSettings, {"subscriptions": [{"topic": "a", "target": "e", "payload": "xml"}]})


# -- the reconnect loop and the delivery rules, with fakes -----------------------------
class FakeClient:
    """An adapter whose connections fail or drop when the test says so."""

    protocol = "fake"
    address = "nowhere:0"

    def __init__(self) -> None:
        self.failures = 0
        self.connects = 0
        self.lost: asyncio.Future[str] | None = None
        self.published: list[tuple[str, bytes, dict[str, str]]] = []
        self.settled: list[tuple[str, str]] = []

    def sources(self) -> list[str]:
        return ["in"]

    def allows(self, pattern: str, topic: str) -> bool:
        return pattern == topic

    async def connect(self, sink: Any) -> None:
        self.connects += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("refused")
        self.lost = asyncio.get_running_loop().create_future()

    async def closed(self) -> str:
        assert self.lost is not None
        return await self.lost

    async def close(self) -> None:
        pass

    async def publish(self, topic: str, data: bytes, **kw: Any) -> bool:
        self.published.append((topic, data, kw["headers"]))
        return True

    async def ack(self, d: Delivery) -> None:
        self.settled.append(("ack", d.message_id))

    async def reject(self, d: Delivery) -> None:
        self.settled.append(("reject", d.message_id))

    async def release(self, d: Delivery) -> None:
        self.settled.append(("release", d.message_id))

    async def extend(self, d: Delivery) -> None:
        pass


def test_session_backs_off_reconnects_and_announces() -> None:
    """Two refused attempts are retried after growing delays (the breaker's backoff with full
    jitter: uniform in [0, min(max, base·2^(n-1))], here with the random draw fixed at 1);
    a lost connection is reopened; each state change is announced once."""
    async def scenario() -> tuple[list[float], list[str], FakeClient, Counters]:
        client, counters, states, delays = FakeClient(), Counters(), [], []
        client.failures = 2
        settings = BridgeSettings(reconnect_min=0.1, reconnect_max=0.15)

        async def sleep(seconds: float) -> None:
            delays.append(seconds)

        session = Session("b", client, settings, counters, BrokerGuard(None, None, "b"),
                          lambda d: None, lambda state, why: states.append(state),
                          sleep=sleep, rng=lambda: 1.0)
        task = asyncio.ensure_future(session.run())
        assert await session.wait_connected(1.0)
        assert client.lost is not None
        client.lost.set_result("dropped")
        await asyncio.sleep(0)
        assert await session.wait_connected(1.0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return delays, states, client, counters

    delays, states, client, counters = asyncio.run(scenario())
    assert delays == [0.1, 0.15]  # min(0.15, 0.1·2^0), min(0.15, 0.1·2^1)
    assert states == ["disconnected", "connected", "disconnected", "connected"]
    assert client.connects == 4 and counters.connects == 2 and counters.disconnects == 1
    assert counters.last_error == "dropped"


class FakeNode:
    """Answers asks from a script: each entry is a value to return or an exception to raise."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.asks: list[tuple[str, str, Any]] = []

    async def ask(self, target: str, tag: str, body: Any, *, timeout: float) -> Any:
        self.asks.append((target, tag, body))
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def tell(self, target: str, tag: str, body: Any) -> None:
        self.asks.append((target, tag, body))


def deliver(node: FakeNode, data: bytes, *, route: Route | None = None, reliable: bool = True,
            **settings: Any) -> tuple[FakeClient, Counters, list[tuple[str, float, bool]]]:
    """Run one delivery through a Deliverer; what was published and settled, and the timing."""
    client, counters, timings = FakeClient(), Counters(), []
    config = from_wire(BridgeSettings, {**settings, "retry": {
        "max_attempts": 3, "base_delay": 0.001, "max_delay": 0.001}})

    async def run() -> None:
        deliverer = Deliverer("b", client, config, counters,
                              lambda op, s, ok: timings.append((op, s, ok)))
        deliverer.connection = node  # type: ignore[assignment]
        deliverer.accept(Delivery(route or Route(target="t"), "in", "in/x", data, "id-1", reliable,
                                  reply_to="answers"))
        assert await deliverer.wait_idle(5.0)

    asyncio.run(run())
    return client, counters, timings


def test_an_answered_message_is_replied_then_acked() -> None:
    """ask → answer published to the reply address → ack; timed as <protocol>:<source>."""
    node = FakeNode({"ok": 1})
    client, counters, timings = deliver(node, b'{"x": 1}')
    assert node.asks[0][1] == "bridge.message" and node.asks[0][2]["payload"] == {"x": 1}
    assert client.published == [("answers", b'{"ok":1}', {})]
    assert client.settled == [("ack", "id-1")] and counters.acked == 1
    assert [(op, ok) for op, _, ok in timings] == [("fake:in", True)]


def test_a_crash_is_retried_before_the_ack() -> None:
    """ActorCrashed is transient: the same message is asked again, then acked once."""
    node = FakeNode(ActorCrashed("died"), ActorCrashed("died"), {"ok": 1})
    client, counters, _ = deliver(node, b"{}")
    assert len(node.asks) == 3 and counters.retries == 2
    assert client.settled == [("ack", "id-1")] and counters.failed == 0


def test_retries_are_bounded_then_dead_lettered() -> None:
    """After retry.max_attempts crashes the message is dead-lettered with the reason, and acked."""
    node = FakeNode(*[ActorCrashed("died")] * 3)
    client, counters, timings = deliver(node, b"{}", dead_letter="dead")
    assert len(node.asks) == 3 and counters.failed == 1 and counters.dead_lettered == 1
    [(topic, data, headers)] = client.published
    assert (topic, data, headers["x-dead-letter-reason"]) == ("dead", b"{}", "failed")
    assert "max_attempts 3 reached" in headers["x-error"]
    assert client.settled == [("ack", "id-1")] and timings[0][2] is False


def test_a_refusing_handler_is_not_retried_and_a_bad_payload_is_not_asked() -> None:
    """A handler exception is permanent (dropped at once without dead_letter: rejected); a
    payload that is not JSON never reaches the target; a body the target finds invalid is a
    bad payload too."""
    node = FakeNode(HandlerError("boom", details={"exception": "RuntimeError"}))
    client, counters, _ = deliver(node, b"{}")
    assert len(node.asks) == 1 and counters.failed == 1 and client.settled == [("reject", "id-1")]
    node = FakeNode()
    client, counters, _ = deliver(node, b"{nope")
    assert node.asks == [] and counters.bad_payloads == 1 and counters.dropped == 1
    typed = Route(target="t", type="echo.ping")
    client, counters, _ = deliver(FakeNode(), b"[1, 2]", route=typed)
    assert counters.bad_payloads == 1, "a list is no map of fields"
    client, counters, _ = deliver(FakeNode(RemoteProtocolError("bad", details={"code": "invalid_body"})),
                                  b"{}", route=typed)
    assert counters.bad_payloads == 1 and client.settled == [("reject", "id-1")]


def test_typed_routes_carry_the_message_id_in_the_named_field() -> None:
    """With type and id_field, the payload map is the body and the id travels in that field."""
    node = FakeNode({"n": 1})
    deliver(node, b'{"n": 1}', route=Route(target="echo", type="echo.ping", id_field="mid"))
    assert node.asks == [("echo", "echo.ping", {"n": 1, "mid": "id-1"})]


def test_at_most_once_messages_are_dropped_when_full() -> None:
    """An unreliable message that finds max_in_flight messages in hand is dropped and counted."""
    async def run() -> Counters:
        client, counters = FakeClient(), Counters()
        deliverer = Deliverer("b", client, BridgeSettings(max_in_flight=1), counters,
                              lambda *a: None)
        gate = asyncio.Event()

        class Slow(FakeNode):
            async def ask(self, *a: Any, **k: Any) -> Any:
                await gate.wait()
                return 1

        deliverer.connection = Slow()  # type: ignore[assignment]
        for i in range(3):
            deliverer.accept(Delivery(Route(target="t"), "in", "in", b"{}", str(i), False))
        gate.set()
        assert await deliverer.wait_idle(5.0)
        return counters

    counters = asyncio.run(run())
    assert (counters.received, counters.dropped, counters.acked) == (1, 2, 1)


@pytest.mark.parametrize(("package", "client"), [
    ("actors.connectors", None), ("actors.connectors.mqtt", "paho"), ("actors.connectors.amqp", "aio_pika"),
    ("actors.connectors.nats", "nats"), ("actors.connectors.coap", "aiocoap"),
    ("actors.connectors.http", "httpx"), ("actors.connectors.openai", "openai"),
    ("actors.connectors.aws", "boto3"), ("actors.model", "torch")])
def test_each_connector_imports_only_its_own_client(package: str, client: str | None) -> None:
    """Extras install one by one: a connector (and the shared core) imports no other
    protocol's client library, so it runs with only its own extra installed."""
    import subprocess
    import sys

    clients = ("paho", "aio_pika", "nats", "aiocoap", "httpx", "openai", "boto3", "torch")
    code = (f"import sys, {package}; "
            f"print(' '.join(m for m in {clients!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=60).stdout.split()
    assert loaded == ([client] if client else [])


class RefusingClient(FakeClient):
    """An adapter whose publishes fail with ``error``."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def publish(self, topic: str, data: bytes, **kw: Any) -> bool:
        raise self.error


@pytest.mark.parametrize(("error", "settled"), [
    (PublishRefused("no such topic"), ("reject", "id-1")),
    (BrokerUnavailable("connection lost"), ("release", "id-1")),
])
def test_an_answer_that_cannot_be_published(error: Exception, settled: tuple[str, str]) -> None:
    """An answer the broker refuses for good fails the delivery, which is settled (dropped
    here) so it cannot block the messages behind it; a lost connection leaves it for the
    broker to send again."""
    client, counters = RefusingClient(error), Counters()

    async def run() -> None:
        deliverer = Deliverer("b", client, BridgeSettings(), counters, lambda *a: None)
        deliverer.connection = FakeNode({"ok": 1})  # type: ignore[assignment]
        deliverer.accept(Delivery(Route(target="t"), "in", "in", b"{}", "id-1", True, reply_to="r"))
        assert await deliverer.wait_idle(5.0)

    asyncio.run(run())
    assert client.settled == [settled] and counters.acked == 0 and counters.replied == 0
