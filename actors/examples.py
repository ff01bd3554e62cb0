"""Example actors used by the README tour and the tests: echo, relay, and chaos.

``chaos`` misbehaves on request (raise, exit, hang, segfault, sleep, leak memory) so that
supervision can be shown and tested against real failures.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from typing import Any

import attrs

from messages import message

from ._actor import Actor, handler

MIB = 1024 * 1024


@message("echo.ping")
class Ping:
    """Ask ``echo`` to send ``n`` and ``text`` back."""

    n: int
    text: str = ""


@message("echo.pong")
class Pong:
    """``echo``'s answer: what it was sent, and which incarnation answered."""

    n: int
    text: str
    incarnation: int


@attrs.frozen
class EchoStatistics:
    """What ``echo`` has done."""

    pings: int


class Echo(Actor):
    """Replies to every ``echo.ping`` with an ``echo.pong``."""

    def on_start(self) -> None:
        self.pings = 0

    @handler
    def on_ping(self, msg: Ping) -> Pong:
        self.pings += 1
        return Pong(msg.n, msg.text, self.context.incarnation)

    def statistics(self) -> EchoStatistics:
        return EchoStatistics(self.pings)


@message("relay.forward")
class Forward:
    """Ask ``relay`` to ask actor ``target`` for an echo of ``n``."""

    n: int
    target: str = "echo"


@attrs.frozen
class RelaySettings:
    """Settings of ``relay``: how long it waits for the actor it asks."""

    timeout: float = 2.0


class Relay(Actor):
    """Asks another actor on its node and replies with that actor's answer."""

    settings_class = RelaySettings

    @handler
    def on_forward(self, msg: Forward) -> Pong:
        reply = self.context.connection().ask(msg.target, Ping(msg.n, "via relay"),
                                              timeout=self.context.settings.timeout)
        assert isinstance(reply, Pong)
        return reply


@message("chaos.fail")
class Fail:
    """Make ``chaos`` fail: ``how`` is raise, exit, kill, kill_once (only incarnation 1),
    segfault, hang, sleep, stop (a normal exit), thread (``SystemExit`` in the handler ends
    the serving thread) or watch (a readiness callback raises outside any handler)."""

    how: str
    seconds: float = 0.0
    code: int = 3


@message("chaos.count")
class Count:
    """Add one to ``chaos``'s counter and return it (shows whether state survived)."""


@message("chaos.save")
class Save:
    """Save ``chaos``'s counter as a snapshot for its next incarnation."""


@message("chaos.leak")
class Leak:
    """Make ``chaos`` hold ``mib`` more MiB for good (a leak on purpose); the reply is the
    MiB it holds now."""

    mib: int


class Chaos(Actor):
    """An actor that fails on request, for fault injection.

    Settings (a plain map): ``fail_on_start`` (every start fails), ``fail_on_start_from``
    and ``fail_on_start_until`` (the starts of incarnations in that range fail; no end
    when ``until`` is 0 or missing), ``start_delay`` (seconds ``on_start`` takes, from
    incarnation ``start_delay_from``, 1 by default), ``save_on_stop`` (``on_stop`` saves
    the counter as a snapshot, as the built-in actors save their state).
    """

    def on_start(self) -> None:
        snapshot: Any = self.context.snapshot
        self.count = int(snapshot["count"]) if isinstance(snapshot, dict) else 0
        settings = self.context.settings
        if self.context.incarnation >= int(settings.get("start_delay_from", 1)):
            time.sleep(float(settings.get("start_delay", 0.0)))
        first = int(settings.get("fail_on_start_from", 0))
        last = int(settings.get("fail_on_start_until", 0)) or self.context.incarnation
        if settings.get("fail_on_start") or 0 < first <= self.context.incarnation <= last:
            raise RuntimeError("chaos was configured to fail in on_start")

    def on_stop(self) -> None:
        if self.context.settings.get("save_on_stop"):
            self.context.save_snapshot({"count": self.count})

    @handler
    def on_count(self, msg: Count) -> int:
        self.count += 1
        return self.count

    @handler
    def on_save(self, msg: Save) -> int:
        self.context.save_snapshot({"count": self.count})
        return self.count

    @handler
    def on_leak(self, msg: Leak) -> int:
        if not hasattr(self, "leaked"):
            self.leaked: list[bytearray] = []
        self.leaked += [bytearray(b"x" * MIB) for _ in range(msg.mib)]  # touched: resident
        return len(self.leaked)

    @handler
    def on_fail(self, msg: Fail) -> str:
        if msg.how == "raise":
            raise RuntimeError("chaos was asked to raise")
        if msg.how == "exit":
            os._exit(msg.code)
        if msg.how == "kill" or (msg.how == "kill_once" and self.context.incarnation == 1):
            os.kill(os.getpid(), signal.SIGKILL)
        if msg.how == "kill_once":
            return f"survived in incarnation {self.context.incarnation}"
        if msg.how == "stop":
            self.context.stop_self()
            return "stopping"
        if msg.how == "segfault":
            ctypes.string_at(0)
        if msg.how == "hang":
            threading.Event().wait()
        if msg.how == "sleep":
            time.sleep(msg.seconds)
            return "slept"
        if msg.how == "thread":
            raise SystemExit(msg.code)
        if msg.how == "watch":
            self.context.watch_readable(os.eventfd(1, os.EFD_CLOEXEC), _broken_callback)
            return "watching"
        raise ValueError(f"chaos.fail: unknown how={msg.how!r}")


def _broken_callback() -> None:
    raise RuntimeError("chaos: a readiness callback failed outside any handler")
