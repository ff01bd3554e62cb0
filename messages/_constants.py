"""Protocol constants, defined once: every other module imports them from here."""

from typing import Final

PROTOCOL_VERSION: Final = 1
"""Version carried in every envelope under ``v``; a node refuses other versions."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 1 << 20
"""Largest encoded envelope a node or actor accepts unless configured otherwise."""

MAX_NESTING: Final = 100
"""Deepest nesting of arrays and maps in an envelope, the envelope map itself counting as 1
(Protocol Buffers' default recursion limit); deeper input is refused as malformed, so that
no code that walks a decoded value can run out of stack."""

MAX_NAME_LENGTH: Final = 255
"""Longest ``to``, ``type`` and string ``id`` an envelope may carry (characters): replies
and error messages echo them, so they stay small whatever a peer sends."""

DEFAULT_ASK_TIMEOUT: Final = 5.0
"""Seconds an ask waits for its reply when the caller names no timeout (as OTP's call)."""

KIND_ASK: Final = "ask"
KIND_TELL: Final = "tell"
KIND_REPLY: Final = "reply"
KIND_ERROR: Final = "error"
KIND_EVENT: Final = "event"
KINDS: Final = frozenset({KIND_ASK, KIND_TELL, KIND_REPLY, KIND_ERROR, KIND_EVENT})

NODE_TARGET: Final = "node"
"""Target name of the node's own front door (resolve, status, stop, ...)."""

PLANNED_EXIT_CAUSES: Final = ("shutdown", "memory:", "messages:")
"""``lifecycle.exited`` causes that are no failure, as prefixes: a stop that was asked for,
and recycling (``memory: N MiB > M``, ``messages: N >= M``) — restart counters, health
alerts and recovery rules leave these out."""
