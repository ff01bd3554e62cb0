"""``run_node.py top``: the textual view driven by its pilot against a real node."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from actors.observe import NodeState
from actors.top import ACTOR_COLUMNS, TopApp, TopModel
from messages import ActorStatus
from tests.nodes import RunningNode

CONFIG: dict[str, Any] = {"extends": "defaults"}
SIZE = (160, 45)


async def until(pilot: Pilot[Any], check: Callable[[], Any], timeout: float) -> Any:
    """Let the app run until ``check()`` is truthy or ``timeout`` passes; the last value."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        await pilot.pause(0.02)
    return value


def cell(app: TopApp, table: str, row: str, column: str,
         columns: tuple[str, ...] = ACTOR_COLUMNS) -> str | None:
    """The text in ``table`` at row key ``row`` and ``column``; None if there is no such row."""
    widget = app.query_one(f"#{table}", DataTable)
    try:
        return str(widget.get_row(row)[columns.index(column)])
    except Exception:  # textual's RowDoesNotExist
        return None


async def started(app: TopApp, pilot: Pilot[Any]) -> None:
    """Wait for the first read and a confirmed event subscription."""
    assert await until(pilot, lambda: cell(app, "actors", "echo", "STATE") == "running", 15)
    assert await until(pilot, lambda: app._feed is not None and app._feed.wait_subscribed(0), 10)


async def test_sigkill_shows_as_a_restart_within_one_second(start_node: Callable[..., RunningNode]) -> None:
    """The event stream, not the poll (every 30 s here), puts a crash on the screen: < 1 s."""
    node = start_node(CONFIG)
    app = TopApp(node.endpoint, interval=30.0)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        assert cell(app, "actors", "echo", "RESTARTS") == "0"
        with node.connect() as conn:
            pid = conn.status("echo").actors[0].pid
        assert pid is not None
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        shown = await until(pilot, lambda: cell(app, "actors", "echo", "RESTARTS") == "1", 1.0)
        assert shown, f"no restart on the screen {time.monotonic() - killed:.2f} s after the SIGKILL"
        assert await until(pilot, lambda: cell(app, "actors", "echo", "INC") == "2", 5)


async def test_r_restarts_the_selected_actor_after_confirmation(
        start_node: Callable[..., RunningNode]) -> None:
    """Select echo, press r, answer y: the node starts incarnation 2 of echo."""
    node = start_node(CONFIG)
    app = TopApp(node.endpoint, interval=30.0)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        table = app.query_one("#actors", DataTable)
        table.move_cursor(row=table.get_row_index("echo"))
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "Confirm", 5)
        await pilot.press("n")  # no: nothing happens
        await pilot.pause(0.2)
        with node.connect() as conn:
            assert conn.status("echo").actors[0].incarnation == 1
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "Confirm", 5)
        await pilot.press("y")
        assert await until(pilot, lambda: cell(app, "actors", "echo", "INC") == "2", 10)
        with node.connect() as conn:
            assert conn.status("echo").actors[0].incarnation == 2


async def test_a_acknowledges_the_selected_alert(start_node: Callable[..., RunningNode]) -> None:
    """An open alert is listed; tab to it, press a: the health monitor marks it acknowledged."""
    node = start_node(CONFIG)
    app = TopApp(node.endpoint, interval=30.0)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        with node.connect() as conn:
            conn.ask("health", "health.report", {"component": "disk", "metric": "error_rate",
                                                 "value": 0.9})
        columns = ("ID", "COMPONENT", "METRIC", "SEVERITY", "ACK", "MESSAGE")
        table = app.query_one("#alerts", DataTable)
        assert await until(pilot, lambda: table.row_count == 1, 10)  # health.alert event
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        await pilot.press("tab")
        assert app.focused is table
        await pilot.press("a")
        assert await until(pilot, lambda: cell(app, "alerts", key, "ACK", columns) == "yes", 10)
        with node.connect() as conn:
            alerts = conn.ask("health", "health.alerts", {"open_only": True}).alerts
        assert [a.acknowledged for a in alerts] == [True]


async def test_slash_filters_by_name_and_s_sorts(start_node: Callable[..., RunningNode]) -> None:
    """Typing after / keeps the matching actors; Escape brings back every one."""
    node = start_node(CONFIG)
    app = TopApp(node.endpoint, interval=30.0)
    async with app.run_test(size=SIZE) as pilot:
        await started(app, pilot)
        table = app.query_one("#actors", DataTable)
        await pilot.press("slash", "e", "c", "h")
        assert await until(pilot, lambda: table.row_count == 1, 5)
        assert cell(app, "actors", "echo", "NAME") == "echo"
        await pilot.press("escape")
        assert await until(pilot, lambda: table.row_count == 6, 5)  # the tree: actors under root
        await pilot.press("s")
        assert app.model.sort == "name"


def _row(name: str, restarts: int, handled: int, incarnation: int = 1) -> ActorStatus:
    return ActorStatus(name, "running", 100, incarnation, 1.0, handled, 0, 0, restarts, "", "root")


def test_model_rates_sorting_and_events() -> None:
    """handled/s is the difference between reads over the time between them (a new
    incarnation counts from zero); a lifecycle event changes its row before any read."""
    model = TopModel()
    model.update(NodeState(at=100.0, actors=[_row("a", 0, 10), _row("b", 3, 50)]))
    model.update(NodeState(at=102.0, actors=[_row("a", 0, 30), _row("b", 3, 8, incarnation=2)]))
    rows = {r.name: r for r in model.actor_rows()}
    assert rows["a"].rate == pytest.approx(10.0) and rows["b"].rate == pytest.approx(4.0)
    model.sort = "restarts"
    assert [r.name for r in model.actor_rows()] == ["b", "a"]
    assert model.apply_event("lifecycle.exited", {"name": "a", "event": "exited", "incarnation": 1})
    assert rows["a"].state == "exited"
    model.apply_event("lifecycle.started", {"name": "a", "event": "started", "incarnation": 2,
                                            "pid": 7})
    assert (rows["a"].state, rows["a"].incarnation, rows["a"].restarts, rows["a"].pid) == \
        ("running", 2, 1, 7)


def test_top_command_says_when_no_node_answers(tmp_path: Any) -> None:
    """``run_node.py top`` at an endpoint where nothing listens: exit 3 and one line."""
    import subprocess
    import sys

    from tests.nodes import ROOT, free_port
    done = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "top", "--endpoint",
                           f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.5"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 3 and "no node answered" in done.stderr


def test_model_tree_order_shows_nested_supervisors() -> None:
    """Sorted as the tree, rows follow node.tree: a nested supervisor, then its children."""
    model = TopModel()
    tree = {"name": "root", "kind": "supervisor", "state": "running", "restarts": 0, "children": [
        {"name": "a", "kind": "worker"},
        {"name": "team", "kind": "supervisor", "state": "running", "restarts": 2,
         "children": [{"name": "b", "kind": "worker"}]}]}
    model.update(NodeState(at=1.0, actors=[_row("a", 0, 0), _row("b", 0, 0)], tree=tree))
    rows = model.actor_rows()
    assert [(r.name, r.depth, r.supervisor) for r in rows] == \
        [("a", 0, False), ("team", 0, True), ("b", 1, False)]
    assert rows[1].cells(indent=True)[0] == "▸ team" and rows[2].cells(indent=True)[0] == "  b"
