"""The codec: the only place that turns envelopes into bytes and back. msgpack only.

:func:`decode` is total: whatever the bytes, it returns an :class:`Envelope` or raises a
:class:`ProtocolError` subclass, and what it returns is safe to walk: at most
``max_bytes`` long, nested at most :data:`MAX_NESTING` deep, without msgpack ext types.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import islice
from typing import Any

import msgpack

from ._constants import (
    DEFAULT_MAX_MESSAGE_BYTES,
    KIND_ASK,
    KINDS,
    MAX_NAME_LENGTH,
    MAX_NESTING,
    PROTOCOL_VERSION,
)
from ._envelope import Envelope
from ._errors import MalformedMessage, MessageTooLarge, ProtocolError
from ._summary import exception_summary, summary

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_KEYS = frozenset({"v", "kind", "id", "to", "type", "body", "deadline", "incarnation"})
_USUAL_TYPES = (int, str, int, str, str)
"""Types of v, kind, id, to and type in the envelopes this code sends."""
_NOT_CONTAINER_HEADER = bytes(b for b in range(256) if not (0x80 <= b <= 0x9F or 0xDC <= b <= 0xDF))
"""Every byte that cannot start a msgpack map or array: deleting them from a payload
leaves an upper bound on how many containers (so how deep a nesting) it can hold."""


def encode(envelope: Envelope) -> bytes:
    """Encode an envelope as one msgpack map (the single payload frame)."""
    return encode_fields(envelope.kind, envelope.id, envelope.to, envelope.type, envelope.body,
                         envelope.deadline, envelope.incarnation, envelope.v)


def encode_fields(kind: str, id_: int | str, to: str, type_: str, body: Any,
                  deadline: float | None = None, incarnation: int | None = None,
                  v: int = PROTOCOL_VERSION) -> bytes:
    """As :func:`encode`, from the envelope's fields: the hot paths (an ask, a reply) skip
    building an :class:`Envelope` only to take it apart again."""
    data: dict[str, Any] = {"v": v, "kind": kind, "id": id_, "to": to, "type": type_, "body": body}
    if deadline is not None:
        data["deadline"] = deadline
    if incarnation is not None:
        data["incarnation"] = incarnation
    try:
        return _packb(data)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"message {type_!r} has a body msgpack cannot encode: {exc}") from exc


def pack_value(value: Any) -> bytes:
    """Encode one plain value (a message payload, not an envelope) as msgpack bytes.

    For payloads that leave the actor world as msgpack (a broker message, a device's
    answer); TypeError names what msgpack cannot encode.
    """
    try:
        return _packb(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"payload msgpack cannot encode: {exc}") from exc


def unpack_value(data: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Any:
    """Decode msgpack bytes written by :func:`pack_value` or any msgpack producer.

    MalformedMessage if the bytes are not one msgpack value, MessageTooLarge over
    ``max_bytes``: bad bytes from outside are refused, never trusted.
    """
    if len(data) > max_bytes:
        raise MessageTooLarge(f"payload of {len(data)} bytes is over the limit of {max_bytes} bytes")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types for bad bytes
        raise MalformedMessage(f"payload is not msgpack: {type(exc).__name__}: {exc}") from None


def payload_frame(frames: list[bytes]) -> bytes:
    """The payload of a message as a ROUTER receives it: ``[identity, payload]``, or
    ``[identity, b"", payload]`` from a REQ (or a DEALER that sends the REQ shape)."""
    if len(frames) == 2 or (len(frames) == 3 and frames[1] == b""):
        return frames[-1]
    raise MalformedMessage(f"expected one payload frame, or an empty delimiter frame then the "
                           f"payload (as REQ sends); got {len(frames) - 1} frames")


def decode(data: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Envelope:
    """Decode and check one payload frame; raise a :class:`ProtocolError` subclass.

    The error carries the envelope's kind and id when they could be read (see
    :class:`ProtocolError`), from the first ``max_bytes`` of a frame that is too large.
    """
    size = len(data)
    if size > max_bytes:
        raise _refusal(MessageTooLarge(f"message of {size} bytes is over the limit of "
                                       f"{max_bytes} bytes"), *_peek(data[:max_bytes]))
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False, max_str_len=size,
                              max_bin_len=size, max_array_len=size, max_map_len=size // 2,
                              max_ext_len=0)
    except Exception as exc:  # msgpack raises several unrelated types for bad bytes
        raise _refusal(MalformedMessage(f"payload is not msgpack: {exception_summary(exc)}"),
                       *_peek(data)) from None
    if not isinstance(raw, dict):
        raise MalformedMessage(f"envelope must be a msgpack map, got {type(raw).__name__}")
    try:
        if size > MAX_NESTING and len(data.translate(None, _NOT_CONTAINER_HEADER)) > MAX_NESTING \
                and _too_deep(raw):
            raise MalformedMessage(f"envelope nests arrays and maps more than {MAX_NESTING} deep")
        return _envelope_from_map(raw)
    except ProtocolError as exc:
        raise _refusal(exc, raw.get("kind"), raw.get("id")) from None
    except Exception as exc:  # a check above missed a case: still a refusal, never a crash
        raise _refusal(MalformedMessage(f"envelope cannot be read: {exception_summary(exc)}"),
                       raw.get("kind"), raw.get("id")) from None


def _refusal(exc: ProtocolError, kind: Any, id_: Any) -> ProtocolError:
    """``exc`` with the refused envelope's kind and id, where they are valid ones."""
    if type(kind) is str and kind in KINDS:
        exc.envelope_kind = kind
    if _valid_id(id_):
        exc.envelope_id = id_
    return exc


