"""The node's helper processes: the forkserver every host is forked from, and multiprocessing's
resource tracker.

Found from outside: a SIGKILLed forkserver took the node down with a traceback most of the
time (its death reaches the node first as EOF on the hosts' sentinels, before it can be
reaped, so the restart that follows connected to a dead forkserver); a SIGTERM sent to the
node's process group (``systemctl stop`` with systemd's default ``KillMode=control-group``,
``kill -TERM -PGID``) killed the forkserver first, and with it every host (they die with
their parent), so no ``on_stop`` ran and five ``exit code 255`` reports were logged; and
after a clean ``stop`` the forkserver and the tracker outlived the node by up to a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from actors.examples import Ping
from tests.nodes import ROOT, alive, free_port, kill_pids, read_line, wait_gone


def _forkserver(pid: int) -> psutil.Process:
    found = [p for p in psutil.Process(pid).children()
             if "forkserver" in " ".join(p.cmdline())]
    assert len(found) == 1, found
    return found[0]


def test_killed_forkserver_is_replaced_and_the_node_serves_on(start_node):
    """SIGKILL the forkserver (its hosts die with it) three times: each time the node starts
    a new one, restarts its actors, and keeps serving; it never exits."""
    node = start_node({"max_restarts": 100, "max_seconds": 10, "children": [
        {"name": "echo", "actor": "echo", "warm_standby": False},
        {"name": "other", "actor": "echo"}]})
    with node.connect() as conn:
        for round_ in range(2, 5):
            hosts = {row.pid for row in conn.status().actors}
            _forkserver(node.pid).kill()
            assert not wait_gone(hosts, 10)  # hosts die with their parent
            reply = conn.ask_reply("echo", Ping(round_), retries=20, timeout=20)
            assert reply.value.n == round_ and reply.incarnation >= round_
            assert node.proc.poll() is None, node.log_text()[-3000:]
    assert "Traceback" not in node.log_text()


def test_clean_stop_leaves_no_process_behind(start_node):
    """Once the node process has exited after ``stop``, none of its processes is left:
    not the hosts, not the forkserver, not the resource tracker."""
    node = start_node(None)
    everything = node.descendants()
    assert node.cli("stop").returncode == 0
    assert node.wait_exit() == 0
    assert not alive(everything | node.descendants())


def test_sigterm_to_the_process_group_stops_every_actor_gracefully(tmp_path: Path):
    """SIGTERM to the node's whole process group, as systemd sends it by default: every
    actor stops (on_stop runs, exit cause shutdown or normal), no exit code 255, no error."""
    log = tmp_path / "node.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run_node.py"), "--endpoint",
             f"tcp://127.0.0.1:{free_port()}"], stdout=subprocess.PIPE, stderr=err, text=True,
            cwd=tmp_path, env={**os.environ, "AGENTCELL_DATA_DIR": str(tmp_path / "data")},
            start_new_session=True)
    everything: set[int] = set()
    try:
        assert "ready at" in read_line(proc, 30), log.read_text()
        everything = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0
        text = log.read_text()
        assert "exit code 255" not in text and " ERROR " not in text, text
        assert not wait_gone(everything, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        kill_pids(everything)
        assert proc.stdout is not None
        proc.stdout.close()


def test_hosts_carry_only_the_modules_of_the_configured_actors(start_node):
    """The forkserver preloads the runtime and the configured actors' modules, not every
    built-in: a node running echo forks hosts without PyTorch (the model actor's), whose
    pages would otherwise sit in every host's RSS (and count against max_memory)."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"}]})
    with node.connect() as conn:
        assert conn.ask("echo", Ping(n=1)).n == 1
        [row] = conn.status("echo").actors
    for pid in (row.pid, _forkserver(node.pid).pid):
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "/torch/" not in maps, pid
