"""Broker bridges (issue 15): messages/s broker -> actor -> reply, beside the bare client.

For MQTT QoS 0, MQTT QoS 1, AMQP and core NATS, one driver process sends request messages
(JSON ``{"n": i, "text": "bench"}``) with a reply address and keeps ``WINDOW`` of them in
flight, counting the replies. The same requests are answered by

- **bridge**: the node's bridge actor, which asks the ``echo`` actor (``echo.ping``) and
  publishes its answer, acknowledging the request only after that (QoS 1, AMQP);
- **bare**: a process using the same client library with no actor in between, doing the
  same protocol work: decode, answer, publish the answer, and (QoS 1, AMQP) acknowledge the
  request only once the broker has confirmed the answer — what the bridge guarantees.

Both run in the same session, interleaved (bare, bridge, bridge, bare, ...), on the same
broker; the figure is the bridge's rate as a share of the bare client's (target >= 0.5x
for QoS 0 and core NATS). The node runs only ``echo`` and the bridges (no profiler). A last
row measures the ceiling of the bridge's design on this machine: one asyncio loop asking
echo through ``connect_async`` with 100 asks in flight and no broker at all.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_bridges.py  (about 1 minute on 2 cores)
     python bench/bench_bridges.py responder KIND UID   (the bare client; used by the bench)
Needs Mosquitto (1883), RabbitMQ (5672) and NATS (4222) on 127.0.0.1; every process it
starts is killed by pid at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu

WINDOW = 100        # requests in flight (the bridges' max_in_flight too)
ROUNDS = 5          # measurements of each variant, interleaved
COUNTS = {"mqtt-qos0": 5000, "mqtt-qos1": 3000, "amqp": 3000, "nats": 5000}
KINDS = tuple(COUNTS)
REPLY_TIMEOUT = 60.0


# -- the bare clients (run as `responder KIND UID` in a process of their own) --------------
def pong(data: bytes) -> bytes:
    """What echo answers, computed the way a bare client would."""
    ping = json.loads(data)
    return json.dumps({"n": ping["n"], "text": ping.get("text", ""), "incarnation": 0}).encode()


def respond_mqtt(qos: int, uid: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bare{qos}-{uid}",
                         protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
    pending: dict[int, tuple[int, int]] = {}  # reply mid -> (request mid, qos)

    def on_message(c: Any, u: Any, msg: Any) -> None:
        props = Properties(PacketTypes.PUBLISH)
        info = c.publish(msg.properties.ResponseTopic, pong(msg.payload), qos, properties=props)
        if qos:
            pending[info.mid] = (msg.mid, msg.qos)

    def on_publish(c: Any, u: Any, mid: int, rc: Any, props: Any) -> None:
        request = pending.pop(mid, None)
        if request is not None:
            c.ack(*request)  # acknowledge the request once the broker has the answer

    client.on_message = on_message
    client.on_publish = on_publish
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = WINDOW
    client.max_inflight_messages_set(WINDOW)
    client.connect("127.0.0.1", 1883, 30, clean_start=True, properties=props)
    client.subscribe(f"bench/{uid}/req{qos}", qos)
    print("ready", flush=True)
    client.loop_forever()


async def respond_amqp(uid: str) -> None:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel(publisher_confirms=True)
    await channel.set_qos(prefetch_count=WINDOW)
    queue = await channel.declare_queue(f"bench-{uid}-bare", durable=True)

    async def answer(msg: Any) -> None:
        await channel.default_exchange.publish(  # as the bridge publishes
            aio_pika.Message(pong(msg.body), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=msg.reply_to, mandatory=False)
        await msg.ack()

    tasks: set[asyncio.Task[None]] = set()

    async def handle(msg: Any) -> None:  # answer concurrently, as the bridge does
        task = asyncio.get_running_loop().create_task(answer(msg))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    await queue.consume(handle)
    print("ready", flush=True)
    await asyncio.Future()


async def respond_nats(uid: str) -> None:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")

    async def handle(msg: Any) -> None:
        await nc.publish(msg.reply, pong(msg.data))

    await nc.subscribe(f"bench.{uid}.bare", cb=handle)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Future()


def responder(kind: str, uid: str) -> None:
    if kind.startswith("mqtt"):
        respond_mqtt(int(kind[-1]), uid)
    elif kind == "amqp":
        asyncio.run(respond_amqp(uid))
    else:
        asyncio.run(respond_nats(uid))


# -- the driver: WINDOW requests in flight, count the replies ------------------------------
def drive_mqtt(qos: int, topic: str, reply_topic: str, n: int) -> float:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    room = threading.Semaphore(WINDOW)
    done = threading.Event()
    got = [0]

    def on_message(c: Any, u: Any, msg: Any) -> None:
        got[0] += 1
        room.release()
        if got[0] == n:
            done.set()

    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"driver-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.max_inflight_messages_set(WINDOW)
    client.connect("127.0.0.1", 1883, 30)
    client.loop_start()
    client.subscribe(reply_topic, qos)
    subscribed.wait(5)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = reply_topic
    started = time.perf_counter()
    for i in range(n):
        if not room.acquire(timeout=REPLY_TIMEOUT):
            break
        client.publish(topic, b'{"n": %d, "text": "bench"}' % i, qos, properties=props)
    finished = done.wait(REPLY_TIMEOUT)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    if not finished:
        raise RuntimeError(f"mqtt qos {qos}: {got[0]} of {n} replies")
    return n / elapsed


class _Window:
    """Keeps WINDOW requests in flight and counts replies up to ``n``; the rate once all came."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.room = asyncio.Semaphore(WINDOW)
        self.done = asyncio.get_running_loop().create_future()
        self.got = 0

    async def on_reply(self, msg: Any) -> None:
        self.got += 1
        self.room.release()
        if self.got == self.n and not self.done.done():
            self.done.set_result(None)

    async def run(self, send: Any) -> float:
        started = time.perf_counter()
        for i in range(self.n):
            await self.room.acquire()
            await send(b'{"n": %d, "text": "bench"}' % i)
        await asyncio.wait_for(self.done, REPLY_TIMEOUT)
        return self.n / (time.perf_counter() - started)


