"""Fuzzing what users type (issue 11: "the same for the CLI's JSON input and for config
files"): any BODY, actor name or message type given to ``run_node.py send``, and any
config file or ``AGENTCELL_*`` variable, ends in a documented exit code with at most one
``error:`` line — never a traceback.

CI runs Hypothesis' default number of examples per property; ``--hypothesis-profile=
fuzz-long`` (tests/conftest.py) runs the long profile.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import run_node
from messages import ConfigError
from supervisor import DEFAULT_CONFIG, ChildSpec, NodeConfig, load_config, parse_config
from tests.nodes import RunningNode, start_node_process

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
ACTORS = ("echo", "pool", "health", "breaker", "profiler")
TYPES = ("echo.ping", "pool.execute", "pool.transaction", "pool.stats", "health.status",
         "health.report", "health.alerts", "breaker.stats", "profiler.report", "actor.ping",
         "actor.statistics")
SEND_EXITS = {run_node.EXIT_OK, run_node.EXIT_REMOTE_ERROR, run_node.EXIT_USAGE,
              run_node.EXIT_TIMEOUT}
"""What ``send`` may exit with while the node is up (3 would mean "no node answered")."""

# JSON as users type it: every JSON type, integers past 64 bits, NaN and infinities (which
# Python's json reads), unicode keys and strings, some nesting.
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
sql = st.sampled_from(["select 1", "select ?", "select :a", "select %s", "select",
                       "create table if not exists fuzz (v)", "insert into fuzz values (?)",
                       "select * from fuzz", "select zeroblob(10)"]) | st.text(max_size=30)
pool_bodies = st.fixed_dictionaries({"sql": sql}, optional={
    "params": st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
              | json_values,
    "timeout": scalars, "idempotent": scalars})
bodies = (st.text(max_size=60)
          | json_values.map(json.dumps)
          | pool_bodies.map(json.dumps)
          | st.builds(lambda v, cut: json.dumps(v)[:cut], json_values, st.integers(0, 40)))
names = st.sampled_from(ACTORS) | st.text(min_size=1, max_size=12).filter(lambda n: n != "node")
types = st.sampled_from(TYPES) | st.text(max_size=20)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    """The default actors minus the example that fails on purpose, on a scratch data dir."""
    running = start_node_process(tmp_path_factory.mktemp("fuzz"), {"children": [
        {"name": name, "actor": name} for name in ACTORS]})
    try:
        yield running
    finally:
        running.stop()


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``run_node.main(argv)`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run_node.main(list(argv))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def check_outcome(code: int, out: str, err: str) -> None:
    """Exit 0 prints JSON and nothing on stderr; any other exit prints one error line."""
    if code == run_node.EXIT_OK:
        json.loads(out)
        assert err == ""
        return
    lines = err.strip().split("\n")  # not splitlines: a typed "\r" is part of the line
    assert lines, f"exit {code} without a word"
    if code == run_node.EXIT_USAGE and lines[0].startswith("usage:"):  # argparse's own form
        assert any(line.startswith("run_node.py") and ": error: " in line for line in lines), err
        return
    assert len(lines) == 1 and lines[0].startswith("error: "), err


@FUZZ
@given(name=names, tag=types, body=bodies)
@example(name="pool", tag="pool.execute",
         body='{"sql": "select ?", "params": [123456789012345678901234567890]}')
@example(name="pool", tag="pool.execute", body="[" * 5000)
@example(name="echo", tag="echo.ping", body='{"n": NaN}')
@example(name="echo", tag="echo.ping", body='{"n": Infinity, "text": "\\ud800"}')
@example(name="echo", tag="echo.ping", body="9" * 5000)
@example(name="-x", tag="echo.ping", body="{}")
@example(name="echo", tag="", body="{}")
@example(name=" ", tag="echo.ping", body="{}")
@example(name="echo", tag="echo.ping", body="-\r0")
@example(name="echo", tag="echo.ping", body="-\n0")
def test_send_any_input_gives_a_documented_exit(node: RunningNode, name: str, tag: str,
                                                body: str) -> None:
    """send NAME TYPE BODY: exit 0, 1, 2 or 5 with one error line, whatever was typed."""
    code, out, err = run_cli("send", name, tag, body, "--endpoint", node.endpoint,
                             "--timeout", "5")
    assert code in SEND_EXITS, (code, err)
    check_outcome(code, out, err)


def test_the_node_still_answers_after_the_fuzz(node: RunningNode) -> None:
    """After the fuzz above, every actor still answers a well-formed ask from the same
    incarnation (the CLI sent nothing that broke one)."""
    with node.connect() as conn:
        for row in conn.status().actors:
            assert row.incarnation == 1 and row.restarts == 0, row
            reply = conn.ask_reply(row.name, "actor.ping", {}, timeout=5.0)
            assert reply.incarnation == 1


# -- config files and the environment ----------------------------------------------------
def load(path: Path) -> NodeConfig | ConfigError:
    """load_config's answer: a config, or the ConfigError run_node.py turns into exit 2
    (sys.path, which load_config extends with the config's directory, is put back)."""
    saved = list(sys.path)
    try:
        return load_config(str(path), {})
    except ConfigError as exc:
        assert str(exc), repr(exc)
        return exc
    finally:
        sys.path[:] = saved


# Actor names that import nothing new: built-ins, known bad paths, and text without ':'
# (which is refused before any import) — a random "module:Class" could import anything.
actor_names = (st.sampled_from(["echo", "relay", "chaos", "pool", "health", "breaker",
                                "profiler", "actors.examples:Echo", "actors.examples:Nope",
                                "json:loads", "no_such_module_xyz:Thing", ":", "echo:"])
               | st.text(max_size=12).filter(lambda t: ":" not in t))
child_keys = [f.name for f in attrs.fields(ChildSpec)]
children = st.recursive(
    st.dictionaries(st.sampled_from(child_keys) | st.text(max_size=6),
                    actor_names | json_values, max_size=6).map(
        lambda d: {"name": "c", "actor": "echo", **d} if len(d) % 2 else d),
    lambda inner: st.fixed_dictionaries(
        {"name": st.text(max_size=4), "children": st.lists(inner, max_size=3)},
        optional={"strategy": json_values | st.sampled_from(["one_for_one", "rest_for_one"])}),
    max_leaves=5)
configs = st.fixed_dictionaries({}, optional={
    "endpoint": st.sampled_from(["tcp://127.0.0.1:5570", "ipc:///tmp/x", "http://x"]) | json_values,
    "data_dir": st.text(max_size=10) | json_values, "log_level": json_values,
    "max_message_bytes": json_values, "strategy": json_values, "max_restarts": json_values,
    "max_seconds": json_values, "extends": st.just("defaults") | json_values,
    "children": st.lists(children, max_size=4) | json_values,
    "settings": json_values})


@FUZZ
@given(data=st.binary(max_size=200))
@example(data=b"\xff\xfe{}")
@example(data=b"[" * 100_000)
@example(data=b"1" * 5000)
@example(data=b'{"children": [{"name": "a", "actor": "relay", "settings": {"timeout": '
         + b"[" * 3000 + b"]" * 3000 + b"}}]}")
def test_any_config_file_bytes_are_loaded_or_refused(tmp_path_factory: pytest.TempPathFactory,
                                                     data: bytes) -> None:
    """Whatever bytes a config file holds, loading it gives a config or one ConfigError."""
    path = tmp_path_factory.getbasetemp() / "fuzz-bytes.json"
    path.write_bytes(data)
    load(path)


@FUZZ
@given(raw=configs | json_values)
@example(raw={"extends": "defaults", "children": [{"name": "pool", "actor": "pool",
                                                   "settings": {"max_size": -1}}]})
@example(raw={"children": [{"name": "a", "actor": "echo", "backoff": {"initial": float("nan")}}]})
@example(raw={"children": [{"name": float("inf"), "actor": "echo"}]})
def test_any_config_is_loaded_or_refused(tmp_path_factory: pytest.TempPathFactory, raw: Any) -> None:
    """Any JSON value, and configs shaped like real ones, load or fail with ConfigError."""
    path = tmp_path_factory.getbasetemp() / "fuzz-config.json"
    path.write_text(json.dumps(raw))
    load(path)


env_names = st.sampled_from(["ENDPOINT", "DATA_DIR", "LOG_LEVEL", "MAX_MESSAGE_BYTES", "POOL__MAX_SIZE",
                             "HEALTH__THRESHOLDS", "ECHO__X", "NOPE__X", "COLOUR"]) \
    | st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", max_size=12)
env_values = st.text(max_size=20) | json_values.map(json.dumps)


@FUZZ
@given(env=st.dictionaries(env_names.map(lambda n: "AGENTCELL_" + n), env_values, max_size=4))
def test_any_environment_is_applied_or_refused(env: dict[str, str]) -> None:
    """Any AGENTCELL_* variables over the default config: a config or one ConfigError."""
    try:
        parse_config(json.loads(json.dumps(DEFAULT_CONFIG)), env)
    except ConfigError as exc:
        assert str(exc)
