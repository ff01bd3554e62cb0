"""The NATS bridge on a real node and real nats-server (the machine's, and private ones a
test may kill): core request/reply, JetStream at least once, restarts, bad payloads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors.connectors import Publish, Published
from messages import HandlerError
from tests.brokers import Bridges, NatsPeer, PrivateBroker, private_nats
from tests.conftest import require_server, require_service
from tests.connector_actors import handled_ids, kill_mid_stream
from tests.nodes import RunningNode, eventually

pytestmark = pytest.mark.nats
COLLECTOR = "tests.connector_actors:Collector"


@pytest.fixture
def peer() -> Iterator[NatsPeer]:
    """A client of the machine's nats-server at 127.0.0.1:4222."""
    require_server("NATS", 4222)
    client = NatsPeer()
    yield client
    client.close()


@pytest.fixture
def stream(peer: NatsPeer, uid: str) -> Iterator[str]:
    """A JetStream stream of this test's own on subjects ``js.<uid>.>``, deleted afterwards."""
    name = f"S{uid}"
    peer.run(peer.js.add_stream(name=name, subjects=[f"js.{uid}.>"]))
    yield name
    peer.run(peer.js.delete_stream(name))


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[PrivateBroker]:
    """A nats-server of this test's own, killed by pid at teardown."""
    require_service("nats-server binary", os.path.exists("/usr/sbin/nats-server"), "not installed")
    server = private_nats(tmp_path)
    server.start()
    yield server
    server.close()


B = Bridges("nats")


def test_request_reply_through_an_actor(start_node: Callable[..., RunningNode], peer: NatsPeer,
                                        uid: str) -> None:
    """A core NATS request becomes an echo.ping ask; echo's answer is the response."""
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        B.child(subscriptions=[{"subject": f"svc.{uid}.*", "target": "echo", "type": "echo.ping",
                               "queue": "workers"}]),
    ]})
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        reply = peer.run(peer.nc.request(f"svc.{uid}.ping", b'{"n": 3, "text": "hi"}', timeout=5))
        assert json.loads(reply.data) == {"n": 3, "text": "hi", "incarnation": 1}
        after = eventually(lambda: (s := B.stats(conn)).acked == 1 and s, timeout=5)
        assert after.replied == 1 and after.subscriptions == [f"svc.{uid}.*"]


def test_bad_payloads_are_dead_lettered(start_node: Callable[..., RunningNode], peer: NatsPeer,
                                        uid: str) -> None:
    """Not JSON and wrong fields are counted and dead-lettered with the reason in headers;
    a good message after them is answered."""
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        B.child(dead_letter=f"dead.{uid}", subscriptions=[
            {"subject": f"in.{uid}", "target": "echo", "type": "echo.ping", "reply_to": f"out.{uid}"}]),
    ]})
    peer.subscribe(f"dead.{uid}")
    peer.subscribe(f"out.{uid}")
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)
        for data in (b"\x00 not json", b'{"n": "one"}', b'{"n": 1}'):
            peer.run(peer.nc.publish(f"in.{uid}", data))
        got = peer.take(3)
        dead = {m.data: m.headers for m in got if m.subject == f"dead.{uid}"}
        assert set(dead) == {b"\x00 not json", b'{"n": "one"}'}
        assert all(h["x-dead-letter-reason"] == "bad_payload" for h in dead.values())
        assert "expected an integer" in dead[b'{"n": "one"}']["x-error"]
        assert [json.loads(m.data)["n"] for m in got if m.subject == f"out.{uid}"] == [1]
        after = eventually(lambda: (s := B.stats(conn)).dead_lettered == 2 and s, timeout=5)
        assert after.bad_payloads == 2 and after.acked == 1


