"""What supervisors need from the node that hosts them (implemented by :class:`Node`)."""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from actors import HostSpec

from ._process import Standby


class Runtime(Protocol):
    """The node-side mechanism a supervisor drives: processes, events, time."""

    def now(self) -> float:
        """Monotonic seconds."""

    def launch(self, spec: HostSpec, snapshot: bytes | None) -> BaseProcess:
        """Start an actor host process."""

    def launch_standby(self, name: str) -> Standby:
        """Fork a waiting host for the next incarnation of ``name``."""

    def host_spec(self, name: str, incarnation: int, endpoint: str, **child: Any) -> HostSpec:
        """The host spec for a child, with the node's endpoints filled in."""

    def watch(self, worker: Any) -> None:
        """Report ``worker``'s process death to it through its sentinel."""

    def unwatch(self, worker: Any) -> None:
        """Stop watching ``worker``'s current process."""

    def publish(self, event: Any) -> None:
        """Put one of the node's own events (a registered message with a ``name``, e.g.
        :class:`messages.ActorExited`) on the node's event stream."""

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the node loop after ``delay`` seconds."""

    def root_gave_up(self, reason: str) -> None:
        """The root supervisor exceeded its intensity: the node must exit non-zero."""
