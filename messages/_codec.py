"""The codec: the only place that turns envelopes into bytes and back. msgpack only."""

from __future__ import annotations

from typing import Any

import msgpack

from ._constants import DEFAULT_MAX_MESSAGE_BYTES, KINDS, PROTOCOL_VERSION
from ._envelope import Envelope
from ._errors import MalformedMessage, MessageTooLarge

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack


def encode(envelope: Envelope) -> bytes:
    """Encode an envelope as one msgpack map (the single payload frame)."""
    data: dict[str, Any] = {
        "v": envelope.v,
        "kind": envelope.kind,
        "id": envelope.id,
        "to": envelope.to,
        "type": envelope.type,
        "body": envelope.body,
    }
    if envelope.deadline is not None:
        data["deadline"] = envelope.deadline
    if envelope.incarnation is not None:
        data["incarnation"] = envelope.incarnation
    try:
        return _packb(data)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"message {envelope.type!r} has a body msgpack cannot encode: {exc}") from exc


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


def decode(data: bytes, *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Envelope:
    """Decode and check one payload frame; raise a :class:`ProtocolError` subclass."""
    if len(data) > max_bytes:
        raise MessageTooLarge(f"message of {len(data)} bytes is over the limit of {max_bytes} bytes")
    try:
        raw = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types for bad bytes
        raise MalformedMessage(f"payload is not msgpack: {type(exc).__name__}: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedMessage(f"envelope must be a msgpack map, got {type(raw).__name__}")
    return _envelope_from_map(raw)


def _envelope_from_map(raw: dict[Any, Any]) -> Envelope:
    v = raw.get("v")
    if v != PROTOCOL_VERSION:
        raise MalformedMessage(f"protocol version {v!r} is not supported "
                               f"(this node speaks {PROTOCOL_VERSION})")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise MalformedMessage(f"envelope.kind must be one of {sorted(KINDS)}, got {kind!r}")
    id_ = raw.get("id")
    if not isinstance(id_, (int, str)) or isinstance(id_, bool):
        raise MalformedMessage(f"envelope.id must be an integer or string, got {id_!r}")
    to = raw.get("to")
    if not isinstance(to, str):
        raise MalformedMessage(f"envelope.to must be a string, got {to!r}")
    type_ = raw.get("type")
    if not isinstance(type_, str) or not type_:
        raise MalformedMessage(f"envelope.type must be a non-empty string, got {type_!r}")
    deadline = raw.get("deadline")
    if deadline is not None and (not isinstance(deadline, (int, float)) or isinstance(deadline, bool)):
        raise MalformedMessage(f"envelope.deadline must be a number (Unix seconds), got {deadline!r}")
    incarnation = raw.get("incarnation")
    if incarnation is not None and not isinstance(incarnation, int):
        raise MalformedMessage(f"envelope.incarnation must be an integer, got {incarnation!r}")
    unknown = set(raw) - {"v", "kind", "id", "to", "type", "body", "deadline", "incarnation"}
    if unknown:
        raise MalformedMessage(f"envelope has unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    return Envelope(kind, id_, to, type_, raw.get("body"),
                    None if deadline is None else float(deadline), incarnation, v)
