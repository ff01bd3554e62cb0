"""What every observer reads from, and where it may listen: settings shared by the views.

The metrics and dashboard actors take these settings (their own settings classes add to
them); ``run_node.py top`` builds them from its flags.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

import attrs


def positive_seconds(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name}: expected seconds > 0, got {value!r}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not is_loopback(value):
        raise ValueError(
            f"{attribute.name}: {value!r} is not a loopback address; the node serves its "
            "metrics and dashboard on loopback only (127.0.0.1, ::1, localhost) until it is "
            "secured; put a reverse proxy or an SSH tunnel in front to reach them from elsewhere")


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

    host: str = attrs.field(default="127.0.0.1", validator=_loopback)
    port: int = 0
    """TCP port (0: any free one; each view sets its own default)."""

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.port <= 65535:  # here, so a subclass's own default is checked too
            raise ValueError(f"port: expected a TCP port from 0 to 65535, got {self.port!r}")

    def sources(self) -> Sources:
        """Just the sources part."""
        return Sources(profiler=self.profiler, health=self.health, breaker=self.breaker,
                       timeout=self.timeout)
