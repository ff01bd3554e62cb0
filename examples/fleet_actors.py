"""The fleet's own actor: a TCP proxy in front of PostgreSQL that faults can switch off.

The fleet's pool reaches PostgreSQL through ``dbproxy``, so ``inject.py`` can take the
database away (``dbproxy.down``: every connection through it is cut and new ones are
refused, as when the server stops) and bring it back (``dbproxy.up``) without touching a
server other people share. The node loads this module from the fleet's ``--path``.
"""

from __future__ import annotations

import attrs

from actors import Actor, handler
from actors.testing import TcpProxy
from messages import message


@message("dbproxy.down")
class Down:
    """Cut every connection and refuse new ones until ``dbproxy.up``."""


@message("dbproxy.up")
class Up:
    """Accept connections again."""


@attrs.frozen
class ProxySettings:
    """Where the proxy listens (a fixed port, so the pool finds it again after a restart)
    and the server behind it."""

    port: int
    upstream_host: str = "127.0.0.1"
    upstream_port: int = 5432


@attrs.frozen
class ProxyStatistics:
    """Whether the database is reachable through the proxy, and how many connections passed."""

    listening: bool
    accepted: int
    connections: int


class DbProxy(Actor):
    """A stoppable TCP proxy as an actor (see :class:`actors.testing.TcpProxy`)."""

    settings_class = ProxySettings

    def on_start(self) -> None:
        s: ProxySettings = self.context.settings
        self.proxy = TcpProxy((s.upstream_host, s.upstream_port), port=s.port)

    def on_stop(self) -> None:
        self.proxy.close()

    @handler
    def on_down(self, msg: Down) -> ProxyStatistics:
        self.proxy.stop()
        return self.statistics()

    @handler
    def on_up(self, msg: Up) -> ProxyStatistics:
        self.proxy.start()
        return self.statistics()

    def statistics(self) -> ProxyStatistics:
        return ProxyStatistics(self.proxy.listening, self.proxy.accepted, self.proxy.connections)
