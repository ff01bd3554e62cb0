"""Config: bad configs are refused before anything starts, naming the key or class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from messages import ConfigError
from supervisor import ChildSpec, SupervisorSpec, load_config, parse_config
from tests.nodes import ROOT, free_port


def test_default_config_runs_echo():
    """The embedded defaults need no server and listen on loopback only."""
    config = load_config(None, {})
    assert config.endpoint == "tcp://127.0.0.1:5570"
    assert [c.name for c in config.root.children] == ["profiler", "health", "breaker", "pool", "recovery",
                                                       "echo"]


@pytest.mark.parametrize(("raw", "needle"), [
    ({"bogus": 1}, "unknown key(s) bogus"),
    ({"children": [{"name": "a", "actor": "nowhere.at.all:X"}]}, "'nowhere.at.all' does not import"),
    ({"children": [{"name": "a", "actor": "actors.examples:Nope"}]}, "'Nope' is not an Actor"),
    ({"children": [{"name": "a", "actor": "echo"}, {"name": "a", "actor": "echo"}]},
     "two children are named 'a'"),
    ({"children": [{"name": "a", "actor": "echo", "restart": "often"}]}, "child 'a': restart"),
    ({"children": [{"name": "a", "actor": "echo", "colour": "red"}]}, "unexpected field(s) colour"),
    ({"children": [{"name": "a", "actor": "echo", "max_busy": -1}]}, "max_busy must be"),
    ({"children": [{"name": "a", "actor": "echo", "backoff": {"factor": 0.5}}]}, "backoff.factor"),
    ({"children": [{"name": "r", "actor": "relay", "settings": {"timeout": "x"}}]}, "timeout"),
    ({"children": [{"name": "r", "actor": "relay", "settings": {"speed": 1}}]}, "speed"),
    ({"children": [{"actor": "echo"}]}, "'name' is missing"),
    ({"children": [{"name": "a"}]}, "'actor' is missing"),
    ({"strategy": "all_for_none", "children": []}, "strategy: expected one of"),
    ({"max_restarts": -1}, "max_restarts"),
    ({"endpoint": "http://x"}, "endpoint must look like"),
    ({"children": [{"name": "s", "children": [{"name": "a", "actor": "echo", "shutdown": 0}]}]},
     "child 'a': shutdown"),
    ([1, 2], "must be a JSON object"),
    ({"children": [{"name": "node", "actor": "echo"}]}, "the node's own front door"),
    ({"extends": "mine"}, "extends must be \"defaults\""),
    ({"extends": "defaults", "children": {"name": "a"}}, "children must be a list"),
    ({"extends": "defaults", "children": [{"name": "echo", "actor": "echo"},
                                          {"name": "echo", "actor": "echo"}]},
     "two children are named 'echo'"),
])
def test_bad_config_refused_naming_the_offender(raw, needle):
    """Each bad config raises ConfigError with the offending key, child or class."""
    with pytest.raises(ConfigError) as info:
        parse_config(raw, {})
    assert needle in str(info.value)


def test_extends_defaults_merges_children_and_keys():
    """extends: defaults first, a same-named child replaces its default in place, others
    follow; the config's own keys win; without extends nothing is added."""
    config = parse_config({"extends": "defaults", "max_restarts": 9, "children": [
        {"name": "relay", "actor": "relay"},
        {"name": "pool", "actor": "pool", "settings": {"max_size": 3}}]}, {"AGENTCELL_POOL__MIN_SIZE": "2"})
    names = [c.name for c in config.root.children]
    assert names == ["profiler", "health", "breaker", "pool", "recovery", "echo", "relay"]
    pool = config.root.children[3]
    assert isinstance(pool, ChildSpec) and pool.settings == {"max_size": 3, "min_size": 2}
    assert (config.root.max_restarts, config.root.max_seconds) == (9, 10)
    alone = parse_config({"children": [{"name": "relay", "actor": "relay"}]}, {})
    assert [c.name for c in alone.root.children] == ["relay"]


def test_nested_supervisors_parse():
    """Supervisors nest to any depth, with their own strategy and intensity."""
    config = parse_config({"children": [{"name": "top", "strategy": "one_for_all", "children": [
        {"name": "mid", "strategy": "rest_for_one", "max_restarts": 3, "children": [
            {"name": "leaf", "actor": "echo", "restart": "transient"}]}]}]}, {})
    top = config.root.children[0]
    assert isinstance(top, SupervisorSpec) and top.strategy == "one_for_all"
    mid = top.children[0]
    assert isinstance(mid, SupervisorSpec) and mid.max_restarts == 3
    leaf = mid.children[0]
    assert isinstance(leaf, ChildSpec) and leaf.restart == "transient"


