"""What every observer reads from, and where it may listen: settings shared by the views.

The metrics and dashboard actors take these settings (their own settings classes add to
them); ``run_node.py top`` builds them from its flags.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from actors import is_local


def positive_seconds(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name}: expected seconds > 0, got {value!r}")


@attrs.frozen
class Sources:
    """Names of the built-in actors an observer reads, and how long it waits for each.

    An empty name turns that source off. Pools need no name: every running actor whose
    ``actor.statistics`` answer is a ``pool.statistics`` is read as a pool.
    """

    profiler: str = "profiler"
    health: str = "health"
    breaker: str = "breaker"
    timeout: float = attrs.field(default=1.0, validator=positive_seconds)
    """Seconds to wait for each source; one that does not answer is skipped, not waited for."""


@attrs.frozen
class ServeSettings(Sources):
    """Sources plus where an observer's HTTP server listens (loopback only)."""

    host: str = "127.0.0.1"
    """Where to listen: loopback unless the node is secured or ``"insecure": true``."""
    port: int = 0
    """TCP port (0: any free one; each view sets its own default)."""

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.port <= 65535:  # here, so a subclass's own default is checked too
            raise ValueError(f"port: expected a TCP port from 0 to 65535, got {self.port!r}")
        if not self.host.strip():
            raise ValueError("host: expected an address to listen on, e.g. 127.0.0.1")

    @property
    def local(self) -> bool:
        """Whether only this machine can reach the server (a loopback ``host``)."""
        return is_local(f"tcp://{self.host}:{self.port}")

    def exposure_problem(self, *, secured: bool, insecure: bool) -> str | None:
        """Why the server may not listen where ``host`` says on a node with this security
        (the node's own rule: beyond loopback only with ``security`` or ``insecure``), or
        None. The config loader asks this of every child whose settings are these."""
        if self.local or secured or insecure:
            return None
        return (f"host {self.host!r} can be reached from other machines and the node has no "
                "\"security\"; serve on 127.0.0.1 (a reverse proxy or an SSH tunnel can carry "
                "it further), secure the node, or set \"insecure\": true in the config")

    def sources(self) -> Sources:
        """Just the sources part."""
        return Sources(profiler=self.profiler, health=self.health, breaker=self.breaker,
                       timeout=self.timeout)
