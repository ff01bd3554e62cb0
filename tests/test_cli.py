"""The run_node.py command line as a newcomer meets it (issue 22): exit codes that point the
right way, errors in one line, a tree for people, timestamps on events, where the data and
the logs are, and a user's actor module found beside its config."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import run_node
from actors import Connection, Reply
from messages import CellphoneError
from tests.nodes import ROOT, RunningNode, eventually, free_port

GREETER = (ROOT / "tests" / "user_actor.py").read_text()
"""A user's actor module (class ``Greeter``), copied where a test needs it."""


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``python run_node.py ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, str(ROOT / "run_node.py"), *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, check=False)


def one_line_error(stderr: str) -> str:
    """``stderr``, checked to be exactly one ``error: ...`` line (no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def pid_of(node: RunningNode, name: str) -> int:
    with node.connect() as conn:
        (row,) = [r for r in conn.status().actors if r.name == name]
    assert row.pid is not None
    return row.pid


# -- help, usage errors -------------------------------------------------------------------
def test_help_names_every_command_option_and_exit_code() -> None:
    """--help shows run, --log-level, --log-file, --path and the exit-code table; README
    documents every command and node option that --help shows."""
    text = run_node.build_parser().format_help()
    readme = (ROOT / "README.md").read_text()
    for word in ("run", "--log-level", "--log-file", "--path", "--config", "--endpoint", "--timeout"):
        assert word in text and f"{word}" in readme, word
    for command in run_node.COMMANDS:
        if command is not None:
            assert command in text and f"run_node.py {command}" in readme.replace("\\|", "|"), command
    for code in (0, 1, 2, 3, 4, 5):
        assert f"  {code}  " in text
    assert "stop child one actor" not in text and "start child one actor" not in text


@pytest.mark.parametrize(("body", "needle"), [
    ('{"sql": "select ?", "params": [123456789012345678901234567890]}', "integers must fit in 64 bits"),
    ("{not json", "BODY is not JSON"),
    ("[" * 100_000, "nests JSON too deeply"),
    ('{"text": "' + "x" * 2_000_000 + '"}', "over the limit of"),
    ("1" * 5000, "BODY is not JSON"),
])
def test_send_body_that_cannot_be_sent_is_a_usage_error(body: str, needle: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11 #5: a body msgpack cannot carry is one line and exit 2, before any node is asked."""
    code = run_node.main(["send", "pool", "pool.execute", body, "--endpoint",
                          f"tcp://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == run_node.EXIT_USAGE == 2
    assert needle in one_line_error(err)


def test_issue_11_big_integer_from_the_shell() -> None:
    """The exact command of issue 11 #5, run as a user runs it: one line, exit 2."""
    result = cli("send", "pool", "pool.execute",
                 '{"sql": "select ?", "params": [123456789012345678901234567890]}',
                 "--endpoint", f"tcp://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert "integers must fit in 64 bits" in one_line_error(result.stderr)


@pytest.mark.parametrize("args", [
    ("status", "--timeout", "-1"), ("status", "--timeout", "nan"), ("events", "--count", "0"),
    ("status", "--endpoint", "localhost"), ("health", "--min-status", "SO-SO"),
])
def test_bad_options_exit_2(args: tuple[str, ...]) -> None:
    """Bad option values are usage errors (exit 2) that name the option, never a traceback."""
    result = cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert args[1].lstrip("-") in result.stderr


def test_no_node_is_exit_3_and_says_so() -> None:
    """Exit 3 is kept for a node that does not answer; the message names the endpoint."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    result = cli("send", "echo", "echo.ping", "{}", "--endpoint", endpoint, "--timeout", "0.3")
    assert result.returncode == run_node.EXIT_UNREACHABLE == 3
    line = one_line_error(result.stderr)
    assert endpoint in line and "no node answered" in line


# -- timeouts name the actor ---------------------------------------------------------------
def test_hung_actor_timeout_names_actor_state_and_wait(start_node: Callable[..., RunningNode]) -> None:
    """An ask to a hung actor exits 5 saying the actor did not answer, its state and the wait
    (issue 19's "Also"), not "is a node running"."""
    node = start_node({"children": [{"name": "chaos", "actor": "chaos", "max_busy": None}]})
    with node.connect() as conn:
        conn.tell("chaos", "chaos.fail", {"how": "hang"})
    result = node.cli("send", "chaos", "chaos.count", "{}", "--timeout", "0.5")
    assert result.returncode == run_node.EXIT_TIMEOUT == 5
    line = one_line_error(result.stderr)
    assert "actor 'chaos' did not answer 'chaos.count' within 0.5 s" in line
    assert "it is running" in line and f"pid {pid_of(node, 'chaos')}" in line
    assert "is a node running" not in line


def test_stopped_child_timeout_says_stopped(start_node: Callable[..., RunningNode]) -> None:
    """An ask to a child stopped on purpose says so and how to start it again."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"}]})
    assert node.cli("stop-child", "echo").returncode == 0
    result = node.cli("send", "echo", "echo.ping", "{}", "--timeout", "0.5")
    assert result.returncode == 5
    line = one_line_error(result.stderr)
    assert "it is stopped" in line and "start-child echo" in line


# -- what people read ------------------------------------------------------------------------
def test_tree_is_drawn_and_json_keeps_its_shape(start_node: Callable[..., RunningNode]) -> None:
    """tree draws branches for people; tree --json is the node.tree answer, keys unchanged."""
    node = start_node({"children": [
        {"name": "echo", "actor": "echo"},
        {"name": "workers", "strategy": "rest_for_one", "children": [
            {"name": "a", "actor": "echo"}, {"name": "b", "actor": "echo"}]}]})
    drawn = node.cli("tree")
    assert drawn.returncode == 0, drawn.stderr
    lines = drawn.stdout.splitlines()
    assert lines[0].startswith("root  supervisor one_for_one  running")
    assert lines[1].startswith("├── echo  running  pid ")
    assert lines[2].startswith("└── workers  supervisor rest_for_one")
    assert lines[3].startswith("    ├── a  running") and lines[4].startswith("    └── b  running")
    raw = node.cli("tree", "--json")
    tree = json.loads(raw.stdout)
    assert set(tree) == {"name", "kind", "state", "strategy", "restarts", "intensity", "children"}
    assert set(tree["children"][0]) == {"name", "kind", "state", "incarnation", "restarts", "pid"}


def test_events_carry_a_timestamp(start_node: Callable[..., RunningNode]) -> None:
    """Each events line starts with ts, an ISO 8601 UTC time of arrival."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"}]})
    proc = subprocess.Popen([sys.executable, str(ROOT / "run_node.py"), "events", "--topic",
                             "lifecycle.", "--count", "1", "--endpoint", node.endpoint],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stderr is not None and proc.stderr.readline().startswith("# events from")
        before = datetime.datetime.now(datetime.UTC)
        assert node.cli("restart", "echo").returncode == 0
        out, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    event = json.loads(out.splitlines()[0])
    assert list(event)[:2] == ["ts", "topic"] and event["topic"].startswith("lifecycle.")
    ts = datetime.datetime.fromisoformat(event["ts"])
    assert ts.tzinfo is not None and before - datetime.timedelta(seconds=1) <= ts <= \
        datetime.datetime.now(datetime.UTC)


def test_ready_line_and_status_say_where_the_data_is(start_node: Callable[..., RunningNode]) -> None:
    """The ready line and status print the data directory as an absolute path."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"}]})
    assert f"data in {node.data_dir.resolve()}" in node.ready_line
    status = node.cli("status")
    assert status.returncode == 0 and f"data in {node.data_dir.resolve()}" in status.stdout


def test_log_file_gets_the_node_and_every_actor(start_node: Callable[..., RunningNode],
                                                tmp_path: Path) -> None:
    """--log-file appends the node's and the actor hosts' log lines to the file, not stderr."""
    log = tmp_path / "node.log"
    log.write_text("kept\n")
    node = start_node({"children": [{"name": "echo", "actor": "echo"}]},
                      extra_args=("--log-file", str(log)))
    os.kill(pid_of(node, "echo"), signal.SIGKILL)
    assert node.cli("stop").returncode == 0
    assert node.wait_exit(20) == 0
    text = log.read_text()
    assert text.startswith("kept\n") and "[node]" in text and "node stopped (exit code 0)" in text
    assert "[echo#2 pid" in text and "killed by SIGKILL" in text
    assert "[node]" not in node.log_text()


# -- a user's actor module ---------------------------------------------------------------------
def test_user_module_beside_the_config_runs_and_restarts(start_node: Callable[..., RunningNode]) -> None:
    """A module in the config file's directory (not the node's) imports in the node and in
    every host, restarts included: the path reaches the forkserver's children."""
    node = start_node({"children": [{"name": "greeter", "actor": "greeter_beside:Greeter",
                                     "settings": {"greeting": "hej"}}]},
                      files={"greeter_beside.py": GREETER})
    with node.connect() as conn:
        first = conn.ask_reply("greeter", "greeter.greet", {"who": "ada"})
        assert (first.value, first.incarnation) == ("hej, ada", 1)
        os.kill(pid_of(node, "greeter"), signal.SIGKILL)
        again = eventually(lambda: _greet(conn), timeout=10.0)
    assert again is not None and (again.value, again.incarnation) == ("hej, ada", 2)


