"""Settings of the health actor: node config first, then environment variables.

Environment variables override the config's default thresholds, one number each:
``CELLPHONE_HEALTH_<METRIC>_<WARNING|CRITICAL|WEIGHT>`` (e.g.
``CELLPHONE_HEALTH_RESPONSE_TIME_WARNING=0.2``), and ``CELLPHONE_HEALTH_SAMPLE_INTERVAL``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import attrs

from messages import ConfigError, InvalidBody

from ._model import METRICS
from ._monitor import HealthMonitor

ENV_PREFIX: Final = "CELLPHONE_HEALTH_"


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
    thresholds: dict[str, ThresholdSetting] = attrs.field(factory=dict)
    """Default thresholds per metric."""
    components: dict[str, dict[str, ThresholdSetting]] = attrs.field(factory=dict)
    """Per-component overrides: component → metric → thresholds."""
    worker_threads: int = 2


def check_settings(s: HealthSettings) -> None:
    """ConfigError naming the setting if a number is out of range."""
    positive = {"probe_timeout": s.probe_timeout, "trend_window": s.trend_window,
                "availability_window": s.availability_window}
    for name, value in positive.items():
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"health settings {name}: expected a number > 0, got {value!r}")
    if not (math.isfinite(s.sample_interval) and s.sample_interval >= 0):
        raise ConfigError(f"health settings sample_interval: expected a number >= 0, "
                          f"got {s.sample_interval!r}")
    for name in ("history_size", "keep_alerts"):
        if getattr(s, name) < 1:
            raise ConfigError(f"health settings {name}: expected an integer >= 1, got {getattr(s, name)!r}")


def env_overrides(env: Mapping[str, str]) -> tuple[dict[str, ThresholdSetting], float | None]:
    """Thresholds and sample interval from ``CELLPHONE_HEALTH_*``; ConfigError names the variable."""
    found: dict[str, dict[str, float]] = {}
    interval = None
    for key, text in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        rest = key[len(ENV_PREFIX):].lower()
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"environment variable {key}: expected a number, got {text!r}") from None
        if rest == "sample_interval":
            interval = number
            continue
        metric, _, part = rest.rpartition("_")
        if metric not in METRICS or part not in ("warning", "critical", "weight"):
            raise ConfigError(f"environment variable {key}: expected {ENV_PREFIX}<METRIC>_"
                              f"<WARNING|CRITICAL|WEIGHT> with METRIC one of "
                              f"{', '.join(m.upper() for m in METRICS)}")
        found.setdefault(metric, {})[part] = number
    return {m: ThresholdSetting(**parts) for m, parts in found.items()}, interval


def build_monitor(s: HealthSettings, env: Mapping[str, str]) -> tuple[HealthMonitor, HealthSettings]:
    """A monitor configured from settings then environment; the effective settings."""
    check_settings(s)
    from_env, interval = env_overrides(env)
    if interval is not None:
        s = attrs.evolve(s, sample_interval=interval)
        check_settings(s)
    monitor = HealthMonitor(history_size=s.history_size, trend_window=s.trend_window,
                            availability_window=s.availability_window, keep_alerts=s.keep_alerts)
    layers: list[tuple[str | None, dict[str, ThresholdSetting], str]] = [
        (None, s.thresholds, "thresholds"), (None, from_env, "environment")]
    layers += [(c, m, f"components.{c}") for c, m in s.components.items()]
    for component, per_metric, where in layers:
        for metric, t in per_metric.items():
            try:
                monitor.configure(metric, component, warning=t.warning, critical=t.critical,
                                  weight=t.weight)
            except InvalidBody as exc:
                raise ConfigError(f"health settings {where}.{metric}: {exc}") from None
    return monitor, s
