"""The MQTT bridge on a real node and real Mosquitto brokers (the machine's, and private ones
a test may kill): round trips, acknowledgement after the answer, restarts, bad payloads."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.breaker import Stats as BreakerStats
from actors.connectors import Publish, Published
from actors.health import ComponentHealth, StatusQuery
from messages import HandlerError, RemoteError, unpack_value
from tests.brokers import Bridges, MqttPeer, PrivateBroker, private_mosquitto
from tests.conftest import require_server, require_service
from tests.connector_actors import handled_ids, kill_mid_stream
from tests.nodes import RunningNode, eventually

pytestmark = pytest.mark.mqtt
COLLECTOR = "tests.connector_actors:Collector"


@pytest.fixture
def mosquitto() -> None:
    """The machine's Mosquitto at 127.0.0.1:1883."""
    require_server("Mosquitto", 1883)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A Mosquitto of this test's own on a free port, killed by pid at teardown."""
    require_service("mosquitto binary", os.path.exists("/usr/sbin/mosquitto"), "mosquitto not installed")
    broker = private_mosquitto(tmp_path)
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def peer(mosquitto: None) -> Iterator[MqttPeer]:
    client = MqttPeer()
    yield client
    client.close()


B = Bridges("mqtt")


def test_round_trip_broker_actor_broker(start_node: Callable[..., RunningNode], peer: MqttPeer,
                                        uid: str) -> None:
    """A JSON message on a subscribed topic becomes an echo.ping ask; echo's answer comes back
    on the message's MQTT 5 response topic; the message is acknowledged once answered."""
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        B.child(client_id=f"rt-{uid}", subscriptions=[
            {"topic": f"t/{uid}/ping/+", "qos": 1, "target": "echo", "type": "echo.ping"}]),
    ]})
    peer.subscribe(f"t/{uid}/pong")
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        peer.publish(f"t/{uid}/ping/a", b'{"n": 7, "text": "hi"}', response_topic=f"t/{uid}/pong")
        [reply] = peer.take(1)
        assert json.loads(reply.payload) == {"n": 7, "text": "hi", "incarnation": 1}
        after = eventually(lambda: (s := B.stats(conn)).acked == 1 and s, timeout=5)
        assert after.received == 1 and after.replied == 1 and after.subscriptions == [f"t/{uid}/ping/+"]


def test_qos2_is_completed_after_the_answer(start_node: Callable[..., RunningNode], peer: MqttPeer,
                                           uid: str) -> None:
    """A QoS 2 message is answered and its PUBCOMP sent after the answer: the publisher's
    QoS 2 flow completes and the bridge counts it acknowledged once."""
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        B.child(client_id=f"q2-{uid}", subscriptions=[
            {"topic": f"t/{uid}/q2", "qos": 2, "target": "echo", "type": "echo.ping"}]),
    ]})
    peer.subscribe(f"t/{uid}/q2/reply", qos=2)
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        info = peer.publish(f"t/{uid}/q2", b'{"n": 2}', qos=2, response_topic=f"t/{uid}/q2/reply")
        assert info.is_published()
        [reply] = peer.take(1)
        assert reply.qos == 2 and json.loads(reply.payload)["n"] == 2
        after = eventually(lambda: (s := B.stats(conn)).acked == 1 and s, timeout=5)
        assert after.received == 1 and after.replied == 1


def test_bad_payloads_are_dead_lettered_or_dropped(start_node: Callable[..., RunningNode],
                                                    peer: MqttPeer, uid: str) -> None:
    """Not JSON, and JSON with wrong fields, are counted and dead-lettered with the reason
    (or dropped, on a bridge with no dead_letter); the bridge keeps serving, unrestarted."""
    sub = {"qos": 1, "target": "echo", "type": "echo.ping"}
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        B.child("dl", client_id=f"dl-{uid}", dead_letter=f"t/{uid}/dead",
               subscriptions=[{**sub, "topic": f"t/{uid}/a"}]),
        B.child("drop", client_id=f"drop-{uid}", subscriptions=[{**sub, "topic": f"t/{uid}/b"}]),
    ]})
    peer.subscribe(f"t/{uid}/dead")
    peer.subscribe(f"t/{uid}/ok")
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn, "dl") and B.connected(conn, "drop"), timeout=10)
        for topic in (f"t/{uid}/a", f"t/{uid}/b"):
            peer.publish(topic, b"not json {")
            peer.publish(topic, b'{"wrong": 1}')
            peer.publish(topic, b'{"n": 1}', response_topic=f"t/{uid}/ok")
        received = peer.take(4)
        dead = sorted((m for m in received if m.topic.endswith("/dead")), key=lambda m: m.payload)
        assert [m.payload for m in dead] == [b"not json {", b'{"wrong": 1}']
        reasons = [dict(m.properties.UserProperty) for m in dead]
        assert {r["x-dead-letter-reason"] for r in reasons} == {"bad_payload"}
        assert "not JSON" in reasons[0]["x-error"] and "wrong" in reasons[1]["x-error"]
        assert sum(1 for m in received if m.topic.endswith("/ok")) == 2
        dl = eventually(lambda: (s := B.stats(conn, "dl")).acked + s.dead_lettered == 3 and s, timeout=5)
        drop = eventually(lambda: (s := B.stats(conn, "drop")).acked + s.dropped == 3 and s, timeout=5)
        assert (dl.bad_payloads, dl.acked, dl.dropped) == (2, 1, 0)
        assert (drop.bad_payloads, drop.dead_lettered, drop.acked) == (2, 0, 1)
        assert {row.name: row.incarnation for row in conn.status().actors}["dl"] == 1