async def _drive_amqp(queue: str, reply_queue: str, n: int) -> float:
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel(publisher_confirms=False)
    replies = await channel.declare_queue(reply_queue, durable=True)
    await replies.purge()
    window = _Window(n)
    await replies.consume(window.on_reply, no_ack=True)

    async def send(body: bytes) -> None:
        await channel.default_exchange.publish(aio_pika.Message(body, reply_to=reply_queue),
                                               routing_key=queue)
    rate = await window.run(send)
    await connection.close()
    return rate


async def _drive_nats(subject: str, n: int) -> float:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    inbox = nc.new_inbox()
    window = _Window(n)
    await nc.subscribe(inbox, cb=window.on_reply)
    await nc.flush()
    rate = await window.run(lambda body: nc.publish(subject, body, reply=inbox))
    await nc.close()
    return rate


def drive(kind: str, variant: str, uid: str, n: int) -> float:
    """Messages/s of one measurement: ``variant`` is "bare" or "bridge"."""
    if kind.startswith("mqtt"):
        qos = int(kind[-1])
        topic = f"bench/{uid}/req{qos}" if variant == "bare" else f"bench/{uid}/bridge{qos}"
        return drive_mqtt(qos, topic, f"bench/{uid}/rep{qos}/{variant}", n)
    if kind == "amqp":
        return asyncio.run(_drive_amqp(f"bench-{uid}-{variant}", f"bench-{uid}-rep", n))
    return asyncio.run(_drive_nats(f"bench.{uid}.{variant}", n))


