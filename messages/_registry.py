"""Message classes: attrs classes registered under a type tag, checked field by field."""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Callable
from itertools import islice
from typing import Any, TypeVar

import attrs

from ._errors import InvalidBody, UnknownMessageType
from ._summary import SUMMARY_LIMIT, exception_summary, exception_text, summary

T = TypeVar("T")

_BY_TAG: dict[str, type[Any]] = {}
_TAG_ATTR = "__message_type__"


@typing.dataclass_transform(frozen_default=True, field_specifiers=(attrs.field, attrs.Factory))
def message(tag: str) -> Callable[[type[T]], type[T]]:
    """Make ``cls`` a frozen attrs message class and register it under ``tag``.

    Tags are dotted lower-case names (``echo.ping``); a tag names one class per process.
    """
    if not tag or tag != tag.strip() or " " in tag:
        raise ValueError(f"message tag must be a non-empty dotted name, got {tag!r}")

    def register(cls: type[T]) -> type[T]:
        frozen = typing.cast(type[T], cls if attrs.has(cls) else attrs.frozen(cls))
        existing = _BY_TAG.get(tag)
        if existing is not None and existing.__qualname__ != frozen.__qualname__:
            raise ValueError(f"message tag {tag!r} is already used by {existing.__qualname__}")
        setattr(frozen, _TAG_ATTR, tag)
        _BY_TAG[tag] = frozen
        return frozen

    return register


def type_tag(obj_or_cls: Any) -> str:
    """The registered type tag of a message instance or class."""
    tag = getattr(obj_or_cls, _TAG_ATTR, None)
    if not isinstance(tag, str):
        raise TypeError(f"{obj_or_cls!r} is not a registered message (use @message('tag'))")
    return tag


def message_class(tag: str) -> type[Any]:
    """The class registered under ``tag``; :class:`UnknownMessageType` if there is none."""
    try:
        return _BY_TAG[tag]
    except KeyError:
        raise UnknownMessageType(f"unknown message type {tag!r}") from None


def registered_tags() -> list[str]:
    """Every type tag registered in this process, sorted (what the process can decode)."""
    return sorted(_BY_TAG)


def is_registered(tag: str) -> bool:
    """Whether a message class is registered under ``tag`` in this process."""
    return tag in _BY_TAG


_PLAIN = frozenset({int, float, str, bool, bytes, type(None)})


def to_wire(value: Any) -> Any:
    """Turn a message (or any value inside one) into plain msgpack-able data."""
    kind: Any = type(value)
    if kind in _PLAIN:
        return value
    dump = _DUMPERS.get(kind)
    if dump is not None:
        made = dump(value)
        if made is not _MISS:
            return made
    if _is_message_like(kind):
        if dump is None:
            _DUMPERS[kind] = _dumper(kind)
        wire = {}
        for name in _names(kind):
            item = getattr(value, name)
            wire[name] = item if type(item) in _PLAIN else to_wire(item)  # no call for plain ones
        return wire
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(cls: type[T], body: Any, *, tolerant: bool = False) -> T:
    """Build ``cls`` from a decoded body, checking every field against its annotation.

    Total: any failure, a validator's included, is an :class:`InvalidBody` that names the
    field and quotes what came through :func:`summary` (bounded, never recursive).

    ``tolerant`` drops fields the class does not know (at every level) instead of refusing
    them: a tolerant reader, for replies and events, so a node that adds a field to an
    answer does not break older clients. Requests are read strictly.
    """
    fast = _FAST_BUILDERS.get(cls)
    if fast is None:
        fast = _FAST_BUILDERS[cls] = _fast_builder(cls)
    made = fast(body)
    if made is not _MISS:
        return typing.cast(T, made)
    try:
        return typing.cast(T, _build(cls, body, cls.__name__, tolerant))
    except InvalidBody:
        raise
    except Exception as exc:  # e.g. RecursionError from a user validator: still bad input
        raise InvalidBody(f"{cls.__name__}: {exception_summary(exc)}") from None


_MISS: Any = object()
_FAST_BUILDERS: dict[type[Any], Callable[[Any], Any]] = {}


