"""A bridge's counters: written on its event loop only, read (as ints) from anywhere."""

from __future__ import annotations

from ._messages import BridgeStatistics


class Counters:
    """Plain integer counters and the connection state (see :class:`BridgeStatistics`)."""

    __slots__ = ("acked", "bad_payloads", "connects", "dead_lettered", "disconnects", "dropped",
                 "failed", "in_flight", "last_error", "publish_errors", "published",
                 "publishes_waiting", "received", "redelivered", "replied", "retries", "state")

    def __init__(self) -> None:
        self.state = "connecting"
        self.last_error = ""
        self.connects = self.disconnects = 0
        self.received = self.acked = self.replied = self.redelivered = self.retries = 0
        self.failed = self.bad_payloads = self.dead_lettered = self.dropped = self.in_flight = 0
        self.published = self.publish_errors = self.publishes_waiting = 0

    def statistics(self, protocol: str, broker: str, sources: list[str]) -> BridgeStatistics:
        """A frozen copy for ``actor.statistics``."""
        return BridgeStatistics(
            protocol=protocol, broker=broker, state=self.state,
            availability=1.0 if self.state == "connected" else 0.0,
            connects=self.connects, disconnects=self.disconnects, last_error=self.last_error,
            subscriptions=list(sources), received=self.received, acked=self.acked,
            replied=self.replied, redelivered=self.redelivered, retries=self.retries,
            failed=self.failed, bad_payloads=self.bad_payloads, dead_lettered=self.dead_lettered,
            dropped=self.dropped, in_flight=self.in_flight, published=self.published,
            publish_errors=self.publish_errors, publishes_waiting=self.publishes_waiting)
