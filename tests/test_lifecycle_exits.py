"""``SystemExit`` (any BaseException) in an actor's ``on_start`` or ``on_stop``.

Found from outside: ``sys.exit(0)`` in ``on_start`` ended the actor's thread without a
word, so the host neither reported a failed start nor exited: the node waited out the
30 s start timeout, and the host then ignored SIGTERM until it was killed. In ``on_stop``
the same left the host's stop waiting forever: every stop of that actor took its whole
``shutdown`` grace and ended in a kill (``shutdown_error``).
"""

from __future__ import annotations

ACTOR = '''
import sys

from actors import Actor


class ExitsInStart(Actor):
    def on_start(self) -> None:
        if self.context.incarnation >= 2:
            sys.exit(0)


class ExitsInStop(Actor):
    def on_stop(self) -> None:
        raise SystemExit(3)
'''


def test_system_exit_in_on_start_is_a_failed_start(start_node):
    """The start of incarnation 2 fails at once (start_error), not after the start timeout."""
    node = start_node({"max_restarts": 1, "max_seconds": 60, "children": [
        {"name": "quits", "actor": "quitting:ExitsInStart", "warm_standby": False}]},
        files={"quitting.py": ACTOR})
    result = node.cli("restart", "quits", "--timeout", "15")
    assert result.returncode == 0, result
    assert "failed to start" in result.stdout
    assert "SystemExit" in node.log_text()
    assert "did not return within" not in node.log_text()


def test_system_exit_in_on_stop_still_stops_the_host(start_node):
    """A stop ends the host without waiting out the grace (no kill, no shutdown_error)."""
    node = start_node({"children": [
        {"name": "quits", "actor": "quitting:ExitsInStop", "shutdown": 30.0}]},
        files={"quitting.py": ACTOR})
    result = node.cli("restart", "quits", "--timeout", "15")
    assert result.returncode == 0, result
    assert "restarted as incarnation 2" in result.stdout
    assert "shutdown_error" not in node.log_text()
