"""What the host does when a handler raises: count, log, answer, and apply ``on_error``.

An exception the actor lists in ``expected_errors`` is an answer (an SQL error, an unknown
name, an open circuit): counted apart, logged in one line, replied with the error's plain
``details``. Any other is a fault of the actor: counted in ``errors``, logged with its
traceback, replied, and then the child's ``on_error`` directive (restart, stop, escalate)
ends the host with the exit code its supervisor reads (``resume`` serves on).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import zmq

from messages import Envelope, exception_summary

from ._actor import Actor
from ._exitcodes import EXIT_ESCALATE_DIRECTIVE, EXIT_RESTART_DIRECTIVE, EXIT_STOP_DIRECTIVE
from ._replies import Replies
from ._transport import close_with_context

if TYPE_CHECKING:
    from ._bridge import HostCounters

log = logging.getLogger("actors.host")

_DIRECTIVE_EXIT = {
    "restart": EXIT_RESTART_DIRECTIVE,
    "stop": EXIT_STOP_DIRECTIVE,
    "escalate": EXIT_ESCALATE_DIRECTIVE,
}
_ERROR_BODY_KEYS = frozenset({"code", "message"})
"""Keys of an error reply's body that an error's ``details`` may not replace."""


class HandlerFailures:
    """Answers one actor's handler exceptions; runs on the actor thread."""

    def __init__(self, actor: Actor, socket: zmq.Socket[bytes], replies: Replies,
                 counters: HostCounters, on_error: str) -> None:
        self._actor = actor
        self._name = actor.context.name
        self._socket = socket
        self._replies = replies
        self._counters = counters
        self._on_error = on_error

    def handler_failed(self, route: list[bytes], env: Envelope, exc: BaseException) -> None:
        """Count and log ``exc``, reply it to the asker, then apply ``on_error`` to a fault."""
        text = (f"actor {self._name!r} failed handling {env.type!r}: "
                f"{exception_summary(exc)}")
        expected = isinstance(exc, self._actor.expected_errors)
        if expected:  # a domain error the actor reports, not a fault of the actor
            self._counters.expected_errors += 1
            log.info("%s", text)
        else:
            self._counters.errors += 1
            log.error("%s (on_error=%s)", text, self._on_error, exc_info=exc)
        extra = _answer_details(exc) if expected else {}
        self._replies.error(route, env, "handler_error", text, **{
            **extra, "actor": self._name, "type": env.type, "exception": type(exc).__name__,
            "exception_mro": [c.__name__ for c in type(exc).__mro__ if c is not object]})
        code = None if expected else _DIRECTIVE_EXIT.get(self._on_error)
        if code is not None:
            log.error("actor %r exits (on_error=%s)", self._name, self._on_error)
            close_with_context(self._socket, linger_ms=1000)  # the error reply goes out first
            os._exit(code)


def _answer_details(exc: BaseException) -> dict[str, Any]:
    """The plain fields an expected error offers its asker (its ``details`` map, if any),
    e.g. the pool's ``may_have_run``: they travel in the error reply beside its text."""
    details = getattr(exc, "details", None)
    if not isinstance(details, dict):
        return {}
    return {k: v for k, v in details.items()
            if isinstance(k, str) and k not in _ERROR_BODY_KEYS
            and (v is None or type(v) in (str, int, float, bool))}
