"""CurveZMQ on a real node: who gets in, what each role may do, and what binding beyond
loopback requires. Keys come from ``actors.write_keys`` (pyzmq's ``zmq.auth``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from actors import (
    EventReader,
    ServerKeys,
    close_context,
    connect,
    connect_async,
    connect_socket,
    new_context,
    write_keys,
)
from actors._security import ClientKeys
from actors.examples import Count, Ping
from messages import AskTimeout, ConfigError, Envelope, Forbidden, encode
from tests.conftest import IN_CI
from tests.nodes import ROOT, RunningNode, eventually, free_port, start_node_process

ECHO_ONLY: dict[str, Any] = {"children": [{"name": "echo", "actor": "echo",
                                           "heartbeat_interval": 0.1}]}
SILENT = 1.5
"""Seconds an ask without an allowed key waits before it counts as unanswered."""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keys directory: the node, an operator ``ops``, an agent ``bot``; and ``stranger``,
    a key pair the node was never told about, outside it."""
    root = tmp_path_factory.mktemp("keys")
    write_keys(root / "keys", operators=["ops"], agents=["bot"])
    write_keys(root / "elsewhere", agents=["stranger"])
    return root


def client(keys: Path, name: str) -> dict[str, str]:
    """connect() options for a client key (``stranger``: a key the node does not know)."""
    where = "elsewhere" if name == "stranger" else "keys"
    return {"client_key": str(keys / where / "clients" / f"{name}.key_secret"),
            "node_key": str(keys / "keys" / "node.key")}


