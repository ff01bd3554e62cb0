"""The profiler actor in a real node: batches over ZeroMQ, reports, bad input, bottlenecks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from actors.profiler import Recorder, connection_sink, profiled, render_top
from messages import HandlerError, RemoteProtocolError
from tests.nodes import RunningNode

PROFILER = "actors.profiler:ProfilerActor"


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        pause.wait(0.02)
    pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture
def profiler_node(start_node: Callable[..., RunningNode]) -> RunningNode:
    """A node running the profiler with a 50 ms default threshold."""
    return start_node({"children": [{"name": "profiler", "actor": PROFILER,
                                     "settings": {"default_threshold": 0.05, "min_samples": 5}}]})


def test_recorder_batches_reach_the_profiler(profiler_node: RunningNode) -> None:
    """Samples recorded in this process arrive by batch and appear in the report."""
    with profiler_node.connect() as conn:
        recorder = Recorder(connection_sink(conn), flush_interval=0.05)
        try:
            for i in range(500):
                recorder.record("db.query", 0.001 * (1 + i % 10), ok=i % 50 != 0)
            with profiled("block", recorder=recorder):
                pass

            def count() -> int:
                report = conn.ask("profiler", "profiler.report", {"window": "all"})
                ops = report["ops"]
                return int(ops["db.query"]["windows"]["all"]["count"]) if "db.query" in ops else 0

            assert wait_for(lambda: count() == 500)
        finally:
            recorder.close()
        report = conn.ask("profiler", "profiler.report", {"op": "db.query", "window": "10s"})
        stats = report["ops"]["db.query"]["windows"]["10s"]
        assert stats["errors"] == 10 and stats["max"] == 0.010
        assert "Top operations by p99" in render_top(conn.ask("profiler", "profiler.report", {}))
        statistics = conn.ask("profiler", "actor.statistics")
        assert statistics["samples"] == 501


def test_bad_input_gets_clear_errors(profiler_node: RunningNode) -> None:
    """Negative durations, wrong types and unknown ops are error replies naming the problem."""
    with profiler_node.connect() as conn:
        with pytest.raises(RemoteProtocolError,
                           match=r"Record\.seconds: expected a finite"):
            conn.ask("profiler", "profiler.record", {"op": "x", "seconds": -1.0})
        with pytest.raises(RemoteProtocolError, match=r"Record\.seconds: expected a number, got str"):
            conn.ask("profiler", "profiler.record", {"op": "x", "seconds": "slow"})
        with pytest.raises(HandlerError, match="no samples of operation 'nope'"):
            conn.ask("profiler", "profiler.report", {"op": "nope"})
        assert conn.ask("profiler", "profiler.record", {"op": "x", "seconds": 0.2}) == 1


def test_threshold_bottleneck_is_reported(profiler_node: RunningNode) -> None:
    """Slow calls over the default threshold show up in profiler.bottlenecks with evidence."""
    with profiler_node.connect() as conn:
        for _ in range(10):
            conn.ask("profiler", "profiler.record", {"op": "llm.call", "seconds": 0.3})
        found = conn.ask("profiler", "profiler.bottlenecks")["bottlenecks"]
        assert [(b["op"], b["kind"]) for b in found] == [("llm.call", "threshold")]
        assert found[0]["evidence"]["threshold"] == 0.05
        config = conn.ask("profiler", "profiler.configure", {"clear_default_threshold": True})
        assert config["default_threshold"] is None
        assert conn.ask("profiler", "profiler.bottlenecks")["bottlenecks"] == []


def test_alert_reaches_an_event_subscriber(profiler_node: RunningNode) -> None:
    """Slow samples over the threshold publish profiler.bottleneck on the node's event stream."""
    with profiler_node.connect() as conn, conn.subscribe("profiler.bottleneck") as reader:
        recorder = Recorder(connection_sink(conn), flush_interval=0.05)
        try:
            for _ in range(20):
                recorder.record("pool.query", 0.2)
            recorder.flush()
            event = reader.next(10.0)  # the subscription is confirmed: the first alert is seen
            assert event is not None, "no profiler.bottleneck event within 10 s"
        finally:
            recorder.close()
    assert event.topic == "profiler.bottleneck"
    assert event.body["op"] == "pool.query" and event.body["kind"] == "threshold"
    assert event.body["state"] == "raised" and event.body["evidence"]["threshold"] == 0.05
    assert event.body["profiler"] == "profiler"
