"""Outbound: ``bridge.publish`` from any agent or actor, checked, bounded and timed.

A publish is refused at once if no ``publish`` pattern allows its topic. While the broker
is not connected it waits, but never past the asker's deadline (or ``publish_timeout``
for a tell), and never more than ``max_waiting_publishes`` at a time: past either it
fails with BrokerUnavailable saying why, so memory stays bounded whatever the outage.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from ._client import BrokerClient
from ._counters import Counters
from ._errors import BrokerUnavailable, PublishRefused
from ._guard import BrokerGuard
from ._messages import Publish, Published
from ._payload import encode_payload
from ._session import Session
from ._settings import BridgeSettings

REPLY_MARGIN = 0.05
"""Seconds before the asker's deadline at which a waiting publish gives up, so that the
asker hears why instead of timing out."""


class Publisher:
    """Publishes for one bridge (see module doc); :meth:`publish` runs on the bridge's loop."""

    def __init__(self, name: str, client: BrokerClient, settings: BridgeSettings, counters: Counters,
                 session: Session, guard: BrokerGuard,
                 record: Callable[[str, float, bool], None]) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.counters = counters
        self.session = session
        self.guard = guard
        self.record = record
        self._prefix = f"{client.protocol}:publish:"

    def check(self, msg: Publish) -> bytes:
        """The encoded payload if ``msg`` may be published; PublishRefused or BadPayload if not."""
        patterns = self.settings.publish
        if not any(self.client.allows(p, msg.topic) for p in patterns):
            allowed = ", ".join(repr(p) for p in patterns) or "none (settings.publish is empty)"
            raise PublishRefused(f"bridge {self.name!r} may not publish to {msg.topic!r}; "
                                 f"its settings.publish allows: {allowed}")
        return encode_payload(msg.payload, msg.encoding)

    async def publish(self, msg: Publish, data: bytes, deadline: float | None) -> Published:
        """Publish ``data`` as ``msg`` says, waiting for a connection no longer than allowed."""
        c = self.counters
        if deadline is None:
            deadline = time.time() + self.settings.publish_timeout
        deadline -= REPLY_MARGIN
        timeout = deadline - time.time()
        if c.publishes_waiting >= self.settings.max_waiting_publishes:
            c.publish_errors += 1
            raise BrokerUnavailable(f"bridge {self.name!r}: {c.publishes_waiting} publishes already "
                                    f"waiting for the broker; {msg.topic!r} not published")
        permit = await self.guard.check()
        message_id = msg.message_id or uuid.uuid4().hex
        c.publishes_waiting += 1
        started = time.perf_counter()
        try:
            if not await self.session.wait_connected(timeout):
                raise BrokerUnavailable(
                    f"bridge {self.name!r}: broker {self.client.address} not connected within "
                    f"{max(timeout, 0):.3g} s ({c.state}: {c.last_error or 'no error yet'}); "
                    f"{msg.topic!r} not published")
            remaining = deadline - time.time()
            try:
                confirmed = await asyncio.wait_for(self.client.publish(
                    msg.topic, data, qos=msg.qos, message_id=message_id, reply_to=msg.reply_to,
                    correlation=None, headers=dict(msg.headers)), max(remaining, 0.001))
            except TimeoutError:
                raise BrokerUnavailable(f"bridge {self.name!r}: the broker did not confirm "
                                        f"{msg.topic!r} in time; it may or may not have been "
                                        "published") from None
        except Exception as exc:
            c.publish_errors += 1
            seconds = time.perf_counter() - started
            self.guard.record(False, seconds, exc, permit)
            self.record(self._prefix + msg.topic, seconds, False)
            raise
        finally:
            c.publishes_waiting -= 1
        seconds = time.perf_counter() - started
        c.published += 1
        self.guard.record(True, seconds, None, permit)
        self.record(self._prefix + msg.topic, seconds, True)
        return Published(msg.topic, message_id, len(data), confirmed)
