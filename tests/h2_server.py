"""A real HTTP/2 server on loopback for the HTTP actor's tests: Hypercorn serving a small
ASGI app over TLS (ALPN ``h2``) with a certificate from a throwaway CA (``trustme``).

The app records, for every request, the HTTP version Hypercorn saw and the client's
address (one address per TCP connection, so streams multiplexed on one connection share
it), counts the requests in hand at once, and notices streams the client reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import attrs
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@attrs.frozen
class Seen:
    """One request as the ASGI app got it."""

    path: str
    http_version: str
    client: tuple[str, int]
    at: float


GATHER_TIMEOUT = 10.0
"""Seconds a ``/gather`` request waits for the others before it answers anyway."""


class H2Server:
    """Serves ``/slow?s=N`` (answers after N seconds, or notes that the client reset the
    stream first), ``/gather?n=N`` (answers once N ``/gather`` requests are in hand at the
    same time, or after GATHER_TIMEOUT) and anything else (answers at once), all as JSON
    with the HTTP version.

    ``ca_file`` is the PEM of the CA that signed the server's certificate for 127.0.0.1.
    """

    def __init__(self, folder: Path, *, max_streams: int = 100) -> None:
        ca = trustme.CA()
        self.ca_file = str(folder / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        chain = folder / "server.pem"
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(chain))
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        config = Config()
        config.bind = [f"fd://{listener.detach()}"]  # Hypercorn owns (listens on, closes) it
        config.certfile = config.keyfile = str(chain)
        config.alpn_protocols = ["h2", "http/1.1"]
        config.accesslog = config.errorlog = None
        config.graceful_timeout = 0.5
        config.h2_max_concurrent_streams = max_streams
        self.seen: list[Seen] = []
        self.reset: list[str] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._barriers: dict[int, asyncio.Barrier] = {}
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(config,), name="h2-server",
                                        daemon=True)
        self._thread.start()

    def _run(self, config: Config) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(_quiet_on_cancel)
        self._loop.call_soon(self._ready.set)
        self._loop.run_until_complete(serve(self._app, config,  # type: ignore[arg-type]
                                            shutdown_trigger=self._stop.wait))
        self._loop.close()

    def connections(self, prefix: str = "/") -> set[tuple[str, int]]:
        """The client addresses (TCP connections) the requests under ``prefix`` came on."""
        with self._lock:
            return {s.client for s in self.seen if s.path.startswith(prefix)}

    def versions(self, prefix: str = "/") -> set[str]:
        """The HTTP versions of the requests under ``prefix``."""
        with self._lock:
            return {s.http_version for s in self.seen if s.path.startswith(prefix)}

    def got(self, prefix: str = "/") -> list[Seen]:
        """The requests under ``prefix`` so far."""
        with self._lock:
            return [s for s in self.seen if s.path.startswith(prefix)]

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to set up
        path = scope["path"]
        with self._lock:
            self.seen.append(Seen(path, scope["http_version"], tuple(scope["client"]),
                                  time.monotonic()))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            query = parse_qs(scope["query_string"].decode())
            if path.startswith("/gather"):
                await self._gather(int(query["n"][0]))
            if path.startswith("/slow"):
                seconds = float(query.get("s", ["0.3"])[0])
                if not await self._wait_unless_reset(receive, seconds):
                    with self._lock:
                        self.reset.append(path)
                    return
            body = json.dumps({"path": path, "http_version": scope["http_version"]}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _gather(self, n: int) -> None:
        """Wait until ``n`` gathering requests are in hand at once (this one included)."""
        barrier = self._barriers.setdefault(n, asyncio.Barrier(n))
        with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
            await asyncio.wait_for(barrier.wait(), GATHER_TIMEOUT)

    @staticmethod
    async def _wait_unless_reset(receive: Receive, seconds: float) -> bool:
        """Wait ``seconds``; False as soon as the client resets the stream (http.disconnect)."""
        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
        watch = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait_for(asyncio.shield(watch), seconds)
        except TimeoutError:
            return True
        finally:
            watch.cancel()
        return False

    def close(self) -> None:
        """Stop serving and wait for the server's thread."""
        self._ready.wait(5)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _quiet_on_cancel(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Hypercorn cancels connections still open when it shuts down; that is no error here."""
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)
