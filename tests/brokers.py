"""Test helpers for the connectors: private brokers a test may kill, and plain clients.

A private broker runs on a free loopback port with its own data directory, so a test can
kill it by pid and start it again without touching the machine's shared broker; every
process started here is killed by pid at teardown.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from actors.connectors import BridgeStatistics
from tests.conftest import _reachable
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


def bridge_child(actor: str, name: str, **settings: Any) -> dict[str, Any]:
    """A config child running bridge ``actor`` as ``name``, reconnecting within 0.5 s."""
    return {"name": name, "actor": actor, "settings": {"reconnect_max": 0.5, **settings}}


def bridge_stats(conn: Any, name: str) -> BridgeStatistics:
    """Bridge ``name``'s statistics."""
    value = conn.ask(name, "actor.statistics", {}, timeout=2.0)
    assert isinstance(value, BridgeStatistics)
    return value


class PrivateBroker:
    """A broker process on its own port; :meth:`kill` and :meth:`start` it at will."""

    def __init__(self, name: str, command: list[str], port: int, log: Path) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()

    def start(self) -> None:
        """Start the broker and wait until its port answers."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT)
        self.pids.add(self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while not _reachable(("127.0.0.1", self.port)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start on port {self.port}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop the broker by its pid (SIGTERM lets it save its state) and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def close(self) -> None:
        """Kill every process this broker ever ran (teardown)."""
        self.kill(signal.SIGKILL)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)


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
