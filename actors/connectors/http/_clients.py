"""The httpx client of one resource, replaced when its HTTP/2 connection has run out of
streams that are not really in use.

httpcore (httpx's transport) does not reset an HTTP/2 stream whose request was cut off (a
deadline, a timeout): the ``h2`` state machine keeps counting it as open until the server
answers it, while httpcore's own count has freed it (encode/httpcore#1022). Once the
server's ``SETTINGS_MAX_CONCURRENT_STREAMS`` (often 100) such streams are pending, every
new request on that connection fails at once with ``TooManyStreamsError`` — before anything
is sent — and keeps failing for as long as the server holds the abandoned requests.
:class:`Clients` notices that error, opens a fresh client (a fresh connection) for the
requests that follow, and closes the old one once whatever still runs on it has had time
to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import httpx

try:
    from h2.exceptions import TooManyStreamsError
except ImportError:  # pragma: no cover - without h2 httpx speaks HTTP/1.1 only
    TooManyStreamsError = None  # type: ignore[assignment, misc]

log = logging.getLogger("actors.connectors")


def out_of_streams(exc: BaseException) -> bool:
    """Whether ``exc`` (an httpx error) comes from h2 refusing to open one more stream."""
    if TooManyStreamsError is None:
        return False
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TooManyStreamsError) or any(
                isinstance(arg, TooManyStreamsError) for arg in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Clients:
    """Hands out the resource's current client; :meth:`replace` swaps in a fresh one.

    ``make`` builds a client; a replaced one is closed ``linger`` seconds later (the
    longest an attempt may run, so requests still on it end by themselves first).
    """

    def __init__(self, make: Callable[[], httpx.AsyncClient], linger: float) -> None:
        self._make = make
        self._linger = linger
        self.current = make()
        self.replaced = 0
        self._retiring: set[asyncio.Task[None]] = set()

    def replace(self, broken: httpx.AsyncClient, where: str) -> None:
        """Stop using ``broken`` (if it is still the current client: once is enough when
        several requests saw the same broken connection at once)."""
        if broken is not self.current:
            return
        self.current = self._make()
        self.replaced += 1
        log.warning("%s: the HTTP/2 connection has no stream left (requests cut off earlier are "
                    "still open on the server); new requests go on a new connection", where)
        task = asyncio.get_running_loop().create_task(self._retire(broken))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, client: httpx.AsyncClient) -> None:
        try:
            await asyncio.sleep(self._linger)
        finally:
            await client.aclose()

    async def close(self) -> None:
        """Close the current client and every replaced one at once."""
        for task in list(self._retiring):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.current.aclose()
