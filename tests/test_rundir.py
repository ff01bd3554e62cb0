"""Run directories: a node removes those of nodes that are gone, never a live node's."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from supervisor._rundir import make_run_dir, sweep_stale
from tests.nodes import RunningNode, wait_gone

ECHO_ONLY = {"children": [{"name": "echo", "actor": "echo"}]}


def owned_run_dirs(parent: Path) -> dict[int, Path]:
    """The run directories under ``parent`` by the pid their ``node.pid`` names."""
    return {int((d / "node.pid").read_text().split()[0]): d
            for d in parent.glob("agentcell-*") if (d / "node.pid").exists()}


def unix_socket_file(path: Path, *, listening: bool) -> socket.socket | None:
    """A unix socket file at ``path``: still bound (the socket, to close later) or left
    behind by a listener that is gone (None), as a SIGKILLed node leaves its sockets."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    if listening:
        return sock
    sock.close()
    return None


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


@pytest.fixture
def run_parent(tmp_path: Path) -> Path:
    """A parent directory of its own (TMPDIR for the nodes), apart from other runs' nodes."""
    parent = tmp_path / "run"
    parent.mkdir()
    return parent


def test_a_sigkilled_nodes_run_dir_is_removed_by_the_next_node(
        start_node: Callable[..., RunningNode], run_parent: Path) -> None:
    """SIGKILL a node: its directory (with control.sock) stays; the next node to start
    removes it, and leaves the directory of a node that still runs as it was."""
    env = {"TMPDIR": str(run_parent)}
    killed, live = start_node(ECHO_ONLY, env=env), start_node(ECHO_ONLY, env=env)
    dirs = owned_run_dirs(run_parent)
    gone_dir, live_dir = dirs[killed.pid], dirs[live.pid]
    assert (gone_dir / "control.sock").exists() and (live_dir / "control.sock").exists()
    hosts = killed.descendants()
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait_exit()
    assert wait_gone(hosts) == set()
    assert gone_dir.exists()  # nobody was left to remove it
    live_before = sorted(p.name for p in live_dir.iterdir())

    start_node(ECHO_ONLY, env=env)
    assert not gone_dir.exists()
    assert sorted(p.name for p in live_dir.iterdir()) == live_before
    with live.connect() as conn:  # and the live node still serves through it
        assert conn.status().actors[0].state == "running"


def test_sweep_keeps_what_may_be_alive_and_removes_what_is_gone(run_parent: Path) -> None:
    """Removed: a dead owner, a pid now used by another process (its start time differs), a
    directory from before node.pid whose control.sock nobody binds. Kept: a live owner, an
    unreadable node.pid, an old-style directory whose control.sock is bound, one without
    control.sock (being made), and anything not named like a run directory."""
    me = psutil.Process()

    def made(name: str, owner: str | None) -> Path:
        path = run_parent / f"agentcell-{name}"
        path.mkdir()
        if owner is not None:
            (path / "node.pid").write_text(owner)
        return path

    gone = made("gone", f"{dead_pid()} 1.0\n")
    reused = made("reused", f"{me.pid} {me.create_time() - 100.0!r}\n")
    alive = made("alive", f"{me.pid} {me.create_time()!r}\n")
    garbled = made("garbled", "not a pid")
    old_gone, old_live, making = made("oldgone", None), made("oldlive", None), made("making", None)
    other = run_parent / "something-else"
    other.mkdir()
    unix_socket_file(old_gone / "control.sock", listening=False)
    listener = unix_socket_file(old_live / "control.sock", listening=True)
    assert listener is not None
    try:
        removed = sweep_stale(str(run_parent))
    finally:
        listener.close()
    assert sorted(removed) == sorted(str(p) for p in (gone, reused, old_gone))
    assert all(p.exists() for p in (alive, garbled, old_live, making, other))
    assert not any(p.exists() for p in (gone, reused, old_gone))


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory another user owns needs root")
def test_sweep_leaves_other_users_directories(run_parent: Path) -> None:
    """A run directory of another user is never removed, even with its owner gone."""
    theirs = run_parent / "agentcell-theirs"
    theirs.mkdir()
    (theirs / "node.pid").write_text(f"{dead_pid()} 1.0\n")
    os.chown(theirs, 65534, 65534)
    assert sweep_stale(str(run_parent)) == []
    assert theirs.exists()


def test_make_run_dir_records_its_owner(run_parent: Path) -> None:
    """A new run directory names this process (pid, start time) in node.pid, 0700."""
    path = Path(make_run_dir(str(run_parent)))
    me = psutil.Process()
    pid, created = (path / "node.pid").read_text().split()
    assert (int(pid), float(created)) == (me.pid, me.create_time())
    assert path.stat().st_mode & 0o777 == 0o700
    assert sweep_stale(str(run_parent)) == []
