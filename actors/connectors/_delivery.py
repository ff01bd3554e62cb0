"""Inbound: a broker message becomes an ask (or tell) to its target actor, then is settled.

For at-least-once sources the broker message is acknowledged only after the target has
answered (and the answer, if it has somewhere to go, has been published): a crash of the
target, a timeout or an overload leaves the message unacknowledged while the delivery is
retried with backoff (the breaker's retry policy and error classes), so nothing is lost
and the same message may reach the target more than once. A payload that does not
decode, or that the target refuses as invalid, is a bad payload; a delivery that still
fails after ``retry.max_attempts`` (or with an error that is not transient, such as the
target's handler raising) has failed. Both are dead-lettered (published to
``dead_letter`` with the reason in headers) or dropped, counted, and settled: they never
stop the bridge and are never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from actors import AsyncConnection
from actors.breaker import classify, decide
from messages import to_wire

from ._client import BrokerClient, Delivery
from ._counters import Counters
from ._errors import BadPayload, BrokerUnavailable
from ._payload import decode_payload, encode_payload
from ._settings import BridgeSettings
from ._throttle import WARN_EVERY, Throttle

log = logging.getLogger("actors.connectors")

REASON_CHARS = 200
"""Longest error text put in a dead letter's headers."""


class _GiveUp(Exception):
    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class Deliverer:
    """Delivers each :class:`Delivery` to its route's target (see module doc)."""

    def __init__(self, name: str, client: BrokerClient, settings: BridgeSettings, counters: Counters,
                 record: Callable[[str, float, bool], None], *,
                 rng: Callable[[], float] = random.random) -> None:
        self.name = name
        self.client = client
        self.settings = settings
        self.counters = counters
        self.record = record
        self.connection: AsyncConnection | None = None
        self.closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._prefix = client.protocol + ":"
        self._rng = rng
        self._throttle = Throttle()

    def accept(self, delivery: Delivery) -> None:
        """Take one message from the adapter (on the loop); never blocks, never raises."""
        c = self.counters
        if self.closing or self.connection is None:
            return  # not settled: the broker sends it again after the bridge is back
        if not delivery.reliable and c.in_flight >= self.settings.max_in_flight:
            c.dropped += 1  # at most once and no room: dropping is the contract, memory stays bounded
            return
        c.received += 1
        c.in_flight += 1
        if delivery.redelivered:
            c.redelivered += 1
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` until no message is in flight (True if none is)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        return not self._tasks

    async def drain(self, timeout: float) -> int:
        """Stop taking messages and wait up to ``timeout`` for those in flight; how many remain."""
        self.closing = True
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        return len(self._tasks)

    async def _deliver(self, d: Delivery) -> None:
        started = time.perf_counter()
        ok = False
        try:
            try:
                answer = await self._hand_over(d)
                if answer is _UNSENT:
                    await self.client.release(d)
                    return
                await self._reply(d, answer)
            except _GiveUp as give_up:
                await self._give_up(d, give_up.kind, str(give_up))
                return
            await self.client.ack(d)
            self.counters.acked += 1
            ok = True
        except Exception as exc:  # the connection went while settling: the broker sends it again
            log.debug("bridge %r: message %s on %r not settled: %s", self.name, d.message_id,
                      d.topic, exc)
            with contextlib.suppress(Exception):
                await self.client.release(d)
        finally:
            self.counters.in_flight -= 1
            self.record(self._prefix + d.source, time.perf_counter() - started, ok)

    async def _reply(self, d: Delivery, answer: Any) -> None:
        """Publish the target's answer to the reply address, if there is one.

        A lost connection leaves the message unsettled (it comes again); an answer that
        cannot be published at all (not encodable, an address the broker refuses) makes the
        delivery fail, so that it is settled rather than block the messages behind it.
        """
        reply_to = d.reply_to or d.route.reply_to
        if not reply_to or d.route.mode != "ask":
            return
        encoding = d.route.reply_encoding or d.route.payload
        try:
            data = encode_payload(to_wire(answer), encoding)
            await self.client.publish(reply_to, data, qos=d.qos, message_id="", reply_to="",
                                      correlation=d.correlation, headers={})
        except BrokerUnavailable:
            raise
        except Exception as exc:
            raise _GiveUp("failed", f"the answer of {d.route.target!r} could not be published to "
                                    f"{reply_to!r}: {type(exc).__name__}: {exc}") from None
        self.counters.replied += 1

    async def _hand_over(self, d: Delivery) -> Any:
        """Ask (or tell) the target, retrying what may succeed later; its answer."""
        route = d.route
        try:
            tag, body = self._message(d)
        except BadPayload as exc:
            raise _GiveUp("bad_payloads", str(exc)) from None
        conn = self.connection
        assert conn is not None
        policy = self.settings.retry
        attempt, delay, began = 0, 0.0, time.monotonic()
        while True:
            attempt += 1
            try:
                if route.mode == "tell":
                    await conn.tell(route.target, tag, body)
                    return None
                return await conn.ask(route.target, tag, body, timeout=route.timeout)
            except Exception as exc:
                error_class = classify(exc)
                if error_class == "invalid":
                    raise _GiveUp("bad_payloads", f"{route.target!r} refused it: {exc}") from None
                verdict = decide(policy, attempt=attempt, error_class=error_class, started=began,
                                 now=time.monotonic(), deadline=None, previous_delay=delay,
                                 random=self._rng)
                if not verdict.retry or self.closing:
                    if self.closing:
                        return _UNSENT
                    raise _GiveUp("failed", f"delivery to {route.target!r} failed after {attempt} "
                                            f"attempt(s) ({verdict.reason}): {exc}") from None
                delay = verdict.delay
                self.counters.retries += 1
                await self.client.extend(d)
                await asyncio.sleep(delay)

    def _message(self, d: Delivery) -> tuple[str, Any]:
        """The type tag and body the target receives for ``d``; BadPayload if it cannot be made."""
        route = d.route
        payload = decode_payload(d.data, route.payload)
        if route.type == "bridge.message":
            return route.type, {"bridge": self.name, "source": d.source, "topic": d.topic,
                                "payload": payload, "message_id": d.message_id,
                                "redelivered": d.redelivered, "reply_to": d.reply_to,
                                "headers": d.headers}
        if not isinstance(payload, dict):
            raise BadPayload(f"message type {route.type!r} takes a map of fields, "
                             f"got {type(payload).__name__}")
        if route.id_field:
            payload[route.id_field] = d.message_id
        return route.type, payload

    async def _give_up(self, d: Delivery, kind: str, text: str) -> None:
        c = self.counters
        if kind == "bad_payloads":
            c.bad_payloads += 1
        else:
            c.failed += 1
        target = self.settings.dead_letter
        if self._throttle.due():
            log.warning("bridge %r: message %s on %r %s: %s (%s; further ones for %g s are only "
                        "counted)", self.name, d.message_id, d.topic,
                        "is a bad payload" if kind == "bad_payloads" else "could not be delivered",
                        text, f"dead-lettered to {target!r}" if target else "dropped", WARN_EVERY)
        if target and await self._dead_letter(d, target, kind, text):
            c.dead_lettered += 1
            await self.client.ack(d)
        else:
            c.dropped += 1
            await self.client.reject(d)

    async def _dead_letter(self, d: Delivery, target: str, kind: str, text: str) -> bool:
        """Publish ``d`` to ``target`` with the reason in headers; False if the broker refuses
        it for good (then it is dropped: retrying it would block the messages behind it)."""
        headers = {"x-dead-letter-reason": "bad_payload" if kind == "bad_payloads" else "failed",
                   "x-error": text[:REASON_CHARS], "x-source": d.source, "x-topic": d.topic,
                   "x-message-id": d.message_id}
        try:
            await self.client.publish(target, d.data, qos=None, message_id=d.message_id,
                                      reply_to="", correlation=d.correlation, headers=headers)
        except BrokerUnavailable:
            raise
        except Exception as exc:
            log.error("bridge %r: dead letter %r refused (%s: %s); message %s dropped", self.name,
                      target, type(exc).__name__, exc, d.message_id)
            return False
        return True


_UNSENT: Any = object()
"""The bridge stopped before the target answered: the message goes back to the broker."""
