"""The actor inbox: wire messages, local envelopes and watched descriptors, fairly.

Real ZeroMQ sockets over inproc and a real pipe; no actor thread (get() is called here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import zmq

from actors import bind_socket, close_context, connect_socket, new_context
from actors._inbox import FAIRNESS, Readable, SocketInbox, WireFrames


@pytest.fixture
def wired() -> Iterator[tuple[SocketInbox, zmq.Socket[bytes]]]:
    """An inbox on a ROUTER socket, and a DEALER connected to it."""
    ctx = new_context()
    router = bind_socket(ctx, zmq.ROUTER, "inproc://inbox")
    dealer = connect_socket(ctx, zmq.DEALER, "inproc://inbox")
    inbox = SocketInbox()
    inbox.attach(router)
    yield inbox, dealer
    inbox.close()
    close_context(ctx)


def test_watched_descriptor_is_reached_while_the_socket_stays_busy(wired):
    """With messages always waiting, a readable descriptor still comes up within FAIRNESS."""
    inbox, dealer = wired
    for i in range(3 * FAIRNESS):
        dealer.send(b"m%d" % i)
    read_end, write_end = os.pipe()
    calls: list[int] = []
    try:
        inbox.watch(read_end, lambda: calls.append(1))
        os.write(write_end, b"x")
        kinds = [type(inbox.get().message) for _ in range(FAIRNESS + 2)]
    finally:
        inbox.unwatch(read_end)
        os.close(read_end)
        os.close(write_end)
    assert Readable in kinds and kinds.index(Readable) <= FAIRNESS, kinds
    assert kinds.count(WireFrames) >= FAIRNESS


def test_readiness_runs_the_callback_given_and_stops_after_unwatch(wired):
    """get() hands over the watched callback while the descriptor is readable, then not."""
    inbox, dealer = wired
    read_end, write_end = os.pipe()
    seen: list[bytes] = []
    try:
        inbox.watch(read_end, lambda: seen.append(os.read(read_end, 10)))
        with pytest.raises(ValueError, match="already watched"):
            inbox.watch(read_end, lambda: None)
        os.write(write_end, b"ab")
        ready = inbox.get().message
        assert isinstance(ready, Readable)
        ready.callback()
        assert seen == [b"ab"]
        inbox.unwatch(read_end)
        os.write(write_end, b"c")
        dealer.send(b"after")
        message = inbox.get().message
        assert isinstance(message, WireFrames) and message.frames[-1] == b"after"
    finally:
        os.close(read_end)
        os.close(write_end)


def test_local_envelopes_come_before_wire_messages(wired):
    """Envelopes put by other threads (replies of workers) are taken first."""
    inbox, dealer = wired
    dealer.send(b"wire")
    inbox.put("local")
    assert inbox.get() == "local"
    message = inbox.get().message
    assert isinstance(message, WireFrames) and message.frames[-1] == b"wire"


def test_take_waiting_is_the_longest_run_found_queued(wired):
    """Five messages queued at once: the first is taken, four were waiting behind it; the
    figure is reset by reading it."""
    inbox, dealer = wired
    for i in range(5):
        dealer.send(b"m%d" % i)
    kinds = [type(inbox.get().message) for _ in range(5)]
    assert kinds == [WireFrames] * 5
    assert inbox.take_waiting() == 4
    assert inbox.take_waiting() == 0