def _greet(conn: Connection) -> Reply | None:
    try:
        return conn.ask_reply("greeter", "greeter.greet", {"who": "ada"}, timeout=1.0)
    except (CellphoneError, TimeoutError):
        return None


def test_path_option_adds_a_directory(start_node: Callable[..., RunningNode], tmp_path: Path) -> None:
    """--path DIR puts DIR on the import path of the node and its hosts."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "greeter_elsewhere.py").write_text(GREETER)
    node = start_node({"children": [{"name": "greeter", "actor": "greeter_elsewhere:Greeter"}]},
                      extra_args=("--path", str(elsewhere)))
    with node.connect() as conn:
        assert conn.ask("greeter", "greeter.greet", {"who": "bo"}) == "hello, bo"


def test_missing_module_error_says_where_modules_are_looked_for(tmp_path: Path) -> None:
    """A module that does not import: exit 2, and the error names the directories searched."""
    config = tmp_path / "node.json"
    config.write_text(json.dumps({"children": [{"name": "g", "actor": "greeter_nowhere:Greeter"}]}))
    result = cli("--config", str(config), "--path", str(tmp_path / "more"),
                 "--endpoint", f"tcp://127.0.0.1:{free_port()}")
    assert result.returncode == 2
    line = one_line_error(result.stderr)
    assert "greeter_nowhere" in line and str(tmp_path) in line and str(tmp_path / "more") in line
    assert "--path" in line and "PYTHONPATH" in line


def test_extends_defaults_keeps_the_built_in_actors(start_node: Callable[..., RunningNode]) -> None:
    """"extends": "defaults" adds a user's child to the default ones; a child named like a
    default one replaces it in place."""
    node = start_node({"extends": "defaults", "children": [
        {"name": "greeter", "actor": "greeter_beside:Greeter"},
        {"name": "pool", "actor": "pool", "settings": {"path": "other.sqlite3"}}]},
        files={"greeter_beside.py": GREETER})
    with node.connect() as conn:
        names = [r.name for r in conn.status().actors]
        assert names == ["profiler", "health", "breaker", "pool", "recovery", "echo", "greeter"]
        conn.ask("pool", "pool.execute", {"sql": "select 1"})
    assert (node.data_dir / "other.sqlite3").exists()
    assert node.cli("health", "greeter").returncode in (0, 4)  # the health actor knows it


# -- health's readiness rule ------------------------------------------------------------------
def test_health_fails_readiness_for_a_critical_pool(start_node: Callable[..., RunningNode]) -> None:
    """A pool that cannot reach its server goes CRITICAL (availability 0, an open alert), and
    `health` exits 4 naming it; --min-status FAILED accepts it."""
    node = start_node({"children": [
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.2}},
        {"name": "pool", "actor": "pool", "settings": {
            "backend": "tcp", "port": free_port(), "connect_timeout": 0.2,
            "health_check_interval": 0.2, "backoff_initial": 0.05, "backoff_max": 0.2}}]})

    def critical() -> bool:
        result = node.cli("health", "pool")
        return result.returncode == 4 and "CRITICAL" in result.stdout
    assert eventually(critical, timeout=20.0, interval=0.2)
    result = node.cli("health")
    assert result.returncode == run_node.EXIT_UNHEALTHY == 4
    assert "ready: NO" in result.stdout and "pool: CRITICAL, worse than WARNING" in result.stdout
    assert node.cli("health", "--min-status", "FAILED").returncode == 0


def test_health_says_which_children_it_left_out(start_node: Callable[..., RunningNode]) -> None:
    """A child stopped on purpose is not counted against readiness, and the verdict says so."""
    node = start_node({"children": [
        {"name": "health", "actor": "health", "settings": {"sample_interval": 0.2}},
        {"name": "echo", "actor": "echo"}]})
    assert node.cli("stop-child", "echo").returncode == 0

    def left_out() -> subprocess.CompletedProcess[str] | None:
        result = node.cli("health")
        return result if "stopped on purpose: echo" in result.stdout else None
    result = eventually(left_out, timeout=10.0, interval=0.2)
    assert result is not None and result.returncode == 0, result
    assert "ready: yes" in result.stdout


def test_profile_window_it_does_not_keep_is_a_usage_error(start_node: Callable[..., RunningNode]) -> None:
    """``profile --window bogus`` says which windows the profiler keeps (exit 2), instead of
    printing empty tables as if nothing had been measured."""
    node = start_node({"children": [{"name": "profiler", "actor": "profiler"},
                                    {"name": "echo", "actor": "echo"}]})
    result = node.cli("profile", "--window", "bogus")
    assert result.returncode == 2, result
    assert "--window 'bogus'" in result.stderr and "1m" in result.stderr
    assert node.cli("profile", "--window", "1m").returncode == 0


def test_data_dir_that_cannot_be_made_is_a_usage_error(tmp_path: Path) -> None:
    """A ``data_dir`` that cannot be created (under a file, in /proc) is one line and exit 2,
    before anything starts, not a traceback."""
    (tmp_path / "a-file").write_text("")
    config = tmp_path / "node.json"
    config.write_text(json.dumps({"data_dir": str(tmp_path / "a-file" / "data"),
                                  "children": [{"name": "echo", "actor": "echo"}]}))
    result = cli("--config", str(config), "--endpoint", f"tcp://127.0.0.1:{free_port()}")
    assert result.returncode == 2, result
    assert "data_dir" in one_line_error(result.stderr)
