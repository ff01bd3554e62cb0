"""Many asks to one actor from one thread, up to a window in flight (``Connection.ask_many``).

Kept apart from the connection: the single ask waits for its one reply, a pipeline keeps
the window full and takes every reply already queued after each wait, one poll for all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import zmq

from messages import KIND_ASK, ActorCrashed, ActorOverloaded, AskTimeout, Envelope, RemoteError, Resolved

from ._sockets import Lane
from ._waiting import Waiter
from ._wire import encode_request, reply_value

_NOBLOCK = int(zmq.NOBLOCK)  # a plain int: no enum work per send


class Pipeline:
    """Runs batches of asks for one connection (its ids, its waiter and late counter)."""

    def __init__(self, waiter: Waiter, ids: Iterator[int], max_message_bytes: int) -> None:
        self.waiter = waiter
        self.ids = ids
        self.max_message_bytes = max_message_bytes

    def run(self, lane: Lane, target: str, resolved: Resolved, requests: list[tuple[str, Any]],
            window: int, seconds: float, deadlines: tuple[float, float]) -> list[Any]:
        """Each request's value or RemoteError, in order; AskTimeout past the deadlines
        (wall clock, monotonic: see ``deadline_after``), ActorCrashed if the incarnation
        asked dies, ActorOverloaded if a send cannot queue."""
        wall_deadline, deadline = deadlines
        socket, waiter, total = lane.socket, self.waiter, len(requests)
        incarnation: int | None = resolved.incarnation
        if lane.deaths is not None:
            incarnation = waiter.incarnation_before_send(lane.deaths, target, incarnation)
        results: list[Any] = [None] * total
        slot_of: dict[int, int] = {}
        sent = done = 0
        while done < total:
            while sent < total and len(slot_of) < window:
                tag, payload = requests[sent]
                id_ = next(self.ids)
                data = encode_request(KIND_ASK, id_, target, tag, payload, wall_deadline,
                                      self.max_message_bytes)
                try:
                    socket.send(data, _NOBLOCK)
                except zmq.Again:
                    raise ActorOverloaded(f"actor {target!r} is overloaded after {sent} of "
                                          f"{total} asks") from None
                slot_of[id_] = sent
                sent += 1
            outcome = waiter.wait(lane, None, target, incarnation, deadline)
            if outcome is None:
                raise AskTimeout(f"{total - done} of {total} asks to {target!r} "
                                 f"unanswered after {seconds:g} s")
            if not isinstance(outcome, Envelope):
                raise ActorCrashed(f"actor {target!r} incarnation {outcome[0]} died ({outcome[1]}) "
                                   f"with {len(slot_of)} asks in flight",
                                   details={"actor": target, "incarnation": outcome[0],
                                            "cause": outcome[1]})
            while outcome is not None:  # take every reply already queued, one poll for all
                slot = slot_of.pop(outcome.id, None)  # type: ignore[arg-type]
                if slot is None:
                    waiter.late += 1
                else:
                    results[slot], done = _value_or_error(outcome), done + 1
                outcome = waiter.recv(socket, _NOBLOCK) if slot_of else None
        return results


def _value_or_error(env: Envelope) -> Any:
    try:
        return reply_value(env)
    except RemoteError as exc:
        return exc
