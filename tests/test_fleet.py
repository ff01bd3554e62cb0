"""The fleet of examples/ runs as README's "Watch it recover" says: real processes, real
faults, every acknowledged write kept exactly once (so the example cannot rot)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_server
from tests.nodes import ROOT, alive, kill_pids, read_line

pytestmark = pytest.mark.timeout(180)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def sessions() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started in sessions of their own; whatever is left is killed by group."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_fleet_recovers_from_injected_faults(backend: str, tmp_path: Path,
                                                 sessions: list[subprocess.Popen[str]]) -> None:
    """Two agents on a node; a kill, a slowdown and a database outage are injected; the
    recovery rule grows the pool on the slowdown, and when the fleet stops every write the
    pool acknowledged is in the ledger exactly once."""
    if backend == "postgres":
        require_server("PostgreSQL", 5432)
    run = tmp_path / "run"
    fleet = subprocess.Popen(
        [sys.executable, "examples/fleet.py", "--agents", "2", "--backend", backend, "--seconds", "25",
         "--out", str(run), "--rate", "30"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    sessions.append(fleet)
    ready = read_line(fleet, 60.0)
    assert "fleet ready" in ready, ready
    inject = subprocess.run(
        [sys.executable, "examples/inject.py", "--run", str(run), "--count", "3", "--every", "4",
         "--faults", "kill,slow,db-down", "--duration", "2", "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert inject.returncode == 0, inject.stderr
    out, _ = fleet.communicate(timeout=90)
    assert fleet.returncode == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["acknowledged"] > 0 and summary["lost"] == 0 and summary["duplicated"] == 0
    assert summary["not_run_but_written"] == 0
    assert "] ok" in out and "recovery" in out  # the live view printed its line a second

    faults = records(run / "injections.jsonl")
    assert sorted(f["fault"] for f in faults) == ["db-down", "kill", "slow"]
    events = records(run / "events.jsonl")
    killed = next(f["target"] for f in faults if f["fault"] == "kill")
    assert any(e["topic"] == "lifecycle.exited" and e["name"] == killed for e in events)
    assert any(e["topic"] == "lifecycle.started" and e["name"] == killed and e["incarnation"] == 2
               for e in events)
    slow = next(f for f in faults if f["fault"] == "slow")
    grown = [e for e in events if e["topic"] == "recovery.action" and e["rule"] == "pool-slow-grow"
             and e["step"] == "act" and e["ok"] and e["ts"] >= slow["start"]]
    assert grown, [e for e in events if e["topic"] in ("recovery.action", "profiler.bottleneck")]

    node_pid = json.loads((run / "fleet.json").read_text())["node_pid"]
    leftovers = alive({node_pid})
    kill_pids(leftovers)
    assert not leftovers
