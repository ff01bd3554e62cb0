"""A small TCP proxy on a loopback port, to make a shared server "go down" for a test or a
fault-injection run (the fleet in examples/).

``stop()`` closes the listener and every proxied connection, so to a client the server
behind it is stopped (existing connections see EOF, new ones are refused); ``start()``
listens again on the same port. One thread runs everything through a selector, so the
proxy never holds more than that one thread however many connections pass through it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

CHUNK = 65536
MAX_CONNECTIONS = 64
"""Client connections held at once; more are closed on accept (the test would be broken)."""


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` while started."""

    def __init__(self, upstream: tuple[str, int], *, port: int = 0, connect_timeout: float = 2.0) -> None:
        self.upstream = upstream
        self.connect_timeout = connect_timeout
        self.port = port
        """The port it listens on (``port`` 0: a free one, kept across stop and start)."""
        self.accepted = 0
        """Connections forwarded since it was made."""
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._lock = threading.Lock()
        self._commands: list[tuple[str, threading.Event]] = []
        self._listener: socket.socket | None = None
        self._peers: dict[socket.socket, socket.socket] = {}
        self._closed = False
        self._listen()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        """Whether the proxy accepts connections now."""
        return self._listener is not None

    @property
    def connections(self) -> int:
        """Proxied connections open now."""
        return len(self._peers) // 2

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every proxied connection; returns when they are closed."""
        self._command("stop", timeout)

    def start(self, timeout: float = 5.0) -> None:
        """Listen again on the same port; returns when connections are accepted."""
        self._command("start", timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop for good and end the thread."""
        if self._closed:
            return
        self._command("close", timeout)
        self._thread.join(timeout)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- the proxy's thread -------------------------------------------------------------
    def _command(self, what: str, timeout: float) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append((what, done))
        self._wake_w.send(b"x")
        if not done.wait(timeout):
            raise RuntimeError(f"tcp proxy did not {what} within {timeout} s")

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(MAX_CONNECTIONS)
        listener.setblocking(False)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._sel.register(listener, selectors.EVENT_READ, "accept")

    def _unlisten(self) -> None:
        if self._listener is not None:
            self._sel.unregister(self._listener)
            self._listener.close()
            self._listener = None
        for sock in list(self._peers):
            self._drop(sock)

    def _run(self) -> None:
        while not self._closed:
            for key, _ in self._sel.select(timeout=1.0):
                if key.data == "wake":
                    self._obey()
                elif key.data == "accept":
                    self._accept()
                elif key.fileobj in self._peers:
                    self._pump(key.fileobj)

    def _obey(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        with self._lock:
            commands, self._commands = self._commands, []
        for what, done in commands:
            if what in ("stop", "close"):
                self._unlisten()
                self._closed = self._closed or what == "close"
            elif what == "start" and self._listener is None:
                self._listen()
            done.set()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        if len(self._peers) // 2 >= MAX_CONNECTIONS:
            client.close()
            return
        try:
            server = socket.create_connection(self.upstream, timeout=self.connect_timeout)
        except OSError:
            client.close()
            return
        self.accepted += 1
        for sock in (client, server):
            sock.setblocking(True)
            sock.settimeout(self.connect_timeout)  # sendall to a stuck peer cannot block forever
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._peers[client], self._peers[server] = server, client
        self._sel.register(client, selectors.EVENT_READ, "peer")
        self._sel.register(server, selectors.EVENT_READ, "peer")

    def _pump(self, sock: socket.socket) -> None:
        peer = self._peers[sock]
        try:
            data = sock.recv(CHUNK)
            if data:
                peer.sendall(data)
                return
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        peer = self._peers.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            self._peers.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(s)
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

