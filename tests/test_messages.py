"""The codec and message classes: round trips, validation that names the field."""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@message("test.table")
class Table:
    """List fields the generated builder and dumper take as they come (a query's result)."""

    columns: list[str]
    rows: list[list[Any]]
    counts: list[int]
    ratios: list[float]
    n: int


_ints = st.integers(-2**63, 2**64 - 1)  # what msgpack carries
_cells = st.one_of(st.none(), st.booleans(), _ints, st.floats(), st.text(max_size=3),
                   st.binary(max_size=3))
_lists = st.lists(st.one_of(_cells, st.lists(_cells, max_size=3)), max_size=4)


_items = {"columns": st.text(max_size=3), "rows": st.lists(_cells, max_size=3),
          "counts": _ints, "ratios": st.floats(allow_nan=False)}
_valid = {**{name: st.lists(item, max_size=3) for name, item in _items.items()}, "n": _ints}


@st.composite
def _table_bodies(draw: Any) -> dict[str, Any]:
    """A valid body with, mostly, one field replaced by anything a list field may hold."""
    body = {name: draw(strategy) for name, strategy in _valid.items()}
    wrong = draw(st.sampled_from([None, *_valid]))
    if wrong == "n":
        body["n"] = draw(_cells)
    elif wrong is not None:  # the field's own kind of items, and now and then another
        good = _items[wrong]
        body[wrong] = draw(st.lists(st.one_of(good, good, _cells, st.lists(_cells, max_size=2)),
                                    min_size=1, max_size=4))
    return body


@given(body=_table_bodies())
@settings(deadline=None, max_examples=400)
def test_list_fields_fast_path_agrees_with_the_checked_path(body: dict[str, Any]) -> None:
    """Whatever the body, from_wire's generated builder gives what the field-by-field
    checked path gives (the same object, or the same InvalidBody naming the field), and
    to_wire's generated dumper the same map as the walk."""
    from messages._registry import _build

    def outcome(build: Any) -> Any:
        try:
            return build()
        except InvalidBody as exc:
            return ("refused", str(exc))

    fast = outcome(lambda: from_wire(Table, body))
    checked = outcome(lambda: _build(Table, body, "Table"))
    if isinstance(checked, Table):  # NaN != NaN: compare the encoded bodies
        assert isinstance(fast, Table)
        walked = {k: [list(v) if isinstance(v, list) else v for v in getattr(checked, k)]
                  for k in ("columns", "rows", "counts", "ratios")} | {"n": checked.n}
        assert msgpack.packb(to_wire(fast)) == msgpack.packb(walked)
        assert msgpack.packb(to_wire(fast)) == msgpack.packb(to_wire(checked))
    else:
        assert fast == checked


def test_list_fields_are_still_checked():
    """A wrong item in a list field is refused by name, a NaN ratio too, an int ratio is
    converted as before."""
    good = {"columns": ["a"], "rows": [[1, "x", None]], "counts": [1], "ratios": [0.5], "n": 1}
    assert from_wire(Table, good) == Table(["a"], [[1, "x", None]], [1], [0.5], 1)
    with pytest.raises(InvalidBody, match=r"Table\.columns\[0\]: expected a string"):
        from_wire(Table, {**good, "columns": [1]})
    with pytest.raises(InvalidBody, match=r"Table\.counts\[0\]: expected an integer"):
        from_wire(Table, {**good, "counts": [True]})
    with pytest.raises(InvalidBody, match=r"Table\.ratios\[0\]: expected a number, got NaN"):
        from_wire(Table, {**good, "ratios": [math.nan]})
    with pytest.raises(InvalidBody, match=r"Table\.rows\[0\]: expected a list"):
        from_wire(Table, {**good, "rows": [5]})
    converted = from_wire(Table, {**good, "ratios": [1]})
    assert converted.ratios == [1.0] and type(converted.ratios[0]) is float
