"""Payload encodings at the edge of the actor world: bytes, text, JSON or msgpack.

A broker message carries bytes; a subscription or a ``bridge.publish`` states how they
map to a value. msgpack goes through the codec of :mod:`messages` (the one place that
owns msgpack); JSON is the standard library's.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from messages import ProtocolError, pack_value, unpack_value

from ._errors import BadPayload

Encoding = Literal["json", "msgpack", "bytes", "text"]
ENCODINGS: tuple[Encoding, ...] = ("json", "msgpack", "bytes", "text")
MAX_PAYLOAD_BYTES = 1 << 20
"""Largest payload decoded as msgpack (as an envelope: the node's default message limit)."""
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def encode_payload(value: Any, encoding: Encoding) -> bytes:
    """``value`` as bytes in ``encoding``; BadPayload says what does not fit."""
    if encoding == "json":
        try:
            return _dumps(value).encode()
        except (TypeError, ValueError) as exc:
            raise BadPayload(f"payload is not JSON-able: {exc}") from None
    if encoding == "msgpack":
        try:
            return pack_value(value)
        except TypeError as exc:
            raise BadPayload(str(exc)) from None
    if encoding == "bytes":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise BadPayload(f"encoding 'bytes' takes bytes, got {type(value).__name__}")
    if encoding == "text":
        if isinstance(value, str):
            return value.encode()
        raise BadPayload(f"encoding 'text' takes a string, got {type(value).__name__}")
    raise BadPayload(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


def decode_payload(data: bytes, encoding: Encoding) -> Any:
    """The value ``data`` holds in ``encoding``; BadPayload says why it does not decode."""
    if encoding == "json":
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload(f"payload is not JSON: {exc}") from None
    if encoding == "msgpack":
        try:
            return unpack_value(data, max_bytes=MAX_PAYLOAD_BYTES)
        except ProtocolError as exc:
            raise BadPayload(str(exc)) from None
    if encoding == "bytes":
        return bytes(data)
    if encoding == "text":
        try:
            return bytes(data).decode()
        except UnicodeDecodeError as exc:
            raise BadPayload(f"payload is not UTF-8 text: {exc}") from None
    raise BadPayload(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


def content_id(topic: str, data: bytes) -> str:
    """A message id from content, for brokers and publishers that give none.

    Equal topic and payload give equal ids, which is what deduplicating a redelivery
    needs; two distinct messages with equal content collide, so publishers that care set
    an id of their own (MQTT 5 user property ``message_id``, AMQP ``message_id``, NATS
    ``Nats-Msg-Id``).
    """
    digest = hashlib.blake2b(topic.encode(), digest_size=16)
    digest.update(b"\0")
    digest.update(data)
    return "content:" + digest.hexdigest()
