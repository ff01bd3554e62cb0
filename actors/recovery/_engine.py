"""The rule engine: facts in, action attempts out. Pure: time is an argument, no I/O.

Facts arrive from events (:meth:`RuleEngine.observe`, :meth:`RuleEngine.exited`) and from
periodic re-reads of each source (:meth:`RuleEngine.reread`, which also repairs lost
events). :meth:`RuleEngine.due` reconciles every rule with the facts and returns the
attempts to make now; the caller carries them out and reports each with
:meth:`RuleEngine.finished`. The state survives a restart through :meth:`snapshot` /
:meth:`restore`. Not thread-safe: the caller holds one lock around it.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

import attrs

from ._messages import ActionRecord, RuleStatus
from ._observe import Exit, Observation, Source, matches
from ._rules import OnRestarts, Rule
from ._track import Outcome, Task, Track, decide, describe, resolve, timed, undone_on_clear

HOUR = 3600.0
SNAPSHOT_VERSION = 1


class RuleEngine:
    """Every rule's tracks, the facts they read, and the record of what was done."""

    def __init__(self, rules: Mapping[str, Rule], *, retry_initial: float = 1.0,
                 retry_max: float = 30.0, history: int = 200) -> None:
        self.rules = dict(rules)
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.facts: dict[str, dict[str, tuple[Observation, float]]] = collections.defaultdict(dict)
        self.exits: dict[str, collections.deque[tuple[float, str]]] = collections.defaultdict(
            collections.deque)
        self.tracks: dict[tuple[str, str], Track] = {}
        self.acts: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.history: collections.deque[ActionRecord] = collections.deque(maxlen=history)
        self.actions = self.failed = self.throttled = 0
        self._window = max((r.when.restarts.within for r in self.rules.values()
                            if r.when.restarts is not None), default=0.0)

    @property
    def sources(self) -> set[str]:
        """The condition kinds the rules read (bottleneck, alert, breaker, restarts)."""
        return {r.when.kind for r in self.rules.values()}

    # -- facts in ------------------------------------------------------------------------
    def observe(self, fact: Observation | Exit, now: float) -> None:
        """Record one fact from the event stream."""
        if isinstance(fact, Exit):
            self.exited(fact, now)
        else:
            self.facts[fact.source][fact.key] = (fact, now)

    def exited(self, exit_: Exit, now: float) -> None:
        """Count an exit that was not planned, for ``restarts`` conditions."""
        if self._window and not exit_.planned:
            self.exits[exit_.actor].append((now, exit_.cause))

    def reread(self, source: Source, facts: Iterable[Observation], asked_at: float, now: float) -> None:
        """What a source holds active now (asked at ``asked_at``): facts it no longer lists
        are inactive, unless an event newer than the question said otherwise."""
        known = self.facts[source]
        listed = {fact.key: fact for fact in facts}
        for key, (fact, seen) in list(known.items()):
            if key not in listed and seen < asked_at and fact.active:
                known[key] = (attrs.evolve(fact, active=False), now)
        for key, fact in listed.items():
            if known.get(key, (None, -1.0))[1] < asked_at:
                known[key] = (fact, now)

    # -- attempts out ----------------------------------------------------------------------
    def due(self, now: float) -> list[Task]:
        """The attempts to make now; each is marked in flight until :meth:`finished`."""
        self._refresh(now)
        tasks = []
        for t in self.tracks.values():
            rule = self.rules[t.rule]
            budget = self._budget(t.rule, rule, now)
            step = decide(t, rule, now, budget=budget)
            if step is None:
                if t.wanted and not t.engaged and not budget and not t.throttled:
                    t.throttled = True
                    self.throttled += 1
                continue
            t.throttled = False
            t.pending, t.pending_at = step, now
            tasks.append(Task(t.rule, t.key, step, rule.do.kind,
                              resolve(rule.do.action, t.fields), dict(t.memo), dict(t.evidence),
                              t.attempts + 1, now - t.since))
        return tasks

    def finished(self, task: Task, outcome: Outcome, now: float, wall: float) -> ActionRecord:
        """Record how an attempt went: engage, release, or schedule a retry (backing off)."""
        t = self.tracks.setdefault((task.rule, task.key), Track(task.rule, task.key))
        t.pending = ""
        self.actions += 1
        if outcome.ok:
            t.attempts, t.retry_at = 0, 0.0
            if task.step == "act":
                t.memo = {**outcome.memo, **t.memo} if t.engaged else dict(outcome.memo)
                t.engaged, t.acted_at = True, now
                self.acts[task.rule].append(now)
            else:
                t.engaged, t.memo = False, {}
        else:
            self.failed += 1
            t.attempts += 1
            t.retry_at = now + min(self.retry_max, self.retry_initial * 2 ** (t.attempts - 1))
        record = ActionRecord(task.rule, task.key, task.step, describe(task.kind, task.action),
                              outcome.ok, outcome.detail, dict(task.evidence), task.attempt,
                              now - t.since, wall)
        self.history.append(record)
        return record

    # -- reading the state -------------------------------------------------------------------
    def status(self, now: float) -> list[RuleStatus]:
        """Every rule's engaged and active subjects and its actions in the last hour."""
        out = []
        for name, rule in self.rules.items():
            mine = [t for t in self.tracks.values() if t.rule == name]
            out.append(RuleStatus(name, _summary(rule.when.kind, rule.when.condition),
                                  describe(rule.do.kind, rule.do.action),
                                  sorted(t.key for t in mine if t.engaged),
                                  sorted(t.key for t in mine if t.wanted),
                                  sum(1 for at in self.acts[name] if now - at < HOUR)))
        return out

    def engaged(self) -> int:
        """How many (rule, subject) actions are in force."""
        return sum(1 for t in self.tracks.values() if t.engaged)

    def in_flight(self) -> int:
        """How many attempts are being carried out now."""
        return sum(1 for t in self.tracks.values() if t.pending)

    # -- surviving a restart -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Msgpack-able state for the next incarnation (times on the system's monotonic clock)."""
        return {"v": SNAPSHOT_VERSION, "tracks": [t.to_dict() for t in self.tracks.values()],
                "acts": {k: list(v) for k, v in self.acts.items()},
                "exits": {k: [list(e) for e in v] for k, v in self.exits.items()},
                "history": [attrs.asdict(r) for r in self.history],
                "counters": [self.actions, self.failed, self.throttled]}

    def restore(self, data: Any) -> int:
        """Take back a snapshot's state for the rules that still exist; how many tracks came back."""
        if not isinstance(data, dict) or data.get("v") != SNAPSHOT_VERSION:
            return 0
        for item in data.get("tracks", []):
            track = Track.from_dict(item)
            if track.rule in self.rules:
                self.tracks[(track.rule, track.key)] = track
        for name, times in dict(data.get("acts", {})).items():
            if name in self.rules:
                self.acts[name].extend(times)
        if self._window:
            for actor, exits in dict(data.get("exits", {})).items():
                self.exits[actor].extend((float(at), str(cause)) for at, cause in exits)
        self.history.extend(ActionRecord(**r) for r in data.get("history", []))
        self.actions, self.failed, self.throttled = data.get("counters", [0, 0, 0])
        return len(self.tracks)

    # -- internals -------------------------------------------------------------------------------
    def _refresh(self, now: float) -> None:
        for deque_ in self.exits.values():
            while deque_ and now - deque_[0][0] > self._window:
                deque_.popleft()
        holding = {name: self._holding(rule, now) for name, rule in self.rules.items()}
        for name, subjects in holding.items():
            for key, (fields, evidence) in subjects.items():
                t = self.tracks.setdefault((name, key), Track(name, key))
                if not t.wanted:
                    t.wanted, t.since = True, now
                t.fields, t.evidence = dict(fields), dict(evidence)
        for (name, key), t in list(self.tracks.items()):
            rule = self.rules[name]
            if key not in holding[name]:
                t.wanted = False
            if not t.wanted and t.engaged and timed(rule) is None and not undone_on_clear(rule):
                t.engaged, t.memo = False, {}
            if t.idle and (t.acted_at is None or now - t.acted_at >= rule.cooldown):
                del self.tracks[(name, key)]

    def _holding(self, rule: Rule, now: float) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """Subject → (fields, evidence) of every subject on which ``rule``'s condition holds."""
        cond = rule.when.condition
        if isinstance(cond, OnRestarts):
            out = {}
            for actor, exits in self.exits.items():
                recent = [cause for at, cause in exits if now - at <= cond.within]
                if fnmatchcase(actor, cond.actor) and len(recent) > cond.more_than:
                    out[actor] = ({"actor": actor, "count": len(recent)},
                                  {"count": len(recent), "within": cond.within,
                                   "more_than": cond.more_than, "causes": recent[-3:]})
            return out
        out = {}
        for _, (fact, _) in sorted(self.facts[rule.when.kind].items()):
            if matches(cond, fact):  # a bottleneck's subject is its op, whichever kinds fire
                subject = fact.fields["op"] if fact.source == "bottleneck" else fact.key
                out.setdefault(subject, (dict(fact.fields), dict(fact.evidence)))
        return out

    def _budget(self, name: str, rule: Rule, now: float) -> bool:
        acts = self.acts[name]
        while acts and now - acts[0] >= HOUR:
            acts.popleft()
        return len(acts) < rule.max_per_hour


def _summary(kind: str, condition: Any) -> str:
    parts = [f"{k}={v}" for k, v in attrs.asdict(condition).items() if v is not None]
    return " ".join([kind, *parts])
