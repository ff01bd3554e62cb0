"""Settings of the health actor, from the node config's ``settings`` map.

The node applies environment variables the project's way before the actor starts:
``AGENTCELL_HEALTH__SAMPLE_INTERVAL=0.5`` or
``AGENTCELL_HEALTH__THRESHOLDS='{"cpu": {"warning": 60, "critical": 90}}'`` (JSON values).
"""

from __future__ import annotations

import math

import attrs

from messages import ConfigError, InvalidBody

from ._monitor import HealthMonitor


@attrs.frozen
class ThresholdSetting:
    """Thresholds of one metric in the config; a missing value keeps the default."""

    warning: float | None = None
    critical: float | None = None
    weight: float | None = None


@attrs.frozen
class HealthSettings:
    """The ``settings`` map of a health actor in the node config."""

    sample_interval: float = 1.0
    """Seconds between sampling rounds (process memory/CPU, counters, probes); 0 turns it off."""
    probe_timeout: float = 0.5
    """How long a readiness probe (``actor.statistics``) may take before the actor is not ready."""
    lifecycle: bool = True
    """Subscribe to the node's lifecycle events (liveness, availability)."""
    history_size: int = 256
    """Samples kept per metric (a ring)."""
    trend_window: float = 60.0
    """Seconds of history the trend is computed over."""
    availability_window: float = 60.0
    """Seconds over which availability (share of time up) is measured."""
    keep_alerts: int = 1000
    """Resolved alerts kept for ``health.alerts`` (open ones are always kept)."""
    min_rate_messages: int = 10
    """A rate metric (``error_rate`` from counts) is judged only once its sample holds this
    many messages (resilience4j's ``minimumNumberOfCalls``): one fault in two messages is
    not a 50 % error rate."""
    rate_window: float = 60.0
    """Seconds a rate's sample may span: older counts drop out before it is judged."""
    thresholds: dict[str, ThresholdSetting] = attrs.field(factory=dict)
    """Default thresholds per metric."""
    components: dict[str, dict[str, ThresholdSetting]] = attrs.field(factory=dict)
    """Per-component overrides: component → metric → thresholds."""
    worker_threads: int = 2


def check_settings(s: HealthSettings) -> None:
    """ConfigError naming the setting if a number is out of range."""
    positive = {"probe_timeout": s.probe_timeout, "trend_window": s.trend_window,
                "availability_window": s.availability_window, "rate_window": s.rate_window}
    for name, value in positive.items():
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"health settings {name}: expected a number > 0, got {value!r}")
    if not (math.isfinite(s.sample_interval) and s.sample_interval >= 0):
        raise ConfigError(f"health settings sample_interval: expected a number >= 0, "
                          f"got {s.sample_interval!r}")
    for name in ("history_size", "keep_alerts", "min_rate_messages"):
        if getattr(s, name) < 1:
            raise ConfigError(f"health settings {name}: expected an integer >= 1, got {getattr(s, name)!r}")


def build_monitor(s: HealthSettings) -> HealthMonitor:
    """A monitor configured from settings (defaults, then per-component overrides)."""
    check_settings(s)
    monitor = HealthMonitor(history_size=s.history_size, trend_window=s.trend_window,
                            availability_window=s.availability_window, keep_alerts=s.keep_alerts,
                            min_rate_messages=s.min_rate_messages, rate_window=s.rate_window)
    layers: list[tuple[str | None, dict[str, ThresholdSetting], str]] = [
        (None, s.thresholds, "thresholds")]
    layers += [(c, m, f"components.{c}") for c, m in s.components.items()]
    for component, per_metric, where in layers:
        for metric, t in per_metric.items():
            try:
                monitor.configure(metric, component, warning=t.warning, critical=t.critical,
                                  weight=t.weight)
            except InvalidBody as exc:
                raise ConfigError(f"health settings {where}.{metric}: {exc}") from None
    return monitor