def test_publish_encodings_and_permissions(start_node: Callable[..., RunningNode], peer: MqttPeer,
                                           uid: str) -> None:
    """bridge.publish sends JSON, msgpack, bytes and text as stated, confirmed at QoS 1; a
    topic outside settings.publish is refused with PublishRefused, and nothing is sent."""
    node = start_node({"children": [B.child(client_id=f"pub-{uid}", publish=[f"t/{uid}/out/#"])]})
    peer.subscribe(f"t/{uid}/#")
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        sent = [Publish(f"t/{uid}/out/json", {"a": [1, 2]}),
                Publish(f"t/{uid}/out/msgpack", {"b": b"\x00\x01"}, encoding="msgpack"),
                Publish(f"t/{uid}/out/bytes", b"\xff\x00", encoding="bytes", qos=0),
                Publish(f"t/{uid}/out/text", "héllo", encoding="text", message_id="m-1")]
        replies = [conn.ask("mqtt", p, timeout=5.0) for p in sent]
        assert all(isinstance(r, Published) for r in replies)
        assert [r.confirmed for r in replies] == [True, True, False, True]
        assert replies[3].message_id == "m-1" and replies[0].size == len(b'{"a":[1,2]}')
        with pytest.raises(HandlerError) as refused:
            conn.ask("mqtt", Publish(f"t/{uid}/elsewhere", 1), timeout=5.0)
        assert refused.value.details["exception"] == "PublishRefused"
        got = {m.topic.rsplit("/", 1)[1]: m for m in peer.take(4)}
        assert json.loads(got["json"].payload) == {"a": [1, 2]}
        assert unpack_value(got["msgpack"].payload) == {"b": b"\x00\x01"}
        assert got["bytes"].payload == b"\xff\x00" and got["text"].payload.decode() == "héllo"
        assert ("message_id", "m-1") in got["text"].properties.UserProperty
        assert peer.take(1, timeout=0.3) == [], "the refused publish went out"


def test_target_sigkilled_while_messages_arrive(start_node: Callable[..., RunningNode],
                                                peer: MqttPeer, uid: str) -> None:
    """SIGKILL of the target mid-stream: every message is handled at least once (the bridge
    re-asks the next incarnation before acknowledging); duplicates are counted, not lost."""
    total = 300
    node = start_node({"max_restarts": 10, "children": [
        {"name": "collector", "actor": COLLECTOR, "settings": {"delay": 0.002}},
        B.child(client_id=f"kill-{uid}", max_in_flight=20, subscriptions=[
            {"topic": f"t/{uid}/in", "qos": 1, "target": "collector", "timeout": 2.0}]),
    ]})
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        publisher = threading.Thread(target=lambda: [
            peer.publish(f"t/{uid}/in", b'{"i": %d}' % i, message_id=f"m{i}") for i in range(total)])
        publisher.start()
        after = kill_mid_stream(node, conn, total, lambda: B.stats(conn))
        publisher.join(30)
    assert after.received == total, "the broker sent a message twice on one connection"


def test_broker_restarted_during_a_stream(start_node: Callable[..., RunningNode],
                                          private_broker: PrivateBroker, uid: str) -> None:
    """The broker is killed (by pid) and started again mid-stream: the bridge reconnects with
    backoff, its persistent session brings back what was unacknowledged, and every message
    the broker accepted is handled: none acknowledged and lost."""
    node = start_node({"children": [
        {"name": "collector", "actor": COLLECTOR, "settings": {"delay": 0.005}},
        B.child(port=private_broker.port, client_id=f"restart-{uid}", max_in_flight=10,
               subscriptions=[{"topic": "stream/#", "qos": 1, "target": "collector"}]),
    ]})
    publisher = MqttPeer(private_broker.port, client_id=f"pub-{uid}", clean=False)
    try:
        with node.connect() as conn:
            assert eventually(lambda: B.connected(conn), timeout=10)
            for i in range(100):
                publisher.publish("stream/a", b"{}", message_id=f"m{i}")
            assert eventually(lambda: len(handled_ids(node.data_dir)) >= 20, timeout=10)
            private_broker.kill()
            unhandled_at_kill = 100 - len(set(handled_ids(node.data_dir)))
            assert eventually(lambda: B.stats(conn).state == "disconnected", timeout=10)
            private_broker.start()
            assert eventually(publisher.client.is_connected, timeout=10)
            for i in range(100, 200):
                publisher.publish("stream/b", b"{}", message_id=f"m{i}")
            assert eventually(lambda: len(set(handled_ids(node.data_dir))) == 200, timeout=30), \
                f"handled {len(set(handled_ids(node.data_dir)))} of 200"
            after = B.stats(conn)
            assert after.state == "connected" and after.disconnects >= 1 and after.connects >= 2
            assert after.failed == 0 and after.dropped == 0
            assert unhandled_at_kill > 10, "the broker held too few messages to test redelivery"
            assert after.redelivered > 0, "nothing came back from the broker's saved session"
    finally:
        publisher.close()
    assert set(handled_ids(node.data_dir)) == {f"m{i}" for i in range(200)}