def _fast_builder(cls: type[Any]) -> Callable[[Any], Any]:
    """A function that builds ``cls`` from a body holding exactly its fields, each of an
    exact plain type the field takes (what a peer running this code sends), else returns
    _MISS so that :func:`_build` checks it and names the fault. Generated per class, as
    attrs generates ``__init__``: it runs for every message in and out of every process."""
    try:
        schema, _ = _schema(typing.cast(typing.Hashable, cls))
    except Exception:  # not an attrs class: _build says so
        return lambda body: _MISS
    arrays = {i: _array_check(hint) for i, (_, hint, fast, _) in enumerate(schema) if not fast}
    if not schema or None in arrays.values():
        return lambda body: _MISS  # a field that always needs converting (or none at all)
    names = [name for name, _, _, _ in schema]
    checks = " and ".join(f"a{i}(v{i})" if i in arrays else f"type(v{i}) in t{i} and v{i} == v{i}"
                          for i, (_, _, fast, _) in enumerate(schema) if fast is not _ANY)
    defaults = [f"t{i}=t{i}" for i in range(len(names))] + [f"a{i}=a{i}" for i in arrays]
    lines = [f"def build(body, cls=cls, _MISS=_MISS, {', '.join(defaults)}):",
             f"    if type(body) is not dict or len(body) != {len(names)}:",
             "        return _MISS",
             "    try:",
             *(f"        v{i} = body[{name!r}]" for i, name in enumerate(names)),
             "    except KeyError:",
             "        return _MISS",
             f"    if not ({checks or 'True'}):",
             "        return _MISS",
             "    try:",
             f"        return cls({', '.join(f'{name}=v{i}' for i, name in enumerate(names))})",
             "    except Exception:  # a validator refused: _build names it",
             "        return _MISS"]
    scope: dict[str, Any] = {"cls": cls, "_MISS": _MISS,
                             **{f"t{i}": fast for i, (_, _, fast, _) in enumerate(schema)},
                             **{f"a{i}": check for i, check in arrays.items()}}
    exec("\n".join(lines), scope)  # the source is made here, from the class's field names
    return typing.cast(Callable[[Any], Any], scope["build"])


_DUMPERS: dict[type[Any], Callable[[Any], Any]] = {}


def _dumper(cls: type[Any]) -> Callable[[Any], Any]:
    """A function that turns a ``cls`` message whose fields all hold plain values into its
    map at once, else returns _MISS (and :func:`to_wire` walks it): generated per class,
    as :func:`_fast_builder` is."""
    names = _names(typing.cast(typing.Hashable, cls))
    plain = (f"(type(v{i}) in _PLAIN or (type(v{i}) in _ARRAYS and _plain_array(v{i})))"
             for i in range(len(names)))
    lines = ["def dump(value, _PLAIN=_PLAIN, _ARRAYS=_ARRAYS, _plain_array=_plain_array, "
             "_MISS=_MISS):",
             *(f"    v{i} = value.{name}" for i, name in enumerate(names)),
             f"    if {' and '.join(plain) or 'True'}:",
             f"        return {{{', '.join(f'{name!r}: v{i}' for i, name in enumerate(names))}}}",
             "    return _MISS"]
    scope: dict[str, Any] = {"_PLAIN": _PLAIN, "_ARRAYS": _ARRAYS, "_plain_array": _plain_array,
                             "_MISS": _MISS}
    exec("\n".join(lines), scope)  # the source is made here, from the class's field names
    return typing.cast(Callable[[Any], Any], scope["dump"])


_ARRAYS = frozenset({list, tuple})


def _plain_array(value: Any) -> bool:
    """Whether a list holds only plain values, or lists of plain values (a table's rows):
    msgpack writes it as it is, the same bytes :func:`to_wire`'s walk would give."""
    for item in value:
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind not in _ARRAYS:
            return False
        for inner in item:
            if type(inner) not in _PLAIN:
                return False
    return True


