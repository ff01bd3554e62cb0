"""Recycling (issue 13): an incarnation past its ``max_memory`` or ``max_messages`` is
replaced gracefully — the message in hand finishes, its snapshot is handed over, a fresh
incarnation takes over — with no restart intensity spent."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from actors.examples import Count, Leak
from messages import ConfigError
from supervisor import parse_config
from supervisor._recycle import recycle_cause
from tests.nodes import RunningNode, eventually


@pytest.mark.parametrize(("limits", "rss", "handled", "cause"), [
    ({"max_memory": 200.0}, 150.0, 10**6, None),
    ({"max_memory": 200.0}, 200.0, 0, None),
    ({"max_memory": 200.0}, 200.4, 0, "memory: 200 MiB > 200"),
    ({"max_memory": 200.0}, 312.6, 0, "memory: 313 MiB > 200"),
    ({"max_messages": 1000}, 10**4, 999, None),
    ({"max_messages": 1000}, None, 1000, "messages: 1000 >= 1000"),
    ({"max_memory": 64.0, "max_messages": 5}, 65.0, 7, "memory: 65 MiB > 64"),
    ({}, 10**5, 10**9, None),
])
def test_recycle_cause(limits: dict[str, float], rss: float | None, handled: int,
                       cause: str | None) -> None:
    """Over max_memory (strictly) or at max_messages, with the cause the exit reports."""
    full = {"max_memory": None, "max_messages": None, **limits}
    assert recycle_cause(max_memory=full["max_memory"], max_messages=full["max_messages"],  # type: ignore[arg-type]
                         rss_mib=rss, handled=handled) == cause


@pytest.mark.parametrize(("child", "needle"), [
    ({"max_memory": 0}, "child 'c': max_memory must be a finite number > 0, got 0"),
    ({"max_memory": "lots"}, "max_memory"),
    ({"max_messages": 0}, "child 'c': max_messages must be an integer >= 1, got 0"),
])
def test_limits_are_checked_naming_the_child(child: dict[str, object], needle: str) -> None:
    """A limit that cannot work is refused before anything starts."""
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_config({"children": [{"name": "c", "actor": "echo", **child}]}, {})


@pytest.fixture
def leaky(start_node: Callable[..., RunningNode]) -> RunningNode:
    """chaos with a 150 MiB limit that saves its counter in on_stop, under a supervisor
    whose intensity is 0: any exit that counted as a restart would end the node."""
    return start_node({"max_restarts": 0, "max_seconds": 60, "children": [
        {"name": "chaos", "actor": "chaos", "max_memory": 150, "heartbeat_interval": 0.1,
         "settings": {"save_on_stop": True}}]})


def test_an_actor_over_max_memory_is_recycled_with_its_snapshot(leaky: RunningNode) -> None:
    """chaos leaks 200 MiB on purpose: the reply comes, then the node replaces the
    incarnation (cause 'memory: N MiB > 150'); the next one starts from the snapshot saved in
    on_stop, and the node — intensity 0 — lives on through two recycles."""
    log = leaky.event_log()
    try:
        with leaky.connect() as conn:
            assert [conn.ask("chaos", Count()) for _ in range(3)] == [1, 2, 3]
            for round_ in (1, 2):
                assert conn.ask("chaos", Leak(200), timeout=10.0) == 200  # the message in hand
                exited = log.wait_for("lifecycle.exited", "chaos", incarnation=round_)
                assert re.fullmatch(r"memory: \d+ MiB > 150", exited["cause"]), exited
                assert int(exited["cause"].split()[1]) > 150
                log.wait_for("lifecycle.started", "chaos", incarnation=round_ + 1)
            assert conn.ask("chaos", Count()) == 4  # the count went through both snapshots
            [row] = conn.status("chaos").actors
            assert (row.state, row.incarnation, row.restarts) == ("running", 3, 0)
        assert leaky.proc.poll() is None
        assert "gave up" not in leaky.log_text()
    finally:
        log.close()


def test_an_actor_is_recycled_after_max_messages(start_node: Callable[..., RunningNode]) -> None:
    """max_messages 5: after its fifth message an incarnation is replaced (cause 'messages:
    N >= 5', N the count at the heartbeat that saw it); asks keep being answered."""
    node = start_node({"max_restarts": 0, "children": [
        {"name": "chaos", "actor": "chaos", "max_messages": 5, "heartbeat_interval": 0.1}]})
    log = node.event_log()
    try:
        with node.connect() as conn:
            for _ in range(5):
                conn.ask("chaos", Count())
            exited = log.wait_for("lifecycle.exited", "chaos", incarnation=1)
            assert re.fullmatch(r"messages: \d+ >= 5", exited["cause"]), exited
            log.wait_for("lifecycle.started", "chaos", incarnation=2)
            assert conn.ask("chaos", Count(), retries=1) == 1  # a fresh incarnation, no snapshot
            assert eventually(lambda: conn.status("chaos").actors[0].incarnation == 2)
    finally:
        log.close()
