"""Messages of the fast lane: an agent leases connections of the pool's budget.

One message does it all: ``pool.lease`` asks for a lease (``lease`` empty), renews it and
reports what the holder ran since the last renewal (``lease`` set), or gives it back
(``want`` 0). The reply is always a :class:`LeaseGrant`: how many connections the holder
may keep open now — fewer than before when the pool needs its budget back.
"""

from __future__ import annotations

from typing import Any

import attrs

from messages import integer_at_least, message


@attrs.frozen
class LeaseReport:
    """What a lease holder ran since its last renewal (added to ``pool.stats``)."""

    operations: int = attrs.field(default=0, validator=integer_at_least(0))
    errors: dict[str, int] = attrs.field(factory=dict)
    retries: int = attrs.field(default=0, validator=integer_at_least(0))
    ended_idle: int = attrs.field(default=0, validator=integer_at_least(0))
    latency: dict[str, Any] = attrs.field(factory=dict)
    """Per operation name, a profiler histogram (``Histogram.to_dict()``) of durations."""


@message("pool.lease")
@attrs.frozen
class Lease:
    """Ask for ``want`` connections of the pool's budget, renew a lease, or give it back.

    ``lease`` is empty for a new lease, else the id the grant gave. ``open`` says how many
    leased connections the holder has open now; ``pid`` and ``host`` let the pool notice a
    holder that died. ``want`` 0 gives the lease back once ``open`` is 0.
    """

    want: int = attrs.field(validator=integer_at_least(0))
    lease: str = ""
    open: int = attrs.field(default=0, validator=integer_at_least(0))
    pid: int = attrs.field(default=0, validator=integer_at_least(0))
    host: str = ""
    report: LeaseReport | None = None


@message("pool.lease_grant")
@attrs.frozen
class LeaseGrant:
    """How many connections a holder may keep open, until when, and how to open them.

    ``connections`` may be fewer than wanted (``reason`` says why), and fewer than the
    last grant: the holder then closes the extra ones. The lease lapses ``ttl`` seconds
    after the request unless renewed. ``conninfo`` carries the database credentials.
    """

    lease: str
    connections: int
    ttl: float
    reason: str = ""
    conninfo: str = ""
    application_name: str = ""
    statement_timeout: float = 30.0
    client_check_interval: float = 0.5
    reply_margin: float = 0.1
    retries: int = 2
    check_after_idle: float = 5.0
    breaker: str = ""
    """The breaker resource guarding this pool ("" for none), consulted by the holder."""
    breaker_actor: str = "breaker"
