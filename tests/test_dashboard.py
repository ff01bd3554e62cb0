"""The web dashboard, end to end in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from actors.dashboard import DashboardModel
from actors.observe import NodeState
from messages import ConfigError
from supervisor import parse_config
from tests.conftest import require_service
from tests.nodes import RunningNode, eventually, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A headless Chromium (Debian's) with a fresh profile; skips outside CI when missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("Playwright", False, "the playwright package is not installed")
    require_service("Chromium", os.path.exists(CHROMIUM),
                    f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


def dashboard_node(start_node: Callable[..., RunningNode], **settings: Any) -> tuple[RunningNode, str]:
    """A node with the default actors and a dashboard on a free port."""
    port = free_port()
    node = start_node({"extends": "defaults", "dashboard": {"port": port, **settings}})
    return node, f"http://127.0.0.1:{port}"


def post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """POST ``body`` as JSON; (status, text)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def inc(page: Any, actor: str) -> str:
    return str(page.text_content(f'tr[data-actor="{actor}"] .inc') or "")


def test_page_follows_a_kill_and_acknowledges_an_alert(
        start_node: Callable[..., RunningNode], browser: Any, tmp_path: Path) -> None:
    """Open the page; SIGKILL echo: its incarnation changes on the page within one second;
    an open alert is acknowledged with its button; a screenshot is saved."""
    node, url = dashboard_node(start_node, control=True)
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url + "/")
    page.wait_for_selector('tr[data-actor="echo"]', timeout=15_000)
    assert inc(page, "echo") == "1"
    page.wait_for_selector("#live.s-live", timeout=10_000)
    with node.connect() as conn:
        pid = conn.status("echo").actors[0].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    page.wait_for_function(  # the bound: on the page within one second of the kill
        """() => document.querySelector('tr[data-actor="echo"] .inc')?.textContent === "2" """,
        timeout=1_000)
    with node.connect() as conn:
        conn.ask("health", "health.report", {"component": "disk", "metric": "error_rate",
                                             "value": 0.9})
    disk = 'tr[data-alert]:has(td:text-is("disk"))'
    page.wait_for_selector(f"{disk} .ack-button", timeout=10_000)
    alert_id = int(page.get_attribute(disk, "data-alert") or 0)
    page.click(f"{disk} .ack-button")
    page.wait_for_selector(f'tr[data-alert="{alert_id}"][data-acknowledged="true"]', timeout=10_000)
    with node.connect() as conn:
        alerts = conn.ask("health", "health.alerts", {"open_only": True}).alerts
    assert {a.id: a.acknowledged for a in alerts}[alert_id] is True
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    foreign = [u for u in requested if not u.startswith(url) and not u.startswith("data:")]
    assert not foreign, f"the page fetched from elsewhere: {foreign}"


def test_restart_button_asks_then_restarts(start_node: Callable[..., RunningNode], browser: Any) -> None:
    """With control on, an actor's restart button asks for confirmation, then restarts it."""
    node, url = dashboard_node(start_node, control=True)
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector('tr[data-actor="echo"] button.restart', timeout=15_000)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click('tr[data-actor="echo"] button.restart')
    with node.connect() as conn:
        assert conn.status("echo").actors[0].incarnation == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('tr[data-actor="echo"] button.restart')
    page.wait_for_function(
        """() => document.querySelector('tr[data-actor="echo"] .inc')?.textContent === "2" """,
        timeout=10_000)


def test_charts_show_timed_operations(start_node: Callable[..., RunningNode], browser: Any) -> None:
    """Operations the profiler timed get a p50/p99 chart (uPlot, served from the package)."""
    node, url = dashboard_node(start_node)
    with node.connect() as conn:
        for n in range(20):
            conn.ask("echo", "echo.ping", {"n": n})
    page = browser.new_page()
    page.goto(url + "/")
    page.wait_for_selector(".chart .uplot canvas", timeout=15_000)
    assert page.locator(".chart").count() >= 1


