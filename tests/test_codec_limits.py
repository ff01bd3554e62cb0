"""The codec and validator are total and bounded: whatever comes, a ProtocolError subclass
with a short message, never another exception (unit level; see test_fuzz for sockets)."""

from __future__ import annotations

import math
import sys
from typing import Any

import attrs
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# every built-in message class registered, for the property over all of them
import actors.breaker
import actors.examples
import actors.health
import actors.pool
import actors.profiler
from actors import read_event
from messages import (
    MAX_NAME_LENGTH,
    MAX_NESTING,
    InvalidBody,
    MalformedMessage,
    ProtocolError,
    RemoteError,
    decode,
    error_from_wire,
    from_wire,
    message,
    message_class,
    registered_tags,
    summary,
)
from tests.wire_strategies import deep_frames, msgpack_values, nested

GOOD = {"v": 1, "kind": "ask", "id": 1, "to": "echo", "type": "echo.ping", "body": {"n": 1}}


def refused(raw: dict[str, Any]) -> MalformedMessage:
    """The MalformedMessage decoding ``raw`` raises (fails the test if it decodes)."""
    with pytest.raises(MalformedMessage) as caught:
        decode(msgpack.packb(raw))
    return caught.value


@pytest.mark.parametrize(("key", "value"), [
    ("kind", ["ask"]), ("kind", {"ask": 1}), ("v", True), ("v", 1.0), ("v", [1]),
    ("id", True), ("id", 1.5), ("id", [1]), ("id", "x" * (MAX_NAME_LENGTH + 1)),
    ("to", ["echo"]), ("to", "x" * (MAX_NAME_LENGTH + 1)), ("type", ""), ("type", {"a": 1}),
    ("deadline", True), ("deadline", math.nan), ("deadline", "soon"), ("incarnation", True),
    ("incarnation", 1.0),
])
def test_envelope_fields_of_the_wrong_type_are_malformed(key: str, value: Any):
    """Unhashable, boolean, float-for-int, NaN and over-long envelope fields are refused."""
    exc = refused({**GOOD, key: value})
    assert key in str(exc) or "version" in str(exc)
    assert len(str(exc)) < 200


def test_nesting_limit_counts_the_envelope_as_one_level():
    """MAX_NESTING levels pass (envelope, body, then lists); one more is malformed."""
    body_depth = MAX_NESTING - 2  # the envelope map and the body map are two levels
    decode(msgpack.packb({**GOOD, "body": {"n": nested(body_depth)}}))
    exc = refused({**GOOD, "body": {"n": nested(body_depth + 1)}})
    assert f"more than {MAX_NESTING} deep" in str(exc)
    refused({**GOOD, "id": nested(1000, kind="map")})


def test_ext_types_and_lying_length_headers_are_malformed():
    """msgpack ext types (timestamps included) are not part of the protocol; a header that
    claims more elements than the frame holds is refused before anything is allocated."""
    for ext in (msgpack.ExtType(5, b"x"), msgpack.Timestamp(1, 0)):
        with pytest.raises(MalformedMessage):
            decode(msgpack.packb({**GOOD, "body": {"n": ext}}))
    with pytest.raises(MalformedMessage):
        decode(b"\x81\xa4body\xdd\xff\xff\xff\xff")  # an array of 2**32 - 1 elements, 11 bytes


def test_unknown_keys_are_named_briefly():
    """Many unknown keys, of any type, give a short message naming a few of them."""
    raw = {**GOOD, **{f"k{i}": i for i in range(1000)}, 7: 1, None: 2}
    exc = refused(raw)
    assert "unknown key(s)" in str(exc) and "more" in str(exc)
    assert len(str(exc)) < 400


def test_summary_is_bounded_and_never_recursive():
    """Deep, long, huge and odd values quote in at most the limit, without RecursionError."""
    deep = nested(sys.getrecursionlimit() * 10)
    assert summary(deep) == "[" * 57 + "..."
    assert len(summary("x" * 10**6)) == 60
    assert summary(10**5000) == "<int of 16610 bits>"
    assert summary({"a": [1, b"\x00"], 2: None}) == "{'a': [1, b'\\x00'], 2: None}"
    assert summary(object()) == "<object>"
    assert summary(list(range(100)), 20) == "[0, 1, 2, 3, 4, 5..."


@message("test.validated")
class Validated:
    """A message whose validator raises something other than TypeError or ValueError."""

    key: str = attrs.field(validator=lambda _i, _a, v: {}[v])


def test_a_validator_raising_anything_is_invalid_body():
    """from_wire is total: a KeyError in a validator is InvalidBody naming the class."""
    with pytest.raises(InvalidBody, match="Validated"):
        from_wire(Validated, {"key": "missing"})


def test_wrong_field_quotes_deep_values_briefly():
    """The error for a wrongly typed field quotes a deep value in a few dozen characters."""
    with pytest.raises(InvalidBody) as caught:
        from_wire(actors.examples.Ping, {"n": nested(MAX_NESTING - 3)})
    assert str(caught.value).startswith("Ping.n: expected an integer, got list [[[")
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize("body", [
    [1], None, {"code": ["x"], "message": nested(90)}, {"code": 5}, {"message": {"a": 1}},
])
def test_error_from_wire_is_total(body: Any):
    """Any error body, however wrong, becomes a RemoteError with a short message."""
    exc = error_from_wire(body)
    assert isinstance(exc, RemoteError)
    assert len(str(exc)) < 200


@pytest.mark.parametrize("body", [
    {"name": "a", "incarnation": math.inf, "event": "exited"}, {"name": ["a"]}, [1], None,
    {"name": "a", "incarnation": True, "event": "exited"},
])
def test_bad_lifecycle_events_are_refused(body: Any):
    """A lifecycle event with fields of the wrong type is a ProtocolError for the event
    reader (which counts it in ``refused`` and reads on), never another error."""
    frame = msgpack.packb({"v": 1, "kind": "event", "id": 0, "to": "a",
                           "type": "lifecycle.exited", "body": body})
    with pytest.raises(ProtocolError):
        read_event([b"lifecycle.exited", frame])


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300) | msgpack_values().map(msgpack.packb)
       | deep_frames(GOOD))
def test_decode_of_any_bytes_returns_or_raises_a_protocol_error(data: bytes):
    """Random bytes and random msgpack values: an Envelope or a ProtocolError, nothing else."""
    try:
        decode(data)
    except ProtocolError as exc:
        assert len(str(exc)) < 600


@st.composite
def tagged_bodies(draw: st.DrawFn) -> tuple[type[Any], Any]:
    """A registered message class and a body: its own fields with any values, or anything."""
    cls = message_class(draw(st.sampled_from(registered_tags())))
    fields = {f.name: msgpack_values(8) for f in attrs.fields(cls)}
    body = draw(st.fixed_dictionaries({}, optional=fields) | msgpack_values(8))
    return cls, body


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=tagged_bodies())
def test_from_wire_of_any_body_for_every_registered_class(case: tuple[type[Any], Any]):
    """Every registered message class takes any decoded body to an instance or InvalidBody."""
    cls, body = case
    try:
        from_wire(cls, body)
    except InvalidBody as exc:
        assert len(str(exc)) < 1000
