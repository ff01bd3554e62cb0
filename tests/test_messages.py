"""The codec and message classes: round trips, validation that names the field."""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import msgpack
import pytest

from messages import (
    ActorCrashed,
    AskTimeout,
    Envelope,
    HandlerError,
    InvalidBody,
    MalformedMessage,
    MessageTooLarge,
    ProtocolError,
    RemoteError,
    RemoteProtocolError,
    UnknownMessageType,
    decode,
    encode,
    error_from_wire,
    from_wire,
    message,
    message_class,
    to_wire,
    type_tag,
)


@message("test.inner")
class Inner:
    """A nested message."""

    x: float


@message("test.outer")
class Outer:
    """A message with every supported kind of field."""

    name: str
    count: int
    ratio: float
    flag: bool
    raw: bytes
    items: list[int]
    table: dict[str, str]
    inner: Inner
    maybe: int | None = None
    mode: Literal["a", "b"] = "a"
    anything: Any = None


GOOD = {"name": "n", "count": 2, "ratio": 1, "flag": True, "raw": b"\x00", "items": [1, 2],
        "table": {"k": "v"}, "inner": {"x": 0.5}}


def test_round_trip_through_codec():
    """A message goes to the wire and back unchanged."""
    obj = from_wire(Outer, GOOD)
    env = Envelope("ask", 7, "someone", type_tag(obj), to_wire(obj), 123.5)
    back = decode(encode(env))
    assert back == env
    assert from_wire(message_class(back.type), back.body) == obj
    assert obj.ratio == 1.0 and isinstance(obj.ratio, float)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("count", "2", "Outer.count: expected an integer, got str"),
    ("count", True, "Outer.count: expected an integer, got bool"),
    ("ratio", math.nan, "NaN"),
    ("flag", 1, "Outer.flag: expected a boolean"),
    ("items", [1, "2"], "Outer.items[1]: expected an integer"),
    ("table", {"k": 1}, "Outer.table.k: expected a string"),
    ("inner", {"x": "no"}, "Outer.inner.x: expected a number"),
    ("inner", {}, "Outer.inner.x: required field is missing"),
    ("mode", "c", "Outer.mode: expected one of"),
    ("maybe", "x", "Outer.maybe"),
])
def test_validation_names_field_expected_and_received(field, value, needle):
    """A wrongly typed field is refused with its path, the expected type and what came."""
    with pytest.raises(InvalidBody) as info:
        from_wire(Outer, {**GOOD, field: value})
    assert needle in str(info.value)


def test_missing_and_unexpected_fields_named():
    """Missing required fields and unknown fields are both named."""
    body = dict(GOOD)
    del body["name"]
    with pytest.raises(InvalidBody, match=r"Outer\.name: required field is missing"):
        from_wire(Outer, body)
    with pytest.raises(InvalidBody, match=r"unexpected field.*zzz"):
        from_wire(Outer, {**GOOD, "zzz": 1})


def test_protocol_errors_are_value_errors():
    """Protocol errors subclass ValueError; remote timeouts subclass TimeoutError."""
    assert issubclass(ProtocolError, ValueError)
    assert issubclass(InvalidBody, ProtocolError)
    assert issubclass(AskTimeout, TimeoutError)
    assert issubclass(ActorCrashed, ConnectionError)


@pytest.mark.parametrize(("data", "error"), [
    (b"\xc1", MalformedMessage),
    (msgpack.packb("text"), MalformedMessage),
    (msgpack.packb({"v": 1, "kind": "ask", "id": 1.5, "to": "a", "type": "t"}), MalformedMessage),
    (msgpack.packb({"v": 1, "kind": "ask", "id": 1, "to": "a", "type": "t", "deadline": "soon"}),
     MalformedMessage),
    (b"\x00" * 2048, MessageTooLarge),
])
def test_decode_refuses_bad_bytes(data, error):
    """Bytes that are not a valid envelope raise the matching ProtocolError."""
    with pytest.raises(error):
        decode(data, max_bytes=1024)


def test_unknown_tag():
    """An unknown tag raises UnknownMessageType naming it."""
    with pytest.raises(UnknownMessageType, match=r"no\.such"):
        message_class("no.such")


def test_tag_cannot_be_reused_by_another_class():
    """Two different classes cannot share a tag."""
    with pytest.raises(ValueError, match="already used"):
        @message("test.outer")
        class Other:
            """Clash."""


def test_message_classes_are_frozen_attrs():
    """@message makes a frozen attrs class."""
    obj = Inner(1.0)
    assert attrs.has(Inner)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        obj.x = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(("code", "cls"), [
    ("handler_error", HandlerError), ("crashed", ActorCrashed), ("timeout", AskTimeout),
    ("invalid_body", RemoteProtocolError), ("mystery", RemoteError),
])
def test_error_codes_map_to_classes(code, cls):
    """Error replies become the exception class of their code, keeping the details."""
    exc = error_from_wire({"code": code, "message": "m", "actor": "a"})
    assert type(exc) is cls
    assert exc.details["actor"] == "a" and str(exc) == "m"


def test_replies_and_events_are_read_tolerantly_requests_strictly():
    """A tolerant reader: a reply from a newer node with a field this client does not know
    (at any depth) still builds the class; the same body as a request is refused."""
    from actors._wire import reply_value
    from messages import ActorStatus, Envelope, InvalidBody, StatusReply, from_wire

    row = {"name": "echo", "state": "running", "pid": 7, "incarnation": 1, "uptime": 1.0,
           "handled": 0, "errors": 0, "bad_input": 0, "restarts": 0, "endpoint": "tcp://x:1",
           "supervisor": "root", "added_later": [1, 2]}
    body = {"actors": [row], "node_bad_input": 0, "also_new": {"x": 1}}
    with pytest.raises(InvalidBody, match="also_new"):
        from_wire(StatusReply, body)
    reply = reply_value(Envelope("reply", 1, "node", "node.status_reply", body))
    assert isinstance(reply, StatusReply) and isinstance(reply.actors[0], ActorStatus)
    assert reply.actors[0].pid == 7
    with pytest.raises(InvalidBody, match=r"pid"):  # known fields are still checked
        from_wire(StatusReply, {**body, "actors": [{**row, "pid": "seven"}]}, tolerant=True)