@pytest.fixture(scope="module")
def secured(keys: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """A node with security on loopback, running echo."""
    node = start_node_process(tmp_path_factory.mktemp("secured"), {
        "children": [*ECHO_ONLY["children"], {"name": "chaos", "actor": "chaos"}],
        "security": {"keys": str(keys / "keys")}})
    yield node
    node.stop()


def test_keys_are_written_private(keys: Path):
    """run_node.py keys' files: directories 0700, secret keys 0600, public keys filed by role."""
    root = keys / "keys"
    for folder in (root, root / "clients", root / "operator", root / "agent"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for secret in (root / "node.key_secret", root / "clients" / "bot.key_secret"):
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    loaded = ServerKeys.load(root)
    assert sorted(loaded.clients.values()) == [("agent", "bot"), ("operator", "ops")]
    with pytest.raises(ValueError, match="already has keys"):
        write_keys(root, agents=["bot"])


def test_missing_keys_are_a_config_error_with_the_way_out(tmp_path: Path):
    """A keys directory that is not there names the command that creates it."""
    with pytest.raises(ConfigError, match=r"run_node\.py keys"):
        ServerKeys.load(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="node_key="):
        ClientKeys.resolve(client_key=tmp_path / "x.key_secret", env={})


def test_client_without_a_key_gets_no_answer(secured: RunningNode):
    """A plain client never completes the handshake: its ask times out, and the error
    names the client's key among what to check."""
    with secured.connect(timeout=SILENT) as conn, \
            pytest.raises(AskTimeout, match=r"security, that this client's key is allowed"):
        conn.about()


def test_client_with_an_unknown_key_gets_no_answer(secured: RunningNode, keys: Path):
    """A key pair the node does not list is refused by ZAP: no answer, and the node logs it."""
    with secured.connect(timeout=SILENT, **client(keys, "stranger")) as conn, \
            pytest.raises(AskTimeout):
        conn.about()
    assert eventually(lambda: "refused a CURVE client with an unknown key" in secured.log_text())


def test_agent_key_asks_but_may_not_command(secured: RunningNode, keys: Path):
    """An agent key asks actors and reads state; node commands are forbidden and counted."""
    with secured.connect(**client(keys, "bot")) as conn:
        assert conn.ask("echo", Ping(5)).n == 5
        before = conn.status().forbidden
        for command in ("stop-child", "start-child", "restart"):
            tag = {"stop-child": "node.stop_child", "start-child": "node.start_child",
                   "restart": "node.restart"}[command]
            with pytest.raises(Forbidden, match="operator"):
                conn.ask("node", tag, {"name": "echo"})
        with pytest.raises(Forbidden):
            conn.stop_node()
        assert conn.status().forbidden == before + 4
        assert conn.status("echo").actors[0].state == "running"


def test_operator_key_commands(secured: RunningNode, keys: Path):
    """An operator key restarts a child (and could stop the node)."""
    with secured.connect(**client(keys, "ops")) as conn:
        first = conn.status("echo").actors[0].incarnation
        conn.ask("node", "node.restart", {"name": "echo"}, timeout=20.0)
        assert conn.status("echo").actors[0].incarnation == first + 1
        assert conn.ask("echo", Ping(1), retries=1).n == 1


def test_events_need_a_key_too(secured: RunningNode, keys: Path):
    """The event stream is CURVE as well: an agent key is confirmed, no key is not."""
    with secured.connect(**client(keys, "bot")) as conn:
        endpoint = conn.about().events
        with conn.subscribe("lifecycle.") as reader:
            assert reader.confirmed
    plain = EventReader(endpoint, "lifecycle.", keys=None)
    try:
        assert not plain.confirmed
    finally:
        plain.close()


def test_asyncio_client_with_keys(secured: RunningNode, keys: Path):
    """connect_async takes the same keys."""
    async def main() -> int:
        async with connect_async(secured.endpoint, **client(keys, "bot")) as conn:
            pong = await conn.ask("echo", Ping(9))
            return int(pong.n)

    assert asyncio.run(main()) == 9


def test_wrong_key_never_reaches_the_actor(secured: RunningNode, keys: Path):
    """Straight to the actor's own endpoint with an unknown key: no reply, and the actor
    never handles it (chaos counts every chaos.count it handles)."""
    with secured.connect(**client(keys, "bot")) as conn:
        endpoint = conn.resolve("chaos").endpoint
        assert endpoint.startswith("tcp://")
        before = conn.ask("chaos", Count())
        ctx = new_context()
        try:
            stranger = ClientKeys.resolve(**client(keys, "stranger"), env={})
            sock = connect_socket(ctx, zmq.DEALER, endpoint, keys=stranger)
            sock.send(encode(Envelope("ask", 1, "chaos", "chaos.count", {}, time.time() + 5)))
            assert not sock.poll(int(SILENT * 1000)), "an unknown key got a reply"
            sock.close()
        finally:
            close_context(ctx)
        assert conn.ask("chaos", Count()) == before + 1


def test_cli_takes_keys(secured: RunningNode, keys: Path):
    """run_node.py --client-key/--node-key: an agent reads status; its stop is refused (exit 1)."""
    agent = client(keys, "bot")
    flags = ("--client-key", agent["client_key"], "--node-key", agent["node_key"])
    status = secured.cli("status", *flags)
    assert status.returncode == 0 and "echo" in status.stdout, status.stderr
    stop = secured.cli("stop", *flags)
    assert stop.returncode == 1 and "Forbidden" in stop.stderr and "operator" in stop.stderr
    silent = secured.cli("status", "--timeout", "1")
    assert silent.returncode == 3 and "--client-key" in silent.stderr


def test_binding_beyond_loopback_needs_security(tmp_path: Path):
    """Without security a node refuses to listen beyond loopback, saying how to make keys."""
    done = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "--endpoint",
                           f"tcp://0.0.0.0:{free_port()}"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, check=False)
    assert done.returncode == 2
    assert "run_node.py keys" in done.stderr and "security" in done.stderr


def test_insecure_opt_out_warns(start_node: Callable[..., RunningNode]):
    """"insecure": true serves beyond loopback without authentication, with a warning."""
    node = start_node({**ECHO_ONLY, "insecure": True}, endpoint=f"tcp://0.0.0.0:{free_port()}")
    assert "WITHOUT authentication" in node.log_text()
    with connect(node.endpoint.replace("0.0.0.0", "127.0.0.1")) as conn:
        assert conn.ask("echo", Ping(3)).n == 3


# -- a node in a network namespace, reached from another --------------------------------------
def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def namespaces() -> Iterator[tuple[str, str, str]]:
    """Two network namespaces joined by a veth pair, addresses only inside them:
    (server namespace, its address, client namespace). Deleted whatever happens."""
    tag = f"{os.getpid() % 10000}{random.randrange(1000):03d}"
    server, agent = f"acS{tag}", f"acC{tag}"
    subnet = f"10.{random.randrange(64, 250)}.{random.randrange(1, 250)}"
    made: list[str] = []
    try:
        for ns in (server, agent):
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("link", "add", f"vs{tag}", "netns", server, "type", "veth", "peer", "name",
            f"vc{tag}", "netns", agent)
        for ns, dev, host in ((server, f"vs{tag}", 1), (agent, f"vc{tag}", 2)):
            _ip("-n", ns, "addr", "add", f"{subnet}.{host}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
    except (OSError, subprocess.SubprocessError) as exc:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        reason = getattr(exc, "stderr", "") or str(exc)
        if IN_CI:
            pytest.fail(f"cannot create network namespaces under CI: {reason}")
        pytest.skip(f"cannot create network namespaces here (needs root and iproute2): {reason}")
    try:
        yield server, f"{subnet}.1", agent
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)


def run_agent(namespace: str, endpoint: str, keys: Path, name: str | None) -> dict[str, Any]:
    """tests/secure_agent.py in ``namespace``, with the client key ``name`` (None: no key)."""
    args = ["ip", "netns", "exec", namespace, sys.executable, str(ROOT / "tests" / "secure_agent.py"),
            endpoint, str(keys / "keys" / "node.key")]
    if name is not None:
        args.append(client(keys, name)["client_key"])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_secured_node_in_a_namespace_is_reached_from_another(keys: Path, tmp_path: Path):
    """A node bound on a namespace's own address (beyond loopback, so with security) serves
    an agent key from another namespace, forbids it the stop, and answers nothing to a
    client without a key or with an unknown one."""
    with namespaces() as (server, address, agent):
        node = start_node_process(tmp_path, {**ECHO_ONLY, "security": {"keys": str(keys / "keys")}},
                                  endpoint=f"tcp://{address}:5570",
                                  prefix=("ip", "netns", "exec", server))
        try:
            assert run_agent(agent, node.endpoint, keys, "bot") == {
                "echo": 7, "status": 1, "stop": "Forbidden"}
            for name in (None, "stranger"):  # unanswered: timed out, or not even queued on a
                outcome = run_agent(agent, node.endpoint, keys, name)  # connection refused
                assert set(outcome) == {"echo", "status", "stop"}
                assert set(outcome.values()) <= {"AskTimeout", "ActorOverloaded"}, outcome
            assert node.proc.poll() is None
        finally:
            node.stop()
