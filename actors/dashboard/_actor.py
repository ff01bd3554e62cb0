"""The dashboard actor: a small web page of its node, served on loopback with aiohttp."""

from __future__ import annotations

import logging

import attrs
from aiohttp import web

from actors import Actor, Connection, connect
from actors.connectors import LoopThread

from ._board import Board
from ._server import build_app
from ._settings import DashboardSettings

log = logging.getLogger("actors.dashboard")
START_TIMEOUT = 10.0


@attrs.frozen
class DashboardStatistics:
    """The dashboard actor's answer to ``actor.statistics``."""

    url: str
    pages: int
    reads: int
    events: int
    control: bool


class DashboardActor(Actor):
    """Serves the dashboard; its engine and server run on a loop thread of their own."""

    settings_class = DashboardSettings

    def on_start(self) -> None:
        s: DashboardSettings = self.context.settings
        self._connection: Connection = connect(self.context.node_endpoint)
        self._loop = LoopThread(f"{self.context.name}-loop")
        self.board = Board(self._connection, s, self.context.name)
        try:
            port = self._loop.run(self._serve(s), START_TIMEOUT)
        except OSError as exc:
            self._close()
            raise OSError(exc.errno, f"dashboard actor {self.context.name!r}: cannot listen on "
                          f"{s.host}:{s.port}: {exc.strerror}; choose another port with "
                          f"AGENTCELL_{self.context.name.upper()}__PORT") from exc
        host = f"[{s.host}]" if ":" in s.host else s.host
        self.url = f"http://{host}:{port}/"
        log.info("dashboard of this node at %s (%s)", self.url,
                 "control on" if s.control else "read-only")

    async def _serve(self, s: DashboardSettings) -> int:
        self._runner = web.AppRunner(build_app(self.board), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, s.host, s.port)
        await site.start()
        await self.board.start()
        addresses = self._runner.addresses  # the port asked for may be 0
        return int(addresses[0][1]) if addresses else s.port

    async def _shutdown(self) -> None:
        await self.board.stop()
        await self._runner.cleanup()

    def on_stop(self) -> None:
        self._loop.run(self._shutdown(), START_TIMEOUT)
        self._close()

    def _close(self) -> None:
        self._loop.close()
        self._connection.close()

    def statistics(self) -> DashboardStatistics:
        return DashboardStatistics(self.url, len(self.board.hub.queues), self.board.model.reads,
                                   self.board.events, self.board.settings.control)
