"""Fixtures: real node processes on loopback, cleaned up by pid whatever the outcome."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from actors.testing import TcpProxy
from tests.nodes import RunningNode, start_node_process

IN_CI = os.environ.get("CI") == "true"
FUZZ_LONG_EXAMPLES = 5_000
"""Examples per property under ``--hypothesis-profile=fuzz-long`` (CI runs Hypothesis'
default of 100): the long fuzz run of the wire, recorded in bench/RESULTS.md."""
settings.register_profile("fuzz-long", max_examples=FUZZ_LONG_EXAMPLES)


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[Callable[..., RunningNode]]:
    """Start nodes from a config dict (None: embedded defaults); all stopped at teardown."""
    started: list[RunningNode] = []

    def start(config: dict[str, Any] | None = None, **kwargs: Any) -> RunningNode:
        sub = tmp_path / f"node{len(started)}"
        sub.mkdir()
        node = start_node_process(sub, config, **kwargs)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


@pytest.fixture
def echo_node(start_node: Callable[..., RunningNode]) -> RunningNode:
    """A node running echo, relay and chaos with short heartbeats."""
    return start_node({
        "max_restarts": 20, "max_seconds": 10,
        "children": [
            {"name": "echo", "actor": "echo"},
            {"name": "relay", "actor": "relay"},
            {"name": "chaos", "actor": "chaos", "heartbeat_interval": 0.1, "max_busy": 1.0},
        ],
    })


@pytest.fixture
def uid() -> str:
    """A random suffix that keeps a test's queues, topics and tables apart from other runs'."""
    return uuid.uuid4().hex[:10]


def require_service(name: str, reachable: bool, reason: str) -> None:
    """Skip when a server is missing, except under CI where that is a failure."""
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable under CI: {reason}")
    pytest.skip(f"{name} is not reachable: {reason}")


def require_server(name: str, port: int) -> None:
    """Skip (fail under CI) unless a server answers on 127.0.0.1:``port``."""
    require_service(name, reachable(("127.0.0.1", port)), f"nothing answers on 127.0.0.1:{port}")


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    """A TCP proxy to PostgreSQL at 127.0.0.1:5432 that a test can stop and start again
    (skips without the server); closed, with every connection through it, at teardown."""
    require_server("PostgreSQL", 5432)
    proxy = TcpProxy(("127.0.0.1", 5432))
    yield proxy
    proxy.close()


def reachable(address: tuple[str, int]) -> bool:
    """Whether something accepts a TCP connection at ``address`` within a second."""
    try:
        socket.create_connection(address, timeout=1).close()
    except OSError:
        return False
    return True