def test_broker_down_is_a_health_alert_and_publishes_fail_clearly(
        start_node: Callable[..., RunningNode], private_broker: PrivateBroker, uid: str) -> None:
    """With the broker down the bridge reports availability 0 (a health alert), a publish
    waits out the asker's deadline and fails with BrokerUnavailable, and one asked with a
    longer deadline goes out once the broker is back."""
    node = start_node({"children": [
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.2, "probe_timeout": 0.5}},
        B.child(port=private_broker.port, client_id=f"health-{uid}", publish=["#"]),
    ]})
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        private_broker.kill()
        assert eventually(lambda: B.stats(conn).availability == 0.0, timeout=10)
        with pytest.raises(HandlerError) as down:
            conn.ask("mqtt", Publish("x", 1), timeout=0.5)
        assert down.value.details["exception"] == "BrokerUnavailable"
        assert "not connected within" in str(down.value)

        def alerted() -> ComponentHealth | None:
            try:
                view = conn.ask("health", StatusQuery("mqtt"), timeout=2.0)
            except RemoteError:
                return None
            metric = view.metrics.get("availability")
            return view if view.open_alerts and metric is not None and metric.value < 0.9 else None
        assert eventually(alerted, timeout=15), "health never alerted on the broker being down"
        result: list[Any] = []
        waiting = threading.Thread(target=lambda: result.append(
            conn.ask("mqtt", Publish("x", 2), timeout=15.0)))
        waiting.start()
        private_broker.start()
        waiting.join(20)
        assert result and isinstance(result[0], Published) and result[0].confirmed


def test_profiler_times_every_message(start_node: Callable[..., RunningNode], peer: MqttPeer,
                                      uid: str) -> None:
    """Each inbound message is timed as mqtt:<subscription>, each publish as
    mqtt:publish:<topic>, in the node's profiler."""
    node = start_node({"children": [
        {"name": "profiler", "actor": "profiler"},
        {"name": "echo", "actor": "echo"},
        B.child(client_id=f"prof-{uid}", publish=[f"t/{uid}/#"], subscriptions=[
            {"topic": f"t/{uid}/in", "qos": 0, "target": "echo", "type": "echo.ping"}]),
    ]})
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        for i in range(20):
            peer.publish(f"t/{uid}/in", b'{"n": %d}' % i, qos=0)
        conn.ask("mqtt", Publish(f"t/{uid}/out", 1), timeout=5.0)

        def counts() -> dict[str, int]:
            ops = conn.ask("profiler", "profiler.report", {"window": "all"})["ops"]
            return {op: int(v["windows"]["all"]["count"]) for op, v in ops.items()}
        seen = eventually(lambda: (c := counts()).get(f"mqtt:t/{uid}/in") == 20 and c, timeout=10)
        assert seen and seen[f"mqtt:publish:t/{uid}/out"] == 1


def test_breaker_guards_the_broker(start_node: Callable[..., RunningNode],
                                   private_broker: PrivateBroker, uid: str) -> None:
    """The broker is a breaker resource named after the bridge: failed connection attempts
    open its circuit, a publish then fails at once with CircuitOpenError, and once the broker
    is back a trial publish closes it again."""
    node = start_node({"children": [
        {"name": "breaker", "actor": "breaker", "settings": {"resources": {"mqtt": {"breaker": {
            "consecutive_failures": 3, "open_seconds": 0.5, "half_open_permits": 1}}}}},
        B.child(port=private_broker.port, client_id=f"breaker-{uid}", publish=["#"],
               reconnect_min=0.05, reconnect_max=0.1),
    ]})

    def resource(conn: Any) -> Any:
        reply = conn.ask("breaker", BreakerStats("mqtt"), timeout=2.0)
        return reply.resources[0] if reply.resources else None

    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        assert eventually(lambda: (r := resource(conn)) is not None and r.successes >= 1, timeout=10)
        private_broker.kill()
        opened = eventually(lambda: (r := resource(conn)) is not None and r.state == "open" and r,
                            timeout=10)
        assert opened and opened.errors_by_class.get("connection", 0) >= 3
        with pytest.raises(HandlerError) as rejected:
            conn.ask("mqtt", Publish("x", 1), timeout=5.0)
        assert rejected.value.details["exception"] == "CircuitOpenError"
        private_broker.start()
        assert eventually(lambda: B.connected(conn), timeout=10)

        def published() -> bool:
            try:
                return isinstance(conn.ask("mqtt", Publish("x", 2), timeout=2.0), Published)
            except HandlerError:
                return False
        assert eventually(published, timeout=10)
        assert eventually(lambda: resource(conn).state == "closed", timeout=5)
