"""A real HTTP/1.1 server on loopback whose answers a test scripts (keep-alive, chunked
streams, delays), recording every request it got with the time it arrived.

Only the answers are scripted: the sockets, the HTTP framing and the client on the other
side are real. Used by the HTTP connector's and the OpenAI actor's tests.
"""

from __future__ import annotations

import collections
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs


@attrs.frozen
class Got:
    """One request as the server read it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    """When it arrived (time.monotonic())."""
    peer: tuple[str, int]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@attrs.frozen
class Answer:
    """What to send back: a status, headers and a body, after ``delay`` seconds; or, with
    ``chunks``, a chunked body sent piece by piece, ``chunk_delay`` apart."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    chunks: list[bytes] | None = None
    chunk_delay: float = 0.0
    abort: bool = False
    """After the chunks, drop the connection instead of ending the body (a broken stream)."""


Route = Callable[[Got], Answer]


class ScriptedServer:
    """Serves ``routes`` (path prefix → function of the request), with queued one-off answers
    (:meth:`script`) taking precedence; runs in threads until :meth:`close`."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes = dict(routes or {})
        self.requests: list[Got] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queued: dict[str, collections.deque[Answer]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                server._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def script(self, prefix: str, *answers: Answer) -> None:
        """Answer the next requests under ``prefix`` with ``answers``, in order."""
        with self._lock:
            self._queued[prefix].extend(answers)

    def got(self, prefix: str = "") -> list[Got]:
        """The requests received so far whose path starts with ``prefix``."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def _answer_for(self, got: Got) -> Answer:
        with self._lock:
            for prefix, queue in self._queued.items():
                if got.path.startswith(prefix) and queue:
                    return queue.popleft()
        for prefix in sorted(self.routes, key=len, reverse=True):
            if got.path.startswith(prefix):
                return self.routes[prefix](got)
        return Answer(404, {"error": f"no route for {got.path}"})

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        got = Got(h.command, parts.path, parse_qs(parts.query),
                  {k.lower(): v for k, v in h.headers.items()}, body, time.monotonic(),
                  h.client_address[:2])
        with self._lock:
            self.requests.append(got)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = self._answer_for(got)
            if answer.delay:
                self._closing.wait(answer.delay)
            self._send(h, answer)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1

    def _send(self, h: http.server.BaseHTTPRequestHandler, answer: Answer) -> None:
        body = answer.body
        headers = dict(answer.headers)
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        h.send_response(answer.status)
        for key, value in headers.items():
            h.send_header(key, value)
        if answer.chunks is None:
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
            return
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for chunk in answer.chunks:
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            h.wfile.flush()
            if answer.chunk_delay:
                self._closing.wait(answer.chunk_delay)
        if answer.abort:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(b"0\r\n\r\n")

    def close(self) -> None:
        """Stop serving (delayed answers end at once) and close the listening socket."""
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def serving(routes: dict[str, Route] | None = None) -> Iterator[ScriptedServer]:
    """A fixture body: a server for one test, closed at teardown."""
    server = ScriptedServer(routes)
    try:
        yield server
    finally:
        server.close()
