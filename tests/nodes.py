"""Test helpers: start a real node process, talk to it, and leave nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from actors import Connection, EventReader, connect

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningNode:
    """A node started by ``python run_node.py`` in a subprocess."""

    def __init__(self, proc: subprocess.Popen[str], endpoint: str, data_dir: Path, log: Path) -> None:
        self.proc = proc
        self.endpoint = endpoint
        self.data_dir = data_dir
        self.log = log
        self.pid = proc.pid
        self.ready_line = ""
        self._descendants: set[int] = set()

    def connect(self, **options: Any) -> Connection:
        """A client connection to this node."""
        return connect(self.endpoint, **options)

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``run_node.py ARGS --endpoint <this node>`` and capture its output."""
        return subprocess.run([sys.executable, str(ROOT / "run_node.py"), *args,
                               "--endpoint", self.endpoint], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, check=False)

    def event_log(self) -> EventLog:
        """An :class:`EventLog` on this node's event stream (close it when done)."""
        with self.connect() as conn:
            return EventLog(conn.about().events)

    def descendants(self) -> set[int]:
        """Pids of every process below the node (actor hosts, forkserver), remembered."""
        with contextlib.suppress(psutil.NoSuchProcess):
            self._descendants |= {p.pid for p in psutil.Process(self.pid).children(recursive=True)}
        return set(self._descendants)

    def wait_exit(self, timeout: float = 20.0) -> int:
        """Wait for the node process to end; its exit code."""
        return self.proc.wait(timeout)

    def log_text(self) -> str:
        """What the node and its actors wrote to stderr so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM the node, then kill it and every descendant still alive (by pid)."""
        self.descendants()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        kill_pids(self._descendants)
        if self.proc.stdout:
            self.proc.stdout.close()


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    """Wait until none of ``pids`` runs; those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while (left := alive(pids)) and time.monotonic() < deadline:
        psutil.wait_procs(_processes(left), timeout=0.1)
    return alive(pids)


def _processes(pids: set[int]) -> list[psutil.Process]:
    """The processes of ``pids`` that still exist (one may end while they are looked up)."""
    found = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(pid))
    return found


def kill_pids(pids: set[int]) -> None:
    """SIGKILL those of ``pids`` still alive (only processes a test started)."""
    for pid in alive(pids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start_node_process(tmp: Path, config: dict[str, Any] | None, *, env: dict[str, str] | None = None,
                       extra_args: tuple[str, ...] = (), files: dict[str, str] | None = None,
                       endpoint: str | None = None, prefix: tuple[str, ...] = ()) -> RunningNode:
    """Start a node on a free loopback port (or at ``endpoint``) and wait (by reading
    stdout) for its ready line.

    ``files`` are written into ``tmp`` first, beside the config file (e.g. a user's actor
    module); ``prefix`` goes before the command (e.g. ``ip netns exec NS``, which execs it,
    so the pid is still the node's).
    """
    for name, text in (files or {}).items():
        (tmp / name).write_text(text)
    endpoint = endpoint or f"tcp://127.0.0.1:{free_port()}"
    data_dir = tmp / "data"
    args = [*prefix, sys.executable, str(ROOT / "run_node.py"), "--endpoint", endpoint]
    if config is not None:
        config = {"data_dir": str(data_dir), **config}
        path = tmp / "node.json"
        path.write_text(json.dumps(config))
        args += ["--config", str(path)]
    args += list(extra_args)
    log = tmp / "node.log"
    full_env = {**os.environ, "AGENTCELL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
                **(env or {})}
    with log.open("w") as log_file:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                cwd=ROOT, env=full_env)
    node = RunningNode(proc, endpoint, data_dir, log)
    line = read_line(proc, READY_TIMEOUT)
    if "ready at" not in line:
        node.stop()
        raise RuntimeError(f"node did not get ready (exit {proc.poll()}); stdout {line!r}; "
                           f"log:\n{log.read_text()[-4000:]}")
    node.ready_line = line
    node.descendants()
    return node


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next line of ``proc``'s stdout, or "" if none comes within ``timeout`` seconds."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return ""
    return proc.stdout.readline()


def eventually(check: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``check()`` until it returns a truthy value or ``timeout`` passes; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class EventLog:
    """Collects a node's events with an :class:`actors.EventReader` on a thread of its own;
    every event published after the constructor returns is seen (the subscription is
    confirmed). Each event is its body with ``topic`` and ``at`` (monotonic) added."""

    def __init__(self, endpoint: str, *topics: str, **reader_options: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(endpoint, topics, reader_options),
                                        daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    def _run(self, endpoint: str, topics: tuple[str, ...], reader_options: dict[str, Any]) -> None:
        with EventReader(endpoint, *topics, **reader_options) as reader:
            if reader.confirmed:  # no event may fall into the slow-joiner gap
                self._ready.set()
            while not self._stop.is_set():
                event = reader.next(0.05)
                if event is not None:
                    self.events.append({"topic": event.topic, "at": time.monotonic(), **event.body})

    def wait_for(self, topic: str, name: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first event on ``topic`` about ``name`` whose body has ``match``; fails if none
        arrives within ``timeout``."""
        found = eventually(lambda: next((e for e in self.events if e["topic"] == topic and
                                         e["name"] == name and all(e.get(k) == v for k, v in
                                                                   match.items())), None), timeout)
        assert found, f"no {topic} for {name} {match} in {self.events}"
        return found

    def names(self, topic: str) -> list[str]:
        """Names in the events on ``topic`` so far, in the order they were published."""
        return [e["name"] for e in list(self.events) if e["topic"] == topic]

    def close(self) -> None:
        """Stop the reader thread (its socket and context close with it)."""
        self._stop.set()
        self._thread.join(5)
