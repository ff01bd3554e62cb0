"""What the rules see: events and re-read replies turned into facts, and facts matched.

A fact (:class:`Observation`) says that a condition of one source — a profiler
bottleneck, a health alert, a breaker's state — on one subject (``key``) is active or
not, with the fields a rule matches and the evidence an action record carries. Exits
(``lifecycle.exited``) are counted, not held: see :class:`Exit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, Literal

import attrs

from messages import PLANNED_EXIT_CAUSES

from ._rules import SEVERITY_RANK, Condition, OnAlert, OnBottleneck, OnBreaker, OnRestarts

Source = Literal["bottleneck", "alert", "breaker"]


@attrs.frozen
class Observation:
    """One source's condition on one subject, now active or not."""

    source: Source
    key: str
    active: bool
    fields: Mapping[str, Any]
    evidence: Mapping[str, Any]


@attrs.frozen
class Exit:
    """An actor's incarnation ended with ``cause``."""

    actor: str
    cause: str

    @property
    def planned(self) -> bool:
        """Asked for (``shutdown``) or recycling, so not a restart that rules count."""
        return self.cause.startswith(PLANNED_EXIT_CAUSES)


def bottleneck(body: Mapping[str, Any], active: bool) -> Observation:
    """A ``profiler.bottleneck`` event body, or one entry of ``profiler.bottlenecks``."""
    op, kind = str(body["op"]), str(body["kind"])
    evidence = dict(body.get("evidence") or {})
    fields = {"op": op, "kind": kind, "actor": op.partition(":")[0] if ":" in op else "",
              "ratio": evidence.get("ratio")}
    return Observation("bottleneck", f"{op}/{kind}", active, fields,
                       {"summary": str(body.get("summary", "")), **evidence})


def alert(body: Mapping[str, Any]) -> Observation:
    """A ``health.alert`` event body, or one alert of ``health.alerts`` (open unless resolved)."""
    component, metric = str(body["component"]), str(body["metric"])
    fields = {"component": component, "metric": metric, "severity": str(body["severity"])}
    evidence = {k: body.get(k) for k in ("id", "severity", "value", "threshold", "message")}
    return Observation("alert", f"{component}/{metric}", not body.get("resolved"), fields, evidence)


def breaker(body: Mapping[str, Any]) -> Observation:
    """A ``breaker.state`` event body, or one state of ``breaker.states_reply``."""
    resource, state = str(body["resource"]), str(body["state"])
    fields = {"resource": resource, "state": state, "forced": bool(body.get("forced"))}
    evidence = {k: body[k] for k in ("state", "from", "reason", "forced") if k in body}
    return Observation("breaker", resource, state != "closed", fields, evidence)


def from_event(topic: str, body: Mapping[str, Any], sources: Mapping[str, str]) -> Observation | Exit | None:
    """The fact in one event, if it comes from a source the rules read (``sources``: source
    kind → actor name); None for anything else. Raises KeyError/TypeError/ValueError on a
    malformed body."""
    sender = body.get("name")
    if topic == "profiler.bottleneck" and sender == sources.get("bottleneck"):
        return bottleneck(body, body.get("state") != "cleared")
    if topic == "health.alert" and sender == sources.get("alert"):
        return alert(body)
    if topic == "breaker.state" and sender == sources.get("breaker"):
        return breaker(body)
    if topic == "lifecycle.exited":
        return Exit(str(body["name"]), str(body.get("cause") or ""))
    return None


def matches(condition: Condition, fact: Observation) -> bool:
    """Whether ``fact`` is active and satisfies ``condition`` (restarts are counted elsewhere)."""
    f = fact.fields
    if not fact.active:
        return False
    if isinstance(condition, OnBottleneck):
        ratio = f.get("ratio")
        return fact.source == "bottleneck" and fnmatchcase(f["op"], condition.op) \
            and (condition.kind is None or f["kind"] in (
                condition.kind if isinstance(condition.kind, list) else [condition.kind])) \
            and (condition.min_ratio is None
                 or (isinstance(ratio, (int, float)) and ratio >= condition.min_ratio))
    if isinstance(condition, OnAlert):
        return fact.source == "alert" and fnmatchcase(f["component"], condition.component) \
            and fnmatchcase(f["metric"], condition.metric) \
            and SEVERITY_RANK.get(f["severity"], 0) >= SEVERITY_RANK[condition.severity]
    if isinstance(condition, OnBreaker):
        wanted = {"open": f["state"] == "open", "half_open": f["state"] == "half_open",
                  "not_closed": f["state"] != "closed"}
        return fact.source == "breaker" and fnmatchcase(f["resource"], condition.resource) \
            and wanted[condition.state]
    assert isinstance(condition, OnRestarts)
    return False
