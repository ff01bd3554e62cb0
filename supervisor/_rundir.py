"""The node's run directory: where its ``ipc://`` sockets live, and who owns it.

A node makes ``<tmp>/agentcell-XXXXXXXX`` at start and removes it at exit, but a node
that is SIGKILLed (or loses its machine's power) cannot, and its directory with its
socket files stayed behind for good. So each directory records its owner in
``node.pid`` (pid and process start time, so a reused pid is not taken for the owner),
and a starting node removes the directories of nodes that are gone: only this user's,
and never one whose owner runs. A directory from before ``node.pid`` is removed when no
process has its ``control.sock`` bound any more (Linux: the kernel's table of unix
sockets, read through psutil; elsewhere such directories are left alone).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import psutil

log = logging.getLogger("node")
PREFIX = "agentcell-"
OWNER_FILE = "node.pid"
"""Holds ``"<pid> <process start time>"`` of the node that made the directory."""
CONTROL_SOCKET = "control.sock"


def make_run_dir(parent: str | None = None) -> str:
    """Remove stale run directories under ``parent`` (default: the system's temporary
    directory, ``TMPDIR``), then make this node's and record it as the owner."""
    parent = parent or tempfile.gettempdir()
    removed = sweep_stale(parent)
    if removed:
        log.info("removed %d run director%s of nodes that are gone from %s", len(removed),
                 "y" if len(removed) == 1 else "ies", parent)
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    me = psutil.Process()
    draft = Path(path, f".{OWNER_FILE}")
    draft.write_text(f"{me.pid} {me.create_time()!r}\n")
    draft.replace(Path(path, OWNER_FILE))  # whole or absent: a sweeper never reads half
    return path


def sweep_stale(parent: str) -> list[str]:
    """Remove this user's run directories under ``parent`` whose node is gone; their paths."""
    bound: set[str] | None = None
    removed = []
    for entry in sorted(Path(parent).glob(f"{PREFIX}*")):
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        owner = entry / OWNER_FILE
        if owner.exists():
            stale = not _owner_runs(owner)
        elif (entry / CONTROL_SOCKET).exists():  # made before node.pid was written
            if bound is None:
                bound = _bound_unix_paths()
            stale = bound is not None and str(entry / CONTROL_SOCKET) not in bound
        else:
            stale = False  # being made right now, or not a node's: left alone
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed


def _owner_runs(owner: Path) -> bool:
    """Whether the node named in ``owner`` still runs (unreadable: assume it does)."""
    try:
        pid_text, created_text = owner.read_text().split()
        pid, created = int(pid_text), float(created_text)
    except (OSError, ValueError):
        return True
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - created) < 0.01
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # another user's process reusing the pid, or no permission: keep it
        return True


def _bound_unix_paths() -> set[str] | None:
    """Paths of every bound unix socket on this machine; None where that cannot be read."""
    try:
        sockets = psutil.net_connections(kind="unix")
    except (psutil.Error, NotImplementedError, OSError):
        return None
    laddrs: list[object] = [c.laddr for c in sockets]  # a path (str) for unix sockets
    return {a for a in laddrs if isinstance(a, str)}
