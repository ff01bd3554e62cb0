"""Settings of the dashboard actor (``AGENTCELL_DASHBOARD__PORT=8765`` and the like)."""

from __future__ import annotations

from typing import Final

import attrs

from actors.observe import ServeSettings, positive_seconds

DEFAULT_PORT: Final = 8765


@attrs.frozen
class DashboardSettings(ServeSettings):
    """Where the page is served, what it reads, and whether it may act."""

    port: int = DEFAULT_PORT
    interval: float = attrs.field(default=1.0, validator=positive_seconds)
    """Seconds between full reads of the node (events are pushed to the page at once)."""
    history: float = attrs.field(default=300.0, validator=positive_seconds)
    """Seconds of latency history the charts keep (p50 and p99 per operation)."""
    charts: int = attrs.field(default=6, validator=attrs.validators.ge(0))
    """Operations charted: the slowest by p99 in the last read."""
    control: bool = False
    """Whether the page may restart actors and acknowledge alerts (read-only by default)."""
    token: str = ""
    """When set, control requests must carry ``Authorization: Bearer <token>`` (the page
    asks for it once and keeps it in the tab's session storage)."""
    transitions: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    """Breaker transitions remembered for the page (newest first)."""

    def exposure_problem(self, *, secured: bool, insecure: bool) -> str | None:
        """Beyond loopback, the node's rule, and control only behind a token."""
        problem = super().exposure_problem(secured=secured, insecure=insecure)
        if problem is None and self.control and not self.token and not self.local:
            return (f"control is on and host {self.host!r} can be reached from other "
                    "machines: set a \"token\" (commands then need Authorization: Bearer "
                    "<token>), or serve on 127.0.0.1")
        return problem