def test_environment_overrides():
    """AGENTCELL_<KEY> sets node keys; AGENTCELL_<ACTOR>__<SETTING> sets actor settings."""
    config = parse_config({"children": [{"name": "relay-1", "actor": "relay"}]}, {
        "AGENTCELL_LOG_LEVEL": "DEBUG", "AGENTCELL_MAX_MESSAGE_BYTES": "4096",
        "AGENTCELL_RELAY_1__TIMEOUT": "0.5", "OTHER": "x"})
    assert config.log_level == "DEBUG" and config.max_message_bytes == 4096
    assert config.root.children[0].settings == {"timeout": 0.5}


@pytest.mark.parametrize(("env", "needle"), [
    ({"AGENTCELL_NOPE__X": "1"}, "no actor named like 'NOPE'"),
    ({"AGENTCELL_COLOUR": "red"}, "AGENTCELL_COLOUR: unknown"),
    ({"AGENTCELL_RELAY__TIMEOUT": "soon"}, "timeout"),
])
def test_bad_environment_refused(env, needle):
    """Environment variables are validated like the config, naming the variable."""
    with pytest.raises(ConfigError) as info:
        parse_config({"children": [{"name": "relay", "actor": "relay"}]}, env)
    assert needle in str(info.value)


def test_run_node_refuses_bad_config_before_starting(tmp_path: Path):
    """run_node.py exits 2 with the error and starts nothing (the port stays free)."""
    path = tmp_path / "node.json"
    path.write_text(json.dumps({"children": [{"name": "x", "actor": "no_such_module:Thing"}]}))
    port = free_port()
    result = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "--config", str(path),
                             "--endpoint", f"tcp://127.0.0.1:{port}"], capture_output=True,
                            text=True, timeout=30, cwd=ROOT, check=False)
    assert result.returncode == 2
    assert "no_such_module" in result.stderr and "ready" not in result.stdout


def test_run_node_refuses_unreadable_and_invalid_json(tmp_path: Path):
    """A missing file and a file that is not JSON are both refused clearly."""
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path, needle in ((tmp_path / "missing.json", "cannot be read"), (bad, "not valid JSON")):
        result = subprocess.run([sys.executable, str(ROOT / "run_node.py"), "--config", str(path)],
                                capture_output=True, text=True, timeout=30, cwd=ROOT, check=False)
        assert result.returncode == 2 and needle in result.stderr


def test_user_actor_from_config(start_node, tmp_path: Path):
    """A user's own "module:Class" actor runs in its own process with its settings."""
    node = start_node({"children": [
        {"name": "mine", "actor": "tests.user_actor:Greeter", "settings": {"greeting": "hej"}},
        {"name": "echo", "actor": "echo"}]})
    with node.connect() as conn:
        assert conn.ask("mine", "greeter.greet", {"who": "ada"}, timeout=3.0) == "hej, ada"
        rows = {r.name: r for r in conn.status().actors}
    assert rows["mine"].pid != rows["echo"].pid and rows["mine"].pid != node.pid


ECHO = [{"name": "e", "actor": "echo"}]


def test_security_keys_load_and_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """"security": {"keys": DIR} loads DIR (relative to the working directory) at once."""
    from actors import write_keys

    write_keys(tmp_path / "keys", agents=["bot"])
    monkeypatch.chdir(tmp_path)
    config = parse_config({"endpoint": "tcp://0.0.0.0:5570", "security": {"keys": "keys"},
                           "children": ECHO}, {})
    assert config.security is not None and config.security.keys == str(tmp_path / "keys")
    from_env = parse_config({"children": ECHO}, {"AGENTCELL_SECURITY": '{"keys": "keys"}'})
    assert from_env.security == config.security
    with pytest.raises(ConfigError, match="is not a directory"):
        parse_config({"security": {"keys": "absent"}, "children": ECHO}, {})


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:5570", "tcp://*:5570", "tcp://10.1.2.3:5570",
                                      "tcp://eth0:5570"])
def test_beyond_loopback_needs_security_or_insecure(endpoint: str):
    """Only loopback and ipc serve without keys; "insecure": true (or the variable) opts out."""
    with pytest.raises(ConfigError, match=r"run_node\.py keys"):
        parse_config({"endpoint": endpoint, "children": ECHO}, {})
    assert parse_config({"endpoint": endpoint, "insecure": True, "children": ECHO}, {}).insecure
    assert parse_config({"endpoint": endpoint, "children": ECHO}, {"AGENTCELL_INSECURE": "true"}).insecure
    for local in ("tcp://127.0.0.1:5570", "tcp://[::1]:5570", "tcp://localhost:1", "ipc:///tmp/x.sock"):
        assert parse_config({"endpoint": local, "children": ECHO}, {}).security is None


def test_client_key_variables_are_not_node_settings():
    """A shell that holds a client's keys can still start a node: the node ignores them."""
    env = {"AGENTCELL_CLIENT_KEY": "/x/bot.key_secret", "AGENTCELL_NODE_KEY": "/x/node.key"}
    assert parse_config({"children": ECHO}, env).security is None
