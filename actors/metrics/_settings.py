"""Settings of the metrics actor (``AGENTCELL_METRICS__PORT=9464`` and the like)."""

from __future__ import annotations

import math
from typing import Any, Final

import attrs

from actors.observe import ServeSettings, positive_seconds
from actors.profiler import is_edge

DEFAULT_PORT: Final = 9464
"""The port Prometheus' exporter registry lists for this kind of exporter."""
DEFAULT_BUCKETS: Final = tuple(2.0**k for k in range(-16, 4))
"""Histogram buckets: every power of two from 2^-16 s (15 µs) to 8 s."""


def _bucket_edges(_: Any, attribute: attrs.Attribute[Any], value: list[float]) -> None:
    if not value or len(value) > 64:
        raise ValueError(f"{attribute.name}: expected 1 to 64 bucket bounds, got {len(value)}")
    for b in value:
        if not (math.isfinite(b) and b > 0 and is_edge(b, 1)):
            raise ValueError(
                f"{attribute.name}: {b!r} is not a power of two or 1.5 times one (seconds); "
                "only those are exact bucket edges of every profiler histogram, e.g. "
                "0.0009765625 (2^-10) or 0.0014648438 (1.5 * 2^-10)")
    if value != sorted(set(value)):
        raise ValueError(f"{attribute.name}: expected distinct increasing bounds, got {value!r}")


@attrs.frozen
class MetricsSettings(ServeSettings):
    """Where ``/metrics`` is served and what it reads (see :class:`~actors.observe.Sources`)."""

    port: int = DEFAULT_PORT
    buckets: list[float] = attrs.field(factory=lambda: list(DEFAULT_BUCKETS),
                                       validator=_bucket_edges)
    """Upper bounds of the latency histograms, in seconds."""
    scrape_timeout: float = attrs.field(default=5.0, validator=positive_seconds)
    """Longest a scrape waits for a read of the node before it answers ``agentcell_node_up 0``."""
    nice: int = attrs.field(default=10, validator=attrs.validators.and_(
        attrs.validators.ge(0), attrs.validators.le(19)))
    """How much lower the CPU priority of the exporter's threads is (0 to 19, as ``nice``):
    a scrape gives way to the actors' work when the cores are busy."""
