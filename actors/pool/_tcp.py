"""Raw TCP connector with a line protocol: send one line, read one line back."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from typing import Any

from ._connector import Connector, spoke_while_idle

_MAX_LINE = 1 << 20


class _LineSocket:
    """A connected socket with a read buffer."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()


class TcpConnector(Connector):
    """Each command's ``args`` are joined with spaces and sent as one line; the answer is
    the next line, decoded as UTF-8. ``check_line`` (if set) is sent as the health check;
    otherwise a check only verifies that the peer has not closed the socket."""

    backend = "tcp"
    sql = False

    def __init__(self, host: str, port: int, *, terminator: str = "\n",
                 check_line: str = "") -> None:
        self.host = host
        self.port = port
        self.terminator = terminator.encode()
        self.check_line = check_line

    def describe(self) -> str:
        return f"tcp {self.host}:{self.port}"

    def connect(self, timeout: float) -> _LineSocket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _LineSocket(sock)

    def check(self, conn: Any, timeout: float) -> None:
        if self.check_line:
            self.command(conn, [self.check_line], timeout)
            return
        sock: socket.socket = conn.sock
        sock.setblocking(False)
        try:
            if sock.recv(1, socket.MSG_PEEK) == b"":
                raise ConnectionError(f"{self.describe()}: the peer closed the connection")
        except BlockingIOError:
            pass  # nothing to read and not closed: alive
        finally:
            sock.setblocking(True)

    def ended_while_idle(self, conn: Any) -> bool:
        return bool(conn.buffer) or spoke_while_idle(conn.sock.fileno())

    def close(self, conn: Any) -> None:
        with contextlib.suppress(OSError):  # already broken: nothing left to release
            conn.sock.close()

    def command(self, conn: Any, args: Sequence[Any], timeout: float) -> Any:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        line = b" ".join(parts)
        if self.terminator in line:
            raise ValueError("pool.command: an argument contains the line terminator")
        sock: socket.socket = conn.sock
        sock.settimeout(timeout)
        sock.sendall(line + self.terminator)
        buffer: bytearray = conn.buffer
        while (end := buffer.find(self.terminator)) < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"{self.describe()}: the peer closed the connection "
                                      "before answering")
            buffer += chunk
            if len(buffer) > _MAX_LINE:
                raise ConnectionError(f"{self.describe()}: answer line over {_MAX_LINE} bytes")
        answer = bytes(buffer[:end])
        del buffer[:end + len(self.terminator)]
        return answer.decode("utf-8", errors="replace")
