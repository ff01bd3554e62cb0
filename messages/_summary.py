"""How an error message quotes a value that came from outside: short, and never recursive.

A value decoded from the wire can be a string of a megabyte or a list nested a hundred
deep; ``repr`` of it would make an error reply as large as the input, or raise
``RecursionError``. :func:`summary` walks the value with an explicit stack and stops
once it has written ``limit`` characters, so its cost is bounded by the limit, not by
the value.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Final

SUMMARY_LIMIT: Final = 60
"""Characters of a quoted value in an error message (longer ones end in ``...``)."""
_BIG_INT_BITS: Final = 256
"""Integers wider than this are shown by their size (``repr`` of a huge int is slow)."""


class _Punct(str):
    """Text of the summary itself (brackets, separators), not a value to quote."""

    __slots__ = ()


def summary(value: Any, limit: int = SUMMARY_LIMIT) -> str:
    """A ``repr``-like text of ``value`` of at most ``limit`` characters.

    Lists, tuples and maps are opened level by level from an explicit stack; strings and
    bytes are cut before they are quoted; other objects show only their type name.
    """
    out: list[str] = []
    written = 0
    stack: list[Any] = [value]
    while stack and written <= limit:
        item = stack.pop()
        piece = item if type(item) is _Punct else _open(item, stack, limit)
        out.append(piece)
        written += len(piece)
    text = "".join(out)
    if stack or len(text) > limit:
        return text[:max(0, limit - 3)] + "..."
    return text


def _open(item: Any, stack: list[Any], limit: int) -> str:
    """The text of a scalar, or the opening bracket of a container whose parts are pushed."""
    kind = type(item)
    if kind is str or kind is bytes:
        return repr(item[:limit + 1])
    if kind is int:
        return repr(item) if item.bit_length() <= _BIG_INT_BITS else f"<int of {item.bit_length()} bits>"
    if item is None or kind is bool or kind is float:
        return repr(item)
    if kind is list or kind is tuple:
        _push(stack, list(islice(item, limit)), len(item) > limit, _Punct("]" if kind is list else ")"))
        return "[" if kind is list else "("
    if kind is dict:
        pairs = []
        for key, val in islice(item.items(), limit):
            pairs += [key, _Punct(": "), val]
        _push(stack, pairs, len(item) > limit, _Punct("}"), step=3)
        return "{"
    return f"<{kind.__name__}>"


def _push(stack: list[Any], parts: list[Any], cut: bool, close: _Punct, step: int = 1) -> None:
    """Push ``parts`` so they pop in order, ``, `` between every ``step`` of them."""
    stack.append(close)
    if cut:
        stack += [_Punct("..."), _Punct(", ")]
    for index in range(len(parts) - 1, -1, -1):
        stack.append(parts[index])
        if index and index % step == 0:
            stack.append(_Punct(", "))


EXCEPTION_LIMIT: Final = 1000
"""Characters of an exception's own text kept in an error message or reply."""


def exception_summary(exc: BaseException) -> str:
    """``"TypeName: text"`` of an exception, its text as :func:`exception_text` gives it."""
    return f"{type(exc).__name__}: {exception_text(exc)}"


def exception_text(exc: BaseException) -> str:
    """An exception's text cut at EXCEPTION_LIMIT characters (an exception may quote its
    input, which can be as large as a message)."""
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not turn one error into another
        text = "<unprintable>"
    if len(text) > EXCEPTION_LIMIT:
        text = text[:EXCEPTION_LIMIT - 3] + "..."
    return text
