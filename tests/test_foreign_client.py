"""PROTOCOL.md is enough: an agent using only pyzmq and msgpack talks to a node."""

import subprocess
import sys
from pathlib import Path


def test_agent_without_the_project_talks_to_a_node(start_node, tmp_path: Path):
    """A script that imports only zmq and msgpack resolves, asks, gets errors and status."""
    node = start_node(None)
    script = Path(__file__).with_name("foreign_agent.py")
    result = subprocess.run([sys.executable, "-I", str(script), node.endpoint],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "foreign agent ok"