def _valid_id(id_: Any) -> bool:
    return type(id_) is int or (type(id_) is str and len(id_) <= MAX_NAME_LENGTH)


def _peek(data: bytes) -> tuple[Any, Any]:
    """(kind, id) read from the head of a frame that did not decode, or (None, None).

    Reads the envelope map entry by entry, skipping other values without building them,
    and stops at the first byte it cannot read: an id after a broken body is not found.
    """
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(data),
                                max_ext_len=0)
    unpacker.feed(data)
    found: dict[str, Any] = {}
    try:
        for _ in range(min(unpacker.read_map_header(), len(_KEYS) + 1)):
            key = unpacker.unpack()
            if key in ("kind", "id"):
                found[key] = unpacker.unpack()
                if len(found) == 2:
                    break
            else:
                unpacker.skip()
    except Exception:  # the first unreadable byte ends the look, whatever it is
        pass
    return found.get("kind"), found.get("id")


def _too_deep(value: dict[Any, Any]) -> bool:
    """Whether arrays and maps nest more than MAX_NESTING deep (level by level, no recursion).

    Map keys need no look: msgpack refuses arrays and maps as keys (they are unhashable).
    """
    level: list[Any] = [value]
    for _ in range(MAX_NESTING):
        deeper = []
        for container in level:
            for item in container.values() if type(container) is dict else container:
                if type(item) is list or type(item) is dict:
                    deeper.append(item)
        if not deeper:
            return False
        level = deeper
    return True


def _envelope_from_map(raw: dict[Any, Any]) -> Envelope:
    """The envelope in a decoded map: at once when every field has its usual type (an int
    id, a float deadline), else through :func:`_checked_envelope`, which names the fault."""
    get: Callable[[str], Any] = raw.get
    v, kind, id_, to, type_ = get("v"), get("kind"), get("id"), get("to"), get("type")
    deadline, incarnation = get("deadline"), get("incarnation")
    if (type(v), type(kind), type(id_), type(to), type(type_)) == _USUAL_TYPES \
            and v == PROTOCOL_VERSION and kind in KINDS and len(to) <= MAX_NAME_LENGTH \
            and 0 < len(type_) <= MAX_NAME_LENGTH \
            and (deadline is None or (type(deadline) is float and not math.isnan(deadline))) \
            and (incarnation is None or type(incarnation) is int) and _KEYS.issuperset(raw):
        return Envelope(kind, id_, to, type_, get("body"), deadline, incarnation, v)
    return _checked_envelope(raw)


def _checked_envelope(raw: dict[Any, Any]) -> Envelope:
    v = raw.get("v")
    if type(v) is not int or v != PROTOCOL_VERSION:
        raise MalformedMessage(f"protocol version {summary(v)} is not supported "
                               f"(this node speaks {PROTOCOL_VERSION})")
    kind = raw.get("kind")
    if type(kind) is not str or kind not in KINDS:
        raise MalformedMessage(f"envelope.kind must be one of {sorted(KINDS)}, got {summary(kind)}")
    id_: Any = raw.get("id")
    if id_ is None and kind != KIND_ASK:
        id_ = 0  # only an ask needs an id: nothing answers the others
    elif not _valid_id(id_):
        raise MalformedMessage(f"envelope.id must be an integer or a string of at most "
                               f"{MAX_NAME_LENGTH} characters (an ask needs one), "
                               f"got {summary(id_)}")
    to = raw.get("to")
    if type(to) is not str or len(to) > MAX_NAME_LENGTH:
        raise MalformedMessage(f"envelope.to must be a string of at most {MAX_NAME_LENGTH} "
                               f"characters, got {summary(to)}")
    type_ = raw.get("type")
    if type(type_) is not str or not type_ or len(type_) > MAX_NAME_LENGTH:
        raise MalformedMessage(f"envelope.type must be a non-empty string of at most "
                               f"{MAX_NAME_LENGTH} characters, got {summary(type_)}")
    deadline = raw.get("deadline")
    if deadline is not None and not (type(deadline) is int or
                                     (type(deadline) is float and not math.isnan(deadline))):
        raise MalformedMessage(f"envelope.deadline must be a number (Unix seconds), "
                               f"got {summary(deadline)}")
    incarnation = raw.get("incarnation")
    if incarnation is not None and type(incarnation) is not int:
        raise MalformedMessage(f"envelope.incarnation must be an integer, got {summary(incarnation)}")
    if not _KEYS.issuperset(raw):
        unknown = [k for k in raw if k not in _KEYS]
        shown = ", ".join(sorted(summary(k, 40) for k in islice(unknown, 5)))
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise MalformedMessage(f"envelope has unknown key(s): {shown}{more}; "
                               f"allowed: {', '.join(sorted(_KEYS))}")
    return Envelope(kind, id_, to, type_, raw.get("body"),
                    None if deadline is None else float(deadline), incarnation, v)
