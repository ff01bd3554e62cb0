"""PROTOCOL.md's message tables, generated from the registered message classes.

``python -m tests.protocol_tables`` rewrites the block between the markers in PROTOCOL.md;
``tests/test_protocol_doc.py`` fails when the document and the classes disagree.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import attrs

import actors
import messages
import supervisor
from messages import is_registered, message_class, registered_tags, to_wire, type_tag

PROTOCOL = Path(__file__).resolve().parent.parent / "PROTOCOL.md"
BEGIN = "<!-- BEGIN GENERATED message tables: python -m tests.protocol_tables -->"
END = "<!-- END GENERATED message tables -->"
BUILT_IN = (actors, messages, supervisor)
"""Packages whose message classes are built in: every module below them is imported, so
that a new family of messages gets its table without a change here."""
NOT_FOR_AGENTS = ("host.",)
"""The node's own control channel."""
GROUPS: dict[str, str] = {
    "actor.": "Every actor and the front door",
    "node.": "Front door (`to: \"node\"`)",
    "lifecycle.": "Lifecycle events (`lifecycle.`, published by the node)",
    "echo.": "Example actors (`actors.examples`: echo, relay, chaos)",
    "relay.": "Example actors (`actors.examples`: echo, relay, chaos)",
    "chaos.": "Example actors (`actors.examples`: echo, relay, chaos)",
    "pool.": "Connection pool (`pool.`)",
    "health.": "Health monitor (`health.`)",
    "breaker.": "Circuit breaker (`breaker.`)",
    "profiler.": "Profiler (`profiler.`)",
    "recovery.": "Recovery rules (`recovery.`)",
    "bridge.": "Broker bridges (`bridge.`: mqtt, amqp, nats)",
    "coap.": "CoAP (`coap.`)",
    "http.": "HTTP services (`http.`)",
    "openai.": "OpenAI-compatible models (`openai.`)",
    "aws.": "AWS (`aws.`, `s3.`, `sqs.`)",
    "s3.": "AWS (`aws.`, `s3.`, `sqs.`)",
    "sqs.": "AWS (`aws.`, `s3.`, `sqs.`)",
}
"""Table titles, in this order; a family not listed gets a table titled by its prefix."""


def built_in_tags() -> list[str]:
    """Every tag registered by the built-in packages (imported here), host.* left out."""
    for package in BUILT_IN:
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    return [tag for tag in registered_tags()
            if message_class(tag).__module__.split(".")[0] in {p.__name__ for p in BUILT_IN}
            and not tag.startswith(NOT_FOR_AGENTS)]


def groups() -> dict[str, list[str]]:
    """Tags by table title: the first ones in GROUPS order, then by prefix."""
    out: dict[str, list[str]] = {title: [] for title in GROUPS.values()}
    for tag in built_in_tags():
        prefix = tag.split(".")[0] + "."
        out.setdefault(GROUPS.get(prefix, f"`{prefix}`"), []).append(tag)
    return {title: tags for title, tags in out.items() if tags}


def wire_type(hint: Any, nested: list[type[Any]] | None = None) -> str:
    """How a field's annotation reads on the wire (msgpack type names). Attrs classes
    that are not messages are maps whose fields get rows of their own: they are appended
    to ``nested``."""
    if hint is Any or hint is object:
        return "any"
    named = {int: "int", float: "float", str: "str", bool: "bool", bytes: "bin", type(None): "nil"}
    if hint in named:
        return named[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(wire_type(a, nested) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (list, tuple) or hint in (list, tuple):
        return f"[{wire_type(args[0], nested) if args else 'any'}]"
    if origin is dict or hint is dict:
        return f"map[{wire_type(args[0], nested)}, {wire_type(args[1], nested)}]" \
            if len(args) == 2 else "map"
    if attrs.has(hint):
        if is_registered(getattr(hint, "__message_type__", "")):
            return f"`{type_tag(hint)}`"
        if nested is not None and hint not in nested:
            nested.append(hint)
        return f"map `{hint.__name__}`"
    return getattr(hint, "__name__", str(hint))


def default_text(field: attrs.Attribute[Any]) -> str:
    """``required``, or the default as msgpack data written in JSON."""
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()  # type: ignore[call-arg]
    return "`" + json.dumps(to_wire(default)).replace("null", "nil") + "`"


def class_rows(label: str, cls: type[Any], nested: list[type[Any]]) -> list[str]:
    """Table rows of one class: one per field (one row saying so when it has none)."""
    hints = typing.get_type_hints(cls)
    fields = attrs.fields(cls)
    if not fields:
        return [f"| {label} | — | | |"]
    return [f"| {label if i == 0 else ''} | `{f.name}` | {wire_type(hints.get(f.name, Any), nested)} "
            f"| {default_text(f)} |" for i, f in enumerate(fields)]


def render() -> str:
    """Every group's table, in tag order within a group; maps that are not messages
    (e.g. a pool transaction's statements) follow their group's messages."""
    out = [BEGIN, ""]
    for title, tags in groups().items():
        out += [f"#### {title}", "", "| type | field | type | default |", "|---|---|---|---|"]
        nested: list[type[Any]] = []
        for tag in tags:
            out += class_rows(f"`{tag}`", message_class(tag), nested)
        for cls in nested:  # grows while it is read: maps inside maps
            out += class_rows(f"map `{cls.__name__}`", cls, nested)
        out.append("")
    out.append(END)
    return "\n".join(out)


def current() -> str:
    """The generated block as PROTOCOL.md has it now ("" if the markers are missing)."""
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), PROTOCOL.read_text(), re.S)
    return match.group(0) if match else ""


def write() -> None:
    """Replace the generated block of PROTOCOL.md with :func:`render`'s."""
    text = PROTOCOL.read_text()
    block = current()
    if not block:
        sys.exit(f"PROTOCOL.md has no {BEGIN!r} ... {END!r} block to fill")
    PROTOCOL.write_text(text.replace(block, render()))


if __name__ == "__main__":
    write()
