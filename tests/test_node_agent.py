"""PROTOCOL.md is enough in another language: a Node.js agent (tests/node_agent/, zeromq 6
and @msgpack/msgpack 3) asks, pipelines, tells, meets every error code and a SIGKILL.

Needs ``node`` and the packages of ``tests/node_agent`` (``npm ci`` there; .ci/run does
it). Under ``CI=true`` a missing one fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.nodes import ROOT

AGENT = Path(__file__).with_name("node_agent")
NODE_CONFIG = {
    "max_restarts": 20, "max_seconds": 10,
    "children": [
        {"name": "echo", "actor": "echo"},
        {"name": "relay", "actor": "relay"},
        {"name": "chaos", "actor": "chaos", "heartbeat_interval": 0.1},
        {"name": "jam", "actor": "chaos", "mailbox_size": 10, "max_busy": None},
    ],
}


def node_js() -> str:
    """The ``node`` binary, once the agent's packages are installed; fails under CI (skips
    elsewhere) saying what is missing."""
    node_bin = shutil.which("node")
    missing = None
    if node_bin is None:
        missing = "no `node` on PATH (Node.js 18 or later)"
    elif not ((AGENT / "node_modules" / "zeromq").is_dir() and
              (AGENT / "node_modules" / "@msgpack" / "msgpack").is_dir()):
        missing = f"packages not installed: run `npm ci --ignore-scripts` in {AGENT}"
    if missing is not None:
        if IN_CI:
            pytest.fail(f"the Node.js agent cannot run under CI: {missing}")
        pytest.skip(missing)
    assert node_bin is not None
    return node_bin


def test_node_js_agent_speaks_the_protocol(start_node, tmp_path: Path):
    """The agent's test script passes against a real node and prints its last line."""
    node_bin = node_js()
    node = start_node(NODE_CONFIG)
    result = subprocess.run([node_bin, str(AGENT / "test.mjs"), node.endpoint], capture_output=True,
                            text=True, timeout=50, cwd=tmp_path, check=False)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout.strip().endswith("node agent ok")


def test_readme_javascript_asks_echo(start_node, tmp_path: Path):
    """README's "Agents in other languages" snippet runs as shown against the default node."""
    node_bin = node_js()
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Agents in other languages"):]
    snippet = re.search(r"```js\n(.*?)```", section, re.S)
    assert snippet is not None, "README lost its JavaScript example"
    node = start_node(None)
    script = tmp_path / "echo.mjs"
    script.write_text(snippet.group(1).replace("tcp://127.0.0.1:5570", node.endpoint))
    (tmp_path / "node_modules").symlink_to(AGENT / "node_modules")
    result = subprocess.run([node_bin, str(script)], capture_output=True, text=True, timeout=30,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    expected = re.search(r"// (echo\.pong .*)$", snippet.group(1), re.M)
    assert expected is not None and result.stdout.strip() == expected.group(1)