def test_read_only_by_default(start_node: Callable[..., RunningNode]) -> None:
    """Without ``control`` the commands are refused and the state is still served."""
    node, url = dashboard_node(start_node)
    status, text = post(url + "/api/restart", {"name": "echo"})
    assert status == 403 and "read-only" in text
    state = eventually(lambda: json.loads(urllib.request.urlopen(url + "/api/state", timeout=10)
                                          .read()).get("actors"), timeout=10)
    assert state["echo"]["state"] == "running"
    with node.connect() as conn:
        assert conn.status("echo").actors[0].incarnation == 1


def test_token_and_origin_guard_the_commands(start_node: Callable[..., RunningNode]) -> None:
    """With a token, a command without it is 401; from another origin or host it is refused."""
    node, url = dashboard_node(start_node, control=True, token="s3cret")
    assert post(url + "/api/restart", {"name": "echo"})[0] == 401
    assert post(url + "/api/restart", {"name": "echo"},
                {"Authorization": "Bearer s3cret", "Origin": "http://evil.example"})[0] == 403
    assert post(url + "/api/restart", {"name": "echo"},
                {"Authorization": "Bearer s3cret", "Host": "evil.example"})[0] == 421
    status, text = post(url + "/api/restart", {"name": "echo"}, {"Authorization": "Bearer s3cret"})
    assert status == 200 and json.loads(text)["ok"] is True
    with node.connect() as conn:
        assert conn.status("echo").actors[0].incarnation == 2


def test_beyond_loopback_needs_security_and_control_a_token() -> None:
    """Beyond loopback only on a secured (or "insecure") node, and control there only with
    a token."""
    with pytest.raises(ConfigError, match=r"host '192\.0\.2\.1' can be reached from other"):
        parse_config({"dashboard": {"host": "192.0.2.1"}}, {})
    with pytest.raises(ConfigError, match=r"control is on .* set a \"token\""):
        parse_config({"dashboard": {"host": "192.0.2.1", "control": True}, "insecure": True}, {})
    parse_config({"dashboard": {"host": "192.0.2.1", "control": True, "token": "t"},
                  "insecure": True}, {})


def test_model_keeps_minutes_of_latency_and_charts_the_slowest() -> None:
    """Points older than ``history`` seconds go; the slowest ops by latest p99 are charted."""
    model = DashboardModel(history=60, charts=1, transitions=5, control=False)

    def report(p99: dict[str, float]) -> dict[str, Any]:
        return {"ops": {op: {"windows": {"10s": {"count": 1, "p50": v / 2, "p99": v}}}
                        for op, v in p99.items()}}
    model.update(NodeState(at=1000.0, actors=[], report=report({"a": 0.1, "b": 0.2})))
    added = model.update(NodeState(at=1050.0, actors=[], report=report({"a": 0.3})))
    assert added == {"a": [1050.0, 0.15, 0.3]}
    model.update(NodeState(at=1070.0, actors=[], report=report({"a": 0.3})))
    assert set(model.latency) == {"a"} and len(model.latency["a"]) == 2  # b's point aged out
    assert model.charted() == ["a"]
    model.note_event("breaker.state", {"resource": "db", "from": "closed", "state": "open"})
    assert model.view(full_history=True)["transitions"][0]["state"] == "open"


def test_secured_node_dashboard_reads_the_node(start_node: Callable[..., RunningNode],
                                               tmp_path: Path) -> None:
    """On a node with CurveZMQ security the dashboard reads the node as its own client."""
    from actors import write_keys

    write_keys(tmp_path / "keys", operators=["ops"], agents=["bot"])
    port = free_port()
    start_node({"security": {"keys": str(tmp_path / "keys")}, "dashboard": {"port": port},
                "children": [{"name": "echo", "actor": "echo"}]})
    actors = eventually(lambda: json.loads(urllib.request.urlopen(
        f"http://127.0.0.1:{port}/api/state", timeout=10).read()).get("actors"), timeout=10)
    assert actors and actors["echo"]["state"] == "running"
