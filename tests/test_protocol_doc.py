"""PROTOCOL.md stays true: its message tables are the registered classes, field by field."""

from tests.protocol_tables import BEGIN, current, render


def test_message_tables_match_the_registered_classes():
    """The generated block equals what the built-in classes give now (regenerate it if not:
    a new message, field, type or default changes the table)."""
    block = current()
    assert block.startswith(BEGIN), "PROTOCOL.md lost its generated message tables block"
    assert block == render(), ("PROTOCOL.md's message tables are stale: run "
                               "`.venv/bin/python -m tests.protocol_tables` and commit the result")
