"""run_node.py breakers: the table of breakers from the default node's breaker actor."""


def test_breakers_table_from_the_shell(start_node):
    """A failure recorded by an agent shows up in `run_node.py breakers`."""
    node = start_node(None)
    recorded = node.cli("send", "breaker", "breaker.record",
                        '{"resource": "pg", "ok": false, "seconds": 0.1, "error_class": "timeout"}')
    assert recorded.returncode == 0, recorded.stderr
    table = node.cli("breakers")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("pg "))
    assert "closed" in row and "timeout x1" in row
    missing = node.cli("breakers", "--actor", "nobody")
    assert missing.returncode != 0 and "nobody" in missing.stderr
