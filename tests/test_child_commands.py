"""restart / stop-child / start-child act only on a child whose supervisors run.

Found from outside: after a transient sub-supervisor gave up (stopped, and rightly not
restarted by its parent), ``start-child`` started its child anyway — a process no running
supervisor watched, so its next crash went unnoticed; and a ``node.restart`` that arrived
after ``node.stop`` started a new incarnation while the node shut down, which was then
killed at exit ("still runs at node exit"). In OTP, ``restart_child`` and
``terminate_child`` are calls to a supervisor, which fail when it is not running.
"""

from __future__ import annotations

import os
import signal

import msgpack
import pytest

from messages import HandlerError
from tests.nodes import eventually
from tests.raw_peer import RawPeer


def test_start_child_under_a_supervisor_that_gave_up_is_refused(start_node):
    """A child of a stopped sub-supervisor cannot be started or restarted by command."""
    node = start_node({"max_restarts": 50, "max_seconds": 10, "children": [
        {"name": "echo", "actor": "echo"},
        {"name": "g", "strategy": "one_for_one", "restart": "transient", "max_restarts": 0,
         "max_seconds": 5, "children": [{"name": "x", "actor": "chaos"},
                                        {"name": "y", "actor": "echo"}]}]})
    events = node.event_log()
    try:
        with node.connect() as conn:
            x = next(r for r in conn.status().actors if r.name == "x")
            os.kill(x.pid, signal.SIGKILL)
            events.wait_for("lifecycle.gave_up", "g")
            assert eventually(lambda: {r.name: r.state for r in conn.status().actors}
                              == {"echo": "running", "x": "stopped", "y": "stopped"})
            for command in ("start-child", "restart"):
                result = node.cli(command, "x")
                assert result.returncode == 1, result
                assert "supervisor 'g'" in result.stderr and "stopped" in result.stderr
            with pytest.raises(HandlerError, match="supervisor 'g', which is stopped"):
                conn.ask("node", "node.restart", {"name": "y"}, timeout=5)
            assert {r.name: r.state for r in conn.status().actors}["x"] == "stopped"
    finally:
        events.close()


def test_restart_after_node_stop_starts_nothing(start_node):
    """A node.restart that arrives behind node.stop is refused; the node stops cleanly and
    no incarnation is started (and killed) while it shuts down."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"},
                                    {"name": "chaos", "actor": "chaos"}]})
    peer = RawPeer(node, "echo")
    try:
        for id_, type_, body in ((1, "node.stop", {}), (2, "node.restart", {"name": "echo"}),
                                 (3, "node.start_child", {"name": "chaos"})):
            peer.front.send(msgpack.packb({"v": 1, "kind": "ask", "id": id_, "to": "node",
                                           "type": type_, "body": body}))
        replies = {}
        while len(replies) < 3 and peer.front.poll(10_000):
            reply = msgpack.unpackb(peer.front.recv(), raw=False)
            replies[reply["id"]] = reply
        assert replies[1]["type"] == "node.ok"
        assert replies[2]["kind"] == "error" and "stopping" in replies[2]["body"]["message"]
        assert replies[3]["kind"] == "error"
        assert node.wait_exit() == 0
        log = node.log_text()
        assert "still runs at node exit" not in log
        assert "incarnation 2" not in log
    finally:
        peer.close()


def test_restart_under_way_when_the_node_stops_does_not_start_again(start_node):
    """A restart whose stop is still under way when node.stop arrives ends with the child
    stopped: the answer says it was not started again, and no next incarnation runs."""
    node = start_node({"children": [{"name": "echo", "actor": "echo"},
                                    {"name": "chaos", "actor": "chaos", "shutdown": 1.0}]})
    peer = RawPeer(node, "chaos")
    try:
        # an answered ask first: the actor's connection is up, so the hang below reaches it
        # before the restart reaches the node (else the stop can end before it hangs)
        assert peer.ask(peer.actor, {"v": 1, "kind": "ask", "id": "up", "to": "chaos",
                                     "type": "chaos.count", "body": {}})["kind"] == "reply"
        peer.actor.send(msgpack.packb({"v": 1, "kind": "tell", "to": "chaos", "type": "chaos.fail",
                                       "body": {"how": "hang"}}))  # its stop waits out the grace
        peer.front.send(msgpack.packb({"v": 1, "kind": "ask", "id": 1, "to": "node",
                                       "type": "node.restart", "body": {"name": "chaos"}}))
        with node.connect() as conn:
            assert eventually(lambda: conn.status("chaos").actors[0].state == "stopping")
        peer.front.send(msgpack.packb({"v": 1, "kind": "ask", "id": 2, "to": "node",
                                       "type": "node.stop", "body": {}}))
        replies = {}
        while len(replies) < 2 and peer.front.poll(10_000):
            reply = msgpack.unpackb(peer.front.recv(), raw=False)
            replies[reply["id"]] = reply
        assert replies[2]["type"] == "node.ok"
        assert replies[1]["type"] == "node.ok", replies[1]
        assert "not started again: the node is stopping" in replies[1]["body"]["detail"]
        assert node.wait_exit() == 0
        assert "incarnation 2" not in node.log_text()
    finally:
        peer.close()
