"""PROTOCOL.md stays true: its message tables are the registered classes, field by field."""

from messages import message_class, registered_tags
from tests.protocol_tables import BEGIN, GROUPS, current, render

NOT_FOR_AGENTS = ("host.",)
"""The node's own control channel."""
PROJECT = ("actors.", "messages.", "supervisor.")
"""Modules whose message classes are built in (tests and examples register their own)."""


def test_message_tables_match_the_registered_classes():
    """The generated block equals what the classes give now (regenerate it if not)."""
    block = current()
    assert block.startswith(BEGIN), "PROTOCOL.md lost its generated message tables block"
    assert block == render(), ("PROTOCOL.md's message tables are stale: run "
                               "`.venv/bin/python -m tests.protocol_tables` and commit the result")


def test_every_built_in_message_family_has_a_table():
    """A new family of built-in messages (a new tag prefix) gets a group in the tables."""
    prefixes = tuple(p for _, group in GROUPS for p in group) + NOT_FOR_AGENTS
    missing = [tag for tag in registered_tags() if not tag.startswith(prefixes)
               and message_class(tag).__module__.startswith(PROJECT)]
    assert not missing, f"add a group to tests/protocol_tables.py GROUPS for {missing}"
