"""The thresholds in force: defaults per metric, overridden per component.

Changes are remembered as the (component, metric, warning, critical, weight) calls that
made them, so that a restarted monitor can replay them from its snapshot.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._model import DEFAULT_THRESHOLDS, Threshold, check_metric, check_threshold


class ThresholdTable:
    """Default thresholds and per-component overrides; not thread-safe (the monitor locks)."""

    def __init__(self, defaults: dict[str, Threshold] | None = None) -> None:
        self._defaults = dict(DEFAULT_THRESHOLDS)
        for metric, t in (defaults or {}).items():
            self._defaults[check_metric(metric)] = t
        self._overrides: dict[str, dict[str, Threshold]] = {}
        self.changes: list[dict[str, Any]] = []
        """Every successful :meth:`set`, in order (what a snapshot replays)."""

    def get(self, metric: str, component: str | None = None) -> Threshold:
        """The threshold of ``metric`` for ``component`` (or the default)."""
        override = self._overrides.get(component or "", {}).get(metric)
        return override if override is not None else self._defaults[check_metric(metric)]

    def for_component(self, component: str) -> dict[str, Threshold]:
        """Every metric's threshold for ``component``."""
        return {**self._defaults, **self._overrides.get(component, {})}

    def set(self, metric: str, component: str | None, *, warning: float | None,
            critical: float | None, weight: float | None) -> Threshold:
        """Change what is given (None keeps a value); InvalidBody if the result is inconsistent."""
        old = self.get(metric, component)
        new = attrs.evolve(old, warning=old.warning if warning is None else warning,
                           critical=old.critical if critical is None else critical,
                           weight=old.weight if weight is None else weight)
        check_threshold(new)
        if component is None:
            self._defaults[metric] = new
        else:
            self._overrides.setdefault(component, {})[metric] = new
        self.changes.append({"metric": metric, "component": component, "warning": warning,
                             "critical": critical, "weight": weight})
        return new

    def replay(self, changes: list[dict[str, Any]]) -> None:
        """Apply :attr:`changes` saved by an earlier table (KeyError/InvalidBody if malformed)."""
        for change in changes:
            self.set(change["metric"], change.get("component"), warning=change.get("warning"),
                     critical=change.get("critical"), weight=change.get("weight"))
