"""The envelope: the one shape every message on the wire has (see PROTOCOL.md)."""

from __future__ import annotations

from typing import Any, NamedTuple

from ._constants import KIND_ASK, PROTOCOL_VERSION
from ._errors import ProtocolError


class Envelope(NamedTuple):
    """One message on the wire (immutable).

    ``deadline`` is an absolute Unix time in seconds (``None``: no deadline); ``id`` is the
    correlation id a reply echoes; ``incarnation`` is set on replies and events so a
    client knows which life of an actor answered.

    A named tuple, not an attrs class: every message in and out of every process makes
    one, and a tuple is made in one step where a frozen attrs class sets each field.
    """

    kind: str
    id: int | str
    to: str
    type: str
    body: Any = None
    deadline: float | None = None
    incarnation: int | None = None
    v: int = PROTOCOL_VERSION

    @classmethod
    def refused(cls, error: ProtocolError, to: str) -> Envelope:
        """Stands for a frame that did not decode when answering it: the kind and id that
        could be read (an ask with id ``""`` when none), addressed from ``to``."""
        return cls(error.envelope_kind or KIND_ASK, error.envelope_id, to, "error")

    def reply(self, type_: str, body: Any, *, incarnation: int | None = None) -> Envelope:
        """The reply envelope to this ask, carrying its correlation id."""
        return Envelope("reply", self.id, self.to, type_, body, None, incarnation)

    def error(self, code: str, message: str, *, incarnation: int | None = None,
              **details: Any) -> Envelope:
        """The error envelope to this ask: ``{"code", "message", ...details}``."""
        body = {"code": code, "message": message, **details}
        return Envelope("error", self.id, self.to, "error", body, None, incarnation)
