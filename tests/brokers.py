"""Test helpers for the connectors: private brokers a test may kill, and plain clients.

A private broker runs on a free loopback port with its own data directory, so a test can
kill it by pid and start it again without touching the machine's shared broker; every
process started here is killed by pid at teardown.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from actors.connectors import BridgeStatistics
from tests.conftest import reachable
from tests.nodes import free_port

START_TIMEOUT = 20.0


def take(messages: queue.Queue[Any], count: int, timeout: float) -> list[Any]:
    """The next ``count`` items of ``messages`` (fewer if ``timeout`` passes first)."""
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(out) < count and (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(queue.Empty):
            out.append(messages.get(timeout=left))
    return out


class Bridges:
    """Config children and statistics of one protocol's bridges, for that protocol's tests."""

    def __init__(self, actor: str) -> None:
        self.actor = actor

    def child(self, name: str | None = None, **settings: Any) -> dict[str, Any]:
        """A config child running this bridge as ``name``, reconnecting within 0.5 s."""
        return {"name": name or self.actor, "actor": self.actor,
                "settings": {"reconnect_max": 0.5, **settings}}

    def stats(self, conn: Any, name: str | None = None) -> BridgeStatistics:
        """The bridge's statistics."""
        value = conn.ask(name or self.actor, "actor.statistics", {}, timeout=2.0)
        assert isinstance(value, BridgeStatistics)
        return value

    def connected(self, conn: Any, name: str | None = None) -> bool:
        """Whether the bridge is connected to its broker."""
        return self.stats(conn, name).state == "connected"


class PrivateBroker:
    """A broker process on its own port; :meth:`kill` and :meth:`start` it at will."""

    def __init__(self, name: str, command: list[str], port: int, log: Path,
                 env: dict[str, str] | None = None, cleanup: Path | None = None) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log = log
        self.env = env
        self.cleanup = cleanup
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()

    def start(self) -> None:
        """Start the broker and wait until its port answers."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                         env=None if self.env is None else {**os.environ, **self.env})
        self.pids.add(self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not reachable(("127.0.0.1", self.port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on port {self.port}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        self.pids |= {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)}

    def broker_pid(self) -> int:
        """The pid of the process that listens on the port (a wrapper script's child, maybe)."""
        assert self.proc is not None
        for pid in [self.proc.pid, *(p.pid for p in psutil.Process(self.proc.pid).children(True))]:
            with contextlib.suppress(psutil.Error):
                if any(c.laddr and c.laddr.port == self.port and c.status == psutil.CONN_LISTEN
                       for c in psutil.Process(pid).net_connections("tcp")):
                    return pid
        return self.proc.pid

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker by its pid (SIGTERM lets it save its state) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.broker_pid(), sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def close(self) -> None:
        """Kill every process this broker ever ran and remove its files (teardown)."""
        for pid in list(self.pids):
            with contextlib.suppress(psutil.Error):
                self.pids |= {p.pid for p in psutil.Process(pid).children(recursive=True)}
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
        if self.cleanup is not None:
            shutil.rmtree(self.cleanup, ignore_errors=True)


def private_mosquitto(tmp: Path) -> PrivateBroker:
    """A Mosquitto with persistence in ``tmp`` (its sessions survive a SIGTERM restart)."""
    port = free_port()
    data = tmp / "mosquitto"
    data.mkdir(exist_ok=True)
    conf = data / "mosquitto.conf"
    # user: mosquitto started as root drops to user mosquitto, who cannot write the test's
    # (root-only) tmp directory; staying the user that started it keeps persistence working
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {data}/\nautosave_interval 1\n"
                    + (f"user {user}\n" if user else ""))
    return PrivateBroker("mosquitto", ["mosquitto", "-c", str(conf)], port, data / "log")


class MqttPeer:
    """A plain paho client on its own thread: what a device or another service would be."""

    def __init__(self, port: int = 1883, *, client_id: str = "", clean: bool = True) -> None:
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port, 30, clean_start=clean)
        self.client.loop_start()

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the broker's SUBACK."""
        done = queue.Queue[int]()
        self.client.on_subscribe = lambda c, u, mid, codes, props: done.put(mid)
        _, mid = self.client.subscribe(topic, qos)
        assert done.get(timeout=5) == mid

    def publish(self, topic: str, payload: bytes, qos: int = 1, *, message_id: str = "",
                response_topic: str = "", wait: bool = True) -> Any:
        """Publish (waiting for PUBACK when ``wait``); the paho message info."""
        props = Properties(PacketTypes.PUBLISH)
        if message_id:
            props.UserProperty = [("message_id", message_id)]
        if response_topic:
            props.ResponseTopic = response_topic
        info = self.client.publish(topic, payload, qos, properties=props)
        if wait and qos:
            info.wait_for_publish(10)
        return info

    def take(self, count: int, timeout: float = 10.0) -> list[mqtt.MQTTMessage]:
        """The next ``count`` messages received (fewer if ``timeout`` passes first)."""
        return take(self.messages, count, timeout)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def private_nats(tmp: Path) -> PrivateBroker:
    """A nats-server with JetStream storing in ``tmp`` (streams survive a restart)."""
    port = free_port()
    data = tmp / "nats"
    data.mkdir(exist_ok=True)
    return PrivateBroker("nats-server", ["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js",
                                         "-sd", str(data)], port, data / "log")