async def _ask_ceiling(endpoint: str, n: int) -> float:
    """Asks/s of one asyncio loop asking echo with WINDOW asks in flight, one task each: the
    bridge's own hot path with no broker at all (its ceiling on this machine, now)."""
    from actors import connect_async

    async with connect_async(endpoint) as conn:
        room = asyncio.Semaphore(WINDOW)

        async def one(i: int) -> None:
            try:
                await conn.ask("echo", "echo.ping", {"n": i, "text": "bench"})
            finally:
                room.release()

        tasks = set()
        started = time.perf_counter()
        for i in range(n):
            await room.acquire()
            task = asyncio.get_running_loop().create_task(one(i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        return n / (time.perf_counter() - started)


# -- the bench -----------------------------------------------------------------------------
def node_config(uid: str) -> dict[str, Any]:
    echo = {"target": "echo", "type": "echo.ping"}
    common = {"max_in_flight": WINDOW, "breaker": None}
    return {"children": [
        {"name": "echo", "actor": "echo"},
        {"name": "mqtt0", "actor": "mqtt", "settings": {**common, "client_id": f"b0-{uid}",
         "clean_start": True, "subscriptions": [{**echo, "topic": f"bench/{uid}/bridge0", "qos": 0}]}},
        {"name": "mqtt1", "actor": "mqtt", "settings": {**common, "client_id": f"b1-{uid}",
         "clean_start": True, "subscriptions": [{**echo, "topic": f"bench/{uid}/bridge1", "qos": 1}]}},
        {"name": "amqp", "actor": "amqp", "settings": {**common, "subscriptions": [
            {**echo, "queue": f"bench-{uid}-bridge"}]}},
        {"name": "nats", "actor": "nats", "settings": {**common, "subscriptions": [
            {**echo, "subject": f"bench.{uid}.bridge"}]}},
    ]}


def wait_connected(conn: Any, names: list[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [conn.ask(name, "actor.statistics", {}, timeout=5.0).state for name in names]
        if all(s == "connected" for s in states):
            return
        time.sleep(0.1)
    raise RuntimeError(f"bridges not connected: {dict(zip(names, states, strict=True))}")


def main() -> None:
    import actors.connectors  # noqa: F401 - registers bridge.statistics, so replies are objects
    from tests.nodes import start_node_process

    uid = uuid.uuid4().hex[:8]
    procs = bu.Procs()
    node = None
    print(f"python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}; "
          f"window {WINDOW}; {ROUNDS} interleaved rounds per variant")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            node = start_node_process(Path(tmp), node_config(uid))
            procs.pids.add(node.pid)
            procs.remember_descendants(node.pid)
            bare = {}
            for kind in KINDS:
                proc = procs.popen([bu.PY, __file__, "responder", kind, uid],
                                   stdout=subprocess.PIPE, text=True)
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", kind
                bare[kind] = proc
            with node.connect() as conn:
                wait_connected(conn, ["mqtt0", "mqtt1", "amqp", "nats"])
                rows = []
                for kind in KINDS:
                    n = COUNTS[kind]
                    drive(kind, "bridge", uid, min(n, 500))  # warm both paths up
                    drive(kind, "bare", uid, min(n, 500))
                    rates: dict[str, list[float]] = {"bare": [], "bridge": []}
                    for r in range(ROUNDS):
                        for variant in (("bare", "bridge") if r % 2 == 0 else ("bridge", "bare")):
                            rates[variant].append(drive(kind, variant, uid, n))
                    b, a = bu.median(rates["bare"]), bu.median(rates["bridge"])
                    ratios = [x / y for x, y in zip(rates["bridge"], rates["bare"], strict=True)]
                    target = "0.50" if kind in ("mqtt-qos0", "nats") else "-"
                    rows.append([kind, n, f"{b:,.0f}", f"{a:,.0f}", f"{bu.median(ratios):.2f}",
                                 f"{min(ratios):.2f}-{max(ratios):.2f}", target])
                    print(f"  {kind}: bare {[round(x) for x in rates['bare']]} "
                          f"bridge {[round(x) for x in rates['bridge']]}", flush=True)
                ceiling = [asyncio.run(_ask_ceiling(node.endpoint, 5000)) for _ in range(ROUNDS)]
                print(f"  ceiling: {[round(x) for x in ceiling]}", flush=True)
                rows.append(["ceiling: asyncio asks to echo, no broker", 5000, "",
                             f"{bu.median(ceiling):,.0f}", "", "", ""])
                print(bu.table("broker -> actor -> reply, messages/s (median of rounds; ratio: "
                               "median of the ratios of rounds run back to back)",
                               ["scenario", "msgs", "bare client", "bridge+echo", "ratio",
                                "range", "target"], rows))
                stats = {name: conn.ask(name, "actor.statistics", {}, timeout=5.0)
                         for name in ("mqtt0", "mqtt1", "amqp", "nats")}
                for name, s in stats.items():
                    print(f"  {name}: received {s.received}, acked {s.acked}, replied {s.replied}, "
                          f"dropped {s.dropped}, failed {s.failed}, retries {s.retries}")
    finally:
        if node is not None:
            procs.remember_descendants(node.pid)
            node.stop()
        killed = procs.cleanup()
        if killed:
            print("killed at cleanup:", ", ".join(killed))
        cleanup_queues(uid)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def cleanup_queues(uid: str) -> None:
    """Delete this run's queues from the machine's RabbitMQ."""
    async def drop() -> None:
        import aio_pika
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        channel = await connection.channel()
        for name in ("bare", "bridge", "rep"):
            try:
                await channel.queue_delete(f"bench-{uid}-{name}")
            except Exception:
                channel = await connection.channel()
        await connection.close()
    try:
        asyncio.run(drop())
    except Exception as exc:
        print(f"could not delete the bench queues: {exc}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "responder":
        responder(sys.argv[2], sys.argv[3])
    else:
        main()
