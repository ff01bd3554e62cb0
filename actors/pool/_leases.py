"""Who holds how much of a pool's connection budget: pure bookkeeping on an injected clock.

A pool's ``max_size`` is one budget shared by the pool actor (its own connections) and
the agents that lease connections for the fast lane. The actor keeps ``min_size`` (at
least one) for the agents that ask through it and for its own look at the server;
leases share the rest by max-min fairness, with the
actor's own extra demand as one more claimant. A holder counts against the budget with
``max(granted, open)`` — a revoked connection still counts until the holder says it
closed it — and a holder that lapses or dies keeps counting until its server connections
are confirmed gone (see ``_leasing``), so the server never sees more than ``max_size``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping

import attrs

ACTOR = ""
"""The claimant key of the pool actor's own demand in :func:`fair_shares`."""
LEASE_ID = re.compile(r"^[0-9a-f]{8}$")


def fair_shares(budget: int, wants: Mapping[str, int]) -> dict[str, int]:
    """Max-min fair shares of ``budget`` connections among ``wants`` (water-filling).

    Nobody gets more than it wants; the smallest wants are met first and the rest is
    split evenly, the remainder of an uneven split going to the later (larger) ones.
    """
    shares: dict[str, int] = {}
    left = max(0, budget)
    ordered = sorted(wants.items(), key=lambda kv: (kv[1], kv[0]))
    for i, (key, want) in enumerate(ordered):
        share = min(max(0, want), left // (len(ordered) - i))
        shares[key] = share
        left -= share
    return shares


@attrs.define
class Holding:
    """One lease: an agent process's share of the budget."""

    id: str
    application_name: str
    want: int
    granted: int = 0
    open: int = 0
    pid: int = 0
    host: str = ""
    expires: float = 0.0
    ending: str = ""
    """Why the lease is being reclaimed ("" while it is live)."""
    operations: int = 0

    @property
    def reserved(self) -> int:
        """Connections this holder may have open on the server right now."""
        return max(self.granted, self.open)


class LeaseBook:
    """Every lease of one pool, behind a lock of its own (taken inside the pool's)."""

    def __init__(self, *, ttl: float, name_of: Callable[[str], str],
                 clock: Callable[[], float], new_id: Callable[[], str] | None = None) -> None:
        self.ttl = ttl
        self.name_of = name_of
        self.clock = clock
        self.new_id = new_id or (lambda: os.urandom(4).hex())
        self.holdings: dict[str, Holding] = {}
        self.lock = threading.RLock()

    def reserved(self) -> int:
        """Connections all holders may have open (the budget the actor may not use)."""
        with self.lock:
            return sum(h.reserved for h in self.holdings.values())

    def holding(self, lease: str, want: int) -> Holding:
        """The holding ``lease`` names (adopted if this pool does not know it yet), or a new one."""
        with self.lock:
            held = self.holdings.get(lease) if lease else None
            if held is None:
                lease = lease if LEASE_ID.match(lease) else self.new_id()
                while lease in self.holdings:
                    lease = self.new_id()
                held = self.holdings[lease] = Holding(lease, self.name_of(lease), want)
            return held

    def decide(self, held: Holding, *, leasable: int, actor_wants: int, free: int) -> int:
        """Set and return ``held``'s grant: its fair share of ``leasable``, grown only into
        ``free`` connections (those nobody holds now), shrunk at once when over its share."""
        with self.lock:
            wants = {h.id: h.want for h in self.holdings.values() if not h.ending}
            if actor_wants > 0:
                wants[ACTOR] = actor_wants
            target = fair_shares(leasable, wants).get(held.id, 0)
            held.granted = max(0, min(target, held.reserved + free))
            held.expires = self.clock() + self.ttl
            return held.granted

    def lapsed(self, alive: Callable[[Holding], bool]) -> list[Holding]:
        """Mark holders that stopped renewing, or whose process is gone, as ending; return
        every holding being reclaimed (its server connections must be confirmed gone)."""
        now = self.clock()
        with self.lock:
            holdings = list(self.holdings.values())
        for held in holdings:
            if held.ending:
                continue
            if now > held.expires:
                held.ending = f"not renewed within {self.ttl:g} s"
            elif not alive(held):
                held.ending = f"holder process {held.pid} on {held.host} is gone"
        return [h for h in holdings if h.ending]

    def end(self, lease: str) -> None:
        """Forget a holding whose connections are closed."""
        with self.lock:
            self.holdings.pop(lease, None)
