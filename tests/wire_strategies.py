"""Hypothesis strategies for what a peer can put on the wire: any msgpack value, envelopes
that are nearly right, nesting far past the limit, numbers at the edges of their types."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import strategies as st

EDGE_INTEGERS = (0, 1, -1, 2**31 - 1, 2**31, -(2**31), 2**32, 2**53, 2**53 + 1, 2**63 - 1,
                 -(2**63), 2**64 - 1)
"""Integers where msgpack's encodings and other languages' number types change."""

utf8_chars = st.characters(codec="utf-8")
"""Any code point UTF-8 can carry (no lone surrogates: msgpack's str is UTF-8)."""

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1), st.sampled_from(EDGE_INTEGERS),
    st.floats(),
    st.text(utf8_chars, max_size=40), st.text(st.characters(min_codepoint=0x80, codec="utf-8"), max_size=10),
    st.binary(max_size=40),
)
"""Every msgpack scalar: nil, bool, int64/uint64, float64 with NaN and infinities,
unicode text (any plane), bin."""


def nested(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    """``leaf`` inside ``depth`` lists (or maps), built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


deep_values = st.builds(nested, st.integers(min_value=1, max_value=400), scalars,
                        st.sampled_from(["list", "map"]))
"""Values nested 1 to 400 deep: across MAX_NESTING, within what msgpack's packer can write."""

_MARK = "\x00spliced\x00"


def spliced(envelope: dict[str, Any], field: str, raw: bytes) -> bytes:
    """``envelope`` packed with ``field`` (``body.<name>`` for a body field) replaced by the
    msgpack bytes ``raw``: what a peer can send that msgpack's packer will not write."""
    env = dict(envelope)
    if field.startswith("body."):
        env["body"] = {**(env.get("body") or {}), field[5:]: _MARK}
    else:
        env[field] = _MARK
    return msgpack.packb(env).replace(msgpack.packb(_MARK), raw)


def deep_frame(envelope: dict[str, Any], field: str, depth: int, kind: str = "list") -> bytes:
    """``envelope`` with ``field`` nested ``depth`` deep in arrays or maps, written byte by
    byte (msgpack's unpacker stops at 1,024 levels, a peer does not)."""
    opener = b"\x91" if kind == "list" else b"\x81\xa1k"
    return spliced(envelope, field, opener * depth + b"\x01")


_FIELDS = ["v", "kind", "id", "to", "type", "deadline", "body.n", "body.text"]


def deep_frames(envelope: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """``envelope`` with one of its fields, or a body field, nested up to 1,500 deep."""
    return st.builds(deep_frame, st.just(envelope), st.sampled_from(_FIELDS),
                     st.integers(min_value=1, max_value=1500), st.sampled_from(["list", "map"]))


def broken_string_frames(envelope: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """``envelope`` with a field that is a msgpack str of bytes that are not UTF-8."""
    bad = st.binary(min_size=1, max_size=20).filter(_not_utf8)
    return st.builds(lambda f, b: spliced(envelope, f, bytes([0xA0 | len(b)]) + b),
                     st.sampled_from(_FIELDS), bad)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def msgpack_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any msgpack value: scalars, lists and maps of them (keys of any scalar type), deep ones."""
    keys = st.one_of(st.text(utf8_chars, max_size=12), st.integers(min_value=-(2**63), max_value=2**64 - 1),
                     st.binary(max_size=8), st.none(), st.booleans(), st.floats(allow_nan=False))
    tree = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                        | st.dictionaries(keys, inner, max_size=6), max_leaves=max_leaves)
    return tree | deep_values


def envelope_maps(to: str, types: st.SearchStrategy[str],
                  bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    """Envelope maps whose keys are mostly right, sometimes wrong, with optional keys and an
    unknown one sometimes (missing required keys are left to the unit tests)."""
    def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(good, good, good, good, msgpack_values(6))

    required = {
        "v": field(st.just(1)),
        "kind": field(st.sampled_from(["ask", "tell", "reply", "error", "event"])),
        "id": field(st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(utf8_chars, max_size=300)),
        "to": field(st.just(to)),
        "type": field(types),
    }
    optional = {
        "body": bodies,
        "deadline": st.floats() | st.integers(min_value=-(2**63), max_value=2**64 - 1),
        "incarnation": field(st.integers(min_value=0, max_value=5)),
        "extra": msgpack_values(4),
    }
    return st.fixed_dictionaries(required, optional=optional)
