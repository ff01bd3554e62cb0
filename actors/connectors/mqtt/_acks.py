"""MQTT acknowledgements in the order the messages came.

MQTT 3.1.1 and 5.0, section 4.6 (Message ordering): a client "MUST send PUBACK packets in
the order in which the corresponding PUBLISH packets were received (QoS 1 messages)"
and PUBCOMP packets in the order of their PUBREL packets (QoS 2). Deliveries finish in
any order, so a message handled early waits here for those before it.
"""

from __future__ import annotations

from collections.abc import Callable


class OrderedAcks:
    """Sends ``send(mid, qos)`` for each message once it and every earlier one are done."""

    def __init__(self, send: Callable[[int, int], object]) -> None:
        self._send = send
        self._pending: dict[int, list[int]] = {}  # seq -> [mid, qos, done]
        self._head = 0
        self._next = 0

    def add(self, mid: int, qos: int) -> int:
        """Register a received message; its sequence number for :meth:`done`."""
        seq = self._next
        self._next += 1
        self._pending[seq] = [mid, qos, 0]
        return seq

    def done(self, seq: int) -> int:
        """Message ``seq`` is handled; send every acknowledgement now due. How many were sent."""
        entry = self._pending.get(seq)
        if entry is None:
            return 0
        entry[2] = 1
        sent = 0
        pending = self._pending
        while (head := pending.get(self._head)) is not None and head[2]:
            del pending[self._head]
            self._head += 1
            self._send(head[0], head[1])
            sent += 1
        return sent

    @property
    def waiting(self) -> int:
        """Messages registered and not yet acknowledged."""
        return len(self._pending)