class NatsPeer:
    """A plain nats-py client on a loop thread of its own, driven from a synchronous test."""

    def __init__(self, port: int = 4222) -> None:
        import nats

        from actors.connectors import LoopThread

        self.messages: queue.Queue[Any] = queue.Queue()
        self.thread = LoopThread("nats-peer")
        self.nc = self.thread.run(nats.connect(f"nats://127.0.0.1:{port}", max_reconnect_attempts=-1,
                                               reconnect_time_wait=0.2), 10)
        self.js = self.nc.jetstream()

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine of this client's (``self.nc``, ``self.js``) and return its result."""
        return self.thread.run(coro, timeout)

    def subscribe(self, subject: str) -> None:
        """Collect every message on ``subject`` into :attr:`messages`."""
        async def collect(msg: Any) -> None:
            self.messages.put(msg)

        async def sub() -> None:
            await self.nc.subscribe(subject, cb=collect)
            await self.nc.flush()
        self.run(sub())

    def take(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The next ``count`` messages collected (fewer if ``timeout`` passes first)."""
        return take(self.messages, count, timeout)

    def close(self) -> None:
        """Close the connection and stop the loop thread."""
        with contextlib.suppress(Exception):
            self.run(self.nc.close(), 5)
        self.thread.close()


def private_rabbitmq() -> PrivateBroker:
    """A RabbitMQ node of its own (name, ports, data, no plugins) beside the machine's.

    Its files live in a fresh directory under /tmp that the ``rabbitmq`` user owns, since
    ``rabbitmq-server`` started as root runs the broker as that user.
    """
    port, dist = free_port(), free_port()
    data = Path(tempfile.mkdtemp(prefix="agentcell-rabbit-"))
    (data / "enabled_plugins").write_text("[].\n")
    (data / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError, LookupError):
            for path in (data, data / "enabled_plugins", data / "rabbitmq.conf"):
                shutil.chown(path, "rabbitmq")
    env = {"RABBITMQ_NODENAME": f"agentcell{port}@localhost", "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_CONFIG_FILE": str(data / "rabbitmq.conf"),
           "RABBITMQ_MNESIA_BASE": str(data / "mnesia"), "RABBITMQ_LOG_BASE": str(data / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(data / "enabled_plugins")}
    return PrivateBroker("rabbitmq", ["rabbitmq-server"], port, data / "out", env=env, cleanup=data)


class AmqpPeer:
    """A plain aio-pika client on a loop thread of its own, driven from a synchronous test."""

    def __init__(self, port: int = 5672) -> None:
        import aio_pika

        from actors.connectors import LoopThread

        self.aio_pika = aio_pika
        self.messages: queue.Queue[Any] = queue.Queue()
        self.thread = LoopThread("amqp-peer")
        async def open_channel() -> Any:
            self.connection = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{port}/")
            return await self.connection.channel()
        self.channel = self.run(open_channel())

    def run(self, coro: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on this client's loop and return its result."""
        return self.thread.run(coro, timeout)

    def queue(self, name: str, *, consume: bool = False) -> None:
        """Declare durable queue ``name`` (and collect its messages into :attr:`messages`)."""
        async def declare() -> None:
            q = await self.channel.declare_queue(name, durable=True)
            if consume:
                await q.consume(self._collect, no_ack=True)
        self.run(declare())

    async def _collect(self, msg: Any) -> None:
        self.messages.put(msg)

    def publish(self, queue_name: str, body: bytes, *, message_id: str = "", reply_to: str = "") -> None:
        """Publish to ``queue_name`` through the default exchange, persistent."""
        self.run(self.channel.default_exchange.publish(self.aio_pika.Message(
            body, message_id=message_id or None, reply_to=reply_to or None,
            delivery_mode=self.aio_pika.DeliveryMode.PERSISTENT), routing_key=queue_name))

    def take(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The next ``count`` messages collected (fewer if ``timeout`` passes first)."""
        return take(self.messages, count, timeout)

    def delete(self, *queues: str) -> None:
        """Delete ``queues`` (teardown)."""
        async def drop() -> None:
            for name in queues:
                with contextlib.suppress(Exception):
                    await self.channel.queue_delete(name)
        self.run(drop())

    def close(self) -> None:
        """Close the connection and stop the loop thread."""
        with contextlib.suppress(Exception):
            self.run(self.connection.close(), 5)
        self.thread.close()