def test_publish_core_and_jetstream(start_node: Callable[..., RunningNode], peer: NatsPeer,
                                    stream: str, uid: str) -> None:
    """bridge.publish: core NATS is sent (not confirmed), JetStream is confirmed by the stream
    and deduplicated on the message id; subjects outside settings.publish are refused."""
    node = start_node({"children": [
        B.child("core", publish=[f"js.{uid}.>"]),
        B.child("jet", publish=[f"js.{uid}.>"], publish_jetstream=True),
    ]})
    peer.subscribe(f"js.{uid}.>")
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn, "core") and B.connected(conn, "jet"), timeout=10)
        sent = conn.ask("core", Publish(f"js.{uid}.a", {"x": 1}), timeout=5.0)
        assert isinstance(sent, Published) and not sent.confirmed
        first = conn.ask("jet", Publish(f"js.{uid}.b", "t", encoding="text", message_id="once"),
                         timeout=5.0)
        again = conn.ask("jet", Publish(f"js.{uid}.b", "t", encoding="text", message_id="once"),
                         timeout=5.0)
        assert first.confirmed and again.confirmed
        with pytest.raises(HandlerError) as refused:
            conn.ask("core", Publish(f"other.{uid}", 1), timeout=5.0)
        assert refused.value.details["exception"] == "PublishRefused"
        got = peer.take(3)
        assert [m.headers["Nats-Msg-Id"] for m in got if m.subject.endswith(".b")][:1] == ["once"]
        info = peer.run(peer.js.stream_info(stream))
        assert info.state.messages == 2, "the second publish of 'once' was not deduplicated"


def test_jetstream_target_sigkilled_while_messages_arrive(
        start_node: Callable[..., RunningNode], peer: NatsPeer, stream: str, uid: str) -> None:
    """SIGKILL of the target mid-stream: every JetStream message is handled at least once and
    acknowledged once; duplicates are counted."""
    total = 300
    node = start_node({"max_restarts": 10, "children": [
        {"name": "collector", "actor": COLLECTOR, "settings": {"delay": 0.002}},
        B.child(max_in_flight=20, subscriptions=[
            {"subject": f"js.{uid}.>", "stream": stream, "target": "collector", "timeout": 2.0}]),
    ]})
    with node.connect() as conn:
        assert eventually(lambda: B.connected(conn), timeout=10)

        async def publish_all() -> None:
            for i in range(total):
                await peer.js.publish(f"js.{uid}.x", b'{"i": %d}' % i, headers={"Nats-Msg-Id": f"m{i}"})
        peer.run(publish_all(), 30)
        kill_mid_stream(node, conn, total, lambda: B.stats(conn))


def test_server_restarted_during_a_jetstream_stream(
        start_node: Callable[..., RunningNode], private_server: PrivateBroker, uid: str) -> None:
    """The server is killed by pid and started again mid-stream: the bridge reconnects, its
    durable consumer resumes, what was unacknowledged is redelivered, and every message the
    stream accepted is handled."""
    node = start_node({"children": [
        {"name": "collector", "actor": COLLECTOR, "settings": {"delay": 0.005}},
        B.child(port=private_server.port, max_in_flight=10, subscriptions=[
            {"subject": "jobs.>", "stream": "JOBS", "target": "collector", "ack_wait": 2.0}]),
    ]})
    publisher = NatsPeer(private_server.port)
    try:
        publisher.run(publisher.js.add_stream(name="JOBS", subjects=["jobs.>"]))

        async def publish(start: int, stop: int) -> None:
            for i in range(start, stop):
                await publisher.js.publish("jobs.a", b"{}", headers={"Nats-Msg-Id": f"m{i}"})

        with node.connect() as conn:
            assert eventually(lambda: B.connected(conn), timeout=10)
            publisher.run(publish(0, 100), 30)
            assert eventually(lambda: len(handled_ids(node.data_dir)) >= 20, timeout=10)
            private_server.kill()
            unhandled_at_kill = 100 - len(set(handled_ids(node.data_dir)))
            assert eventually(lambda: B.stats(conn).state == "disconnected", timeout=10)
            private_server.start()
            assert eventually(lambda: B.connected(conn), timeout=15)
            assert eventually(lambda: publisher.nc.is_connected, timeout=10)
            publisher.run(publish(100, 200), 30)
            assert eventually(lambda: len(set(handled_ids(node.data_dir))) == 200, timeout=30), \
                f"handled {len(set(handled_ids(node.data_dir)))} of 200"
            after = B.stats(conn)
            assert after.disconnects >= 1 and after.connects >= 2 and after.failed == 0
            assert unhandled_at_kill > 10, "the stream held too few messages to test redelivery"
    finally:
        publisher.close()
    assert set(handled_ids(node.data_dir)) == {f"m{i}" for i in range(200)}