def _build(cls: type[Any], body: Any, path: str, tolerant: bool = False) -> Any:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidBody(f"{path}: expected a map of fields, got {type(body).__name__}")
    schema, names = _schema(typing.cast(typing.Hashable, cls))
    if not names.issuperset(body) and not tolerant:
        unexpected = [k for k in body if k not in names]
        shown = ", ".join(sorted(_key(k) for k in islice(unexpected, 5)))
        more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
        raise InvalidBody(
            f"{path}: unexpected field(s) {shown}{more}; "
            f"expected only {', '.join(sorted(names)) or 'no fields'}"
        )
    kwargs: dict[str, Any] = {}
    for name, hint, fast, required in schema:
        if name not in body:
            if required:
                raise InvalidBody(f"{path}.{name}: required field is missing")
            continue
        value = body[name]
        # fast path: an exact plain type the field takes (NaN fails `value == value`)
        if fast is _ANY or (type(value) in fast and value == value):  # noqa: PLR0124
            kwargs[name] = value
        else:
            kwargs[name] = _convert(value, hint, f"{path}.{name}", tolerant)
    try:
        return cls(**kwargs)
    except Exception as exc:  # attrs validators and __attrs_post_init__ may raise anything
        raise InvalidBody(f"{path}: {exception_text(exc)}") from None


_ANY = object()
_FAST = frozenset({int, float, str, bool, bytes})


def _fast_types(hint: Any) -> Any:
    """Types a field takes as they come, with no conversion: _ANY, or a frozenset of exact
    types (``float | None`` → float and NoneType; an int for it takes the slow path)."""
    if hint is Any or hint is object:
        return _ANY
    if hint in _FAST:
        return frozenset({hint})
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        return frozenset(o for o in options if o in _FAST or o is type(None))
    return frozenset()


def _array_check(hint: Any) -> Callable[[Any], bool] | None:
    """For a ``list[X]`` field whose items need no conversion (X plain, ``Any``, or a list of
    those), a check that a value is such a list as it came; None for any other field."""
    if typing.get_origin(hint) is not list:
        return None
    args = typing.get_args(hint)
    item = args[0] if args else Any
    fast = _fast_types(item)
    if fast is _ANY:
        return lambda value: type(value) is list
    if fast:
        return lambda value: type(value) is list and \
            all(type(x) in fast and x == x for x in value)  # noqa: PLR0124 (NaN: slow path)
    inner = _array_check(item)
    if inner is None:
        return None
    return lambda value: type(value) is list and all(inner(x) for x in value)


@functools.cache
def _schema(cls: Any) -> tuple[tuple[tuple[str, Any, Any, bool], ...], frozenset[str]]:
    """Per field: (name, annotation, exact types for the fast path, required)."""
    hints = typing.get_type_hints(cls)
    schema = []
    for f in attrs.fields(cls):
        hint = hints.get(f.name, Any)
        schema.append((f.name, hint, _fast_types(hint), f.default is attrs.NOTHING))
    return tuple(schema), frozenset(f.name for f in attrs.fields(cls))


@functools.cache
def _is_message_like(cls: Any) -> bool:
    return attrs.has(cls)


@functools.cache
def _names(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls))


def _convert(value: Any, hint: Any, path: str, tolerant: bool = False) -> Any:
    if hint is Any or hint is object:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, path, tolerant)
            except InvalidBody as exc:
                errors.append(str(exc))
        raise InvalidBody(errors[0] if len(errors) == 1 else f"{path}: no type fits {summary(value)}")
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise InvalidBody(f"{path}: expected one of {typing.get_args(hint)}, got {summary(value)}")
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _wrong(path, "a list", value)
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [_convert(v, item, f"{path}[{i}]", tolerant) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or hint is tuple else items
    if origin in (dict, typing.Mapping) or hint is dict:
        if not isinstance(value, dict):
            raise _wrong(path, "a map", value)
        args = typing.get_args(hint)
        vtype = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, vtype, f"{path}.{_key(k)}", tolerant) for k, v in value.items()}
    if attrs.has(hint):
        return _build(hint, value, path, tolerant)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _wrong(path, "a boolean", value)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong(path, "an integer", value)
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isnan(value):
                raise InvalidBody(f"{path}: expected a number, got NaN")
            return float(value)
        raise _wrong(path, "a number", value)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _wrong(path, "a string", value)
    if hint is bytes:
        if isinstance(value, bytes):
            return value
        raise _wrong(path, "bytes", value)
    if hint is type(None):
        if value is None:
            return None
        raise _wrong(path, "nil", value)
    return value


def _wrong(path: str, expected: str, value: Any) -> InvalidBody:
    return InvalidBody(f"{path}: expected {expected}, got {type(value).__name__} {summary(value)}")


def _key(key: Any) -> str:
    """A map key as a field path shows it: a short string as is, anything else quoted."""
    if type(key) is str and len(key) <= SUMMARY_LIMIT and key.isprintable():
        return key
    return summary(key)
