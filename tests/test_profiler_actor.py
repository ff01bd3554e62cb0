"""The profiler actor's handlers, called directly with a virtual clock and a fake publish."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs
import pytest

from actors import ActorContext
from actors.profiler import (
    ALERT_TOPIC,
    Bottlenecks,
    Buckets,
    Configure,
    Histogram,
    ProfilerActor,
    ProfilerSettings,
    Record,
    RecordBatch,
    Recorder,
    Report,
    Reset,
    Snapshot,
    UnknownOperation,
)
from actors.testing import ManualClock
from messages import InvalidBody, from_wire, pack_value, unpack_value


@attrs.define
class PublishingContext(ActorContext):
    """An ActorContext that keeps what the actor publishes."""

    events: list[tuple[str, Any]] = attrs.field(factory=list)

    def publish(self, topic: str, body: Any) -> None:
        self.events.append((topic, body))


def make(**settings: Any) -> tuple[ProfilerActor, ManualClock, PublishingContext]:
    """A started profiler with ``settings`` (validated as the node would)."""
    clock = ManualClock(500.0)
    ctx = PublishingContext("profiler", 1, from_wire(ProfilerSettings, settings), "")
    actor = ProfilerActor(ctx, clock=clock)
    actor.on_start()
    return actor, clock, ctx


def batch(op: str, value: float, n: int = 50, ok: bool = True) -> RecordBatch:
    """A record_batch body as the Recorder builds it, decoded like the runtime does."""
    r = Recorder(None, background=False, max_pending=10**9)
    for _ in range(n):
        r.record(op, value, ok)
    body = r.take()
    assert body is not None
    return from_wire(RecordBatch, body)


def test_record_and_report() -> None:
    """Single records show up in every window of the report."""
    actor, clock, _ = make()
    for v in (0.010, 0.020, 0.030):
        assert actor.on_record(Record("db.query", v)) == 1
    clock.now += 1
    report = actor.on_report(Report(op="db.query", window="10s"))
    stats = report["ops"]["db.query"]["windows"]["10s"]
    assert stats["count"] == 3 and stats["max"] == 0.030 and stats["p50"] == pytest.approx(0.020, rel=0.004)


def test_record_batch_merges_sources() -> None:
    """Batches from two sources add up per op."""
    actor, _, _ = make()
    assert actor.on_record_batch(batch("llm.call", 0.5, 30)) == 30
    assert actor.on_record_batch(batch("llm.call", 1.5, 10, ok=False)) == 10
    stats = actor.on_report(Report("llm.call", "all"))["ops"]["llm.call"]["windows"]["all"]
    assert (stats["count"], stats["errors"], stats["max"]) == (40, 10, 1.5)
    assert actor.statistics().batches == 2 and actor.statistics().samples == 40


@pytest.mark.parametrize(("body", "text"), [
    ({"op": "x", "seconds": -1.0}, "Record.seconds: expected a finite duration >= 0"),
    ({"op": "x", "seconds": math.inf}, "finite"),
    ({"op": "", "seconds": 1.0}, "Record.op"),
])
def test_record_refuses_bad_durations(body: dict[str, Any], text: str) -> None:
    """Negative or infinite durations and empty ops are InvalidBody naming the field."""
    actor, _, _ = make()
    with pytest.raises(InvalidBody, match=text):
        actor.on_record(from_wire(Record, body))


@pytest.mark.parametrize(("body", "text"), [
    ({"op": "x", "seconds": math.nan}, "NaN"),
    ({"op": "x", "seconds": "fast"}, "Record.seconds: expected a number, got str"),
    ({"op": 3, "seconds": 0.1}, "Record.op: expected a string"),
    ({"op": "x", "seconds": 0.1, "ok": "yes"}, "Record.ok: expected a boolean"),
    ({"seconds": 0.1}, "Record.op: required field is missing"),
])
def test_wrong_types_are_refused_by_the_message_schema(body: dict[str, Any], text: str) -> None:
    """NaN, wrong types and missing fields never reach the handler."""
    with pytest.raises(InvalidBody, match=text):
        from_wire(Record, body)


def test_bad_batch_names_the_op_and_field() -> None:
    """A histogram whose counts are inconsistent is refused, naming op and field."""
    actor, _, _ = make()
    body = {"ops": {"db": {"buckets": [1, 2], "counts": [1], "sum": 0.1, "min": 0.1, "max": 0.1}}}
    with pytest.raises(InvalidBody, match=r"RecordBatch\.ops\.db: buckets, counts: lengths differ"):
        actor.on_record_batch(from_wire(RecordBatch, body))
    with pytest.raises(InvalidBody, match=r"RecordBatch.ops.db.counts\[0\]: expected an integer"):
        from_wire(RecordBatch, {"ops": {"db": {**body["ops"]["db"], "counts": ["1"]}}})
    assert actor.statistics().refused == 1


def test_batch_of_another_precision_is_rebucketed() -> None:
    """A batch recorded with sub_bits=10 lands in a store with sub_bits=7."""
    actor, _, _ = make()
    h = Histogram(10)
    h.record(0.25, times=5)
    actor.on_record_batch(from_wire(RecordBatch, {"ops": {"x": h.to_dict()}}))
    assert actor.store.ops["x"].total.sub_bits == 7 and actor.store.ops["x"].total.count == 5


def test_unknown_op_and_window_in_a_query() -> None:
    """Asking for an op without samples, or a window that does not exist, is a clear error."""
    actor, _, _ = make()
    actor.on_record(Record("a", 0.1))
    with pytest.raises(UnknownOperation, match=r"no samples of operation 'b'; known operations: a"):
        actor.on_report(Report(op="b"))
    with pytest.raises(InvalidBody, match=r"Report\.window: expected one of 10s, 1m, 5m, all"):
        actor.on_report(Report(window="1d"))


def test_slowdown_publishes_alert_once_then_clears() -> None:
    """A jump raises one profiler.bottleneck event with evidence, and one 'cleared' later."""
    actor, clock, ctx = make(jump_factor=3.0, share=1.0, detect_interval=0.0)
    for _ in range(240):  # one minute of calm at 4 batches a second
        actor.on_record_batch(batch("pool.query", 0.005, 10))
        clock.now += 0.25
    assert ctx.events == []
    for _ in range(8):  # two seconds at 200 ms
        actor.on_record_batch(batch("pool.query", 0.2, 10))
        clock.now += 0.25
    raised = [b for t, b in ctx.events if t == ALERT_TOPIC and b["state"] == "raised"]
    assert len(raised) == 1
    assert raised[0]["op"] == "pool.query" and raised[0]["kind"] == "jump"
    assert raised[0]["evidence"]["ratio"] > 3 and raised[0]["profiler"] == "profiler"
    current = actor.on_bottlenecks(Bottlenecks())["bottlenecks"]
    assert [b["kind"] for b in current] == ["jump"] and current[0]["active_seconds"] > 0
    for _ in range(60):  # fifteen calm seconds: the burst leaves the 10 s window
        actor.on_record_batch(batch("pool.query", 0.005, 10))
        clock.now += 0.25
    assert [b["state"] for t, b in ctx.events] == ["raised", "cleared"]
    assert actor.statistics().alerts == 1 and actor.statistics().bottlenecks == 0


def test_configure_sets_thresholds_at_run_time() -> None:
    """A threshold configured by message raises an alert on the next detection."""
    actor, _, ctx = make()
    actor.on_record_batch(batch("api.get", 0.3, 50))
    assert ctx.events == []
    config = actor.on_configure(Configure(thresholds={"api.get": 0.1}, percentile="p90"))
    assert config["thresholds"] == {"api.get": 0.1} and config["percentile"] == "p90"
    assert [(b["op"], b["kind"]) for _, b in ctx.events] == [("api.get", "threshold")]
    actor.on_configure(Configure(thresholds={}))
    assert ctx.events[-1][1]["state"] == "cleared"


@pytest.mark.parametrize(("body", "text"), [
    ({"percentile": "p42"}, "percentile: expected one of p50, p90, p99, p999"),
    ({"thresholds": {"a": -1.0}}, "thresholds.a: expected seconds > 0"),
    ({"jump_factor": 0.5}, "jump_factor: expected a value >= 1.0"),
    ({"share": 1.5}, "share: expected a fraction"),
    ({"windows": [60.0, 10.0]}, "windows: expected distinct increasing seconds"),
    ({"min_samples": "many"}, "min_samples: expected an integer"),
])
def test_configure_refuses_bad_values(body: dict[str, Any], text: str) -> None:
    """Configure bodies are validated field by field, naming the field."""
    with pytest.raises(InvalidBody, match=text):
        from_wire(Configure, body)


def test_configure_windows_reshapes_reports() -> None:
    """New windows change the report's labels; since-start totals stay."""
    actor, _, _ = make()
    actor.on_record(Record("a", 0.1))
    config = actor.on_configure(Configure(windows=[5.0, 30.0]))
    assert config["window_labels"] == ["5s", "30s", "all"]
    assert actor.on_report(Report("a", "all"))["ops"]["a"]["windows"]["all"]["count"] == 1


def test_settings_are_validated_like_the_node_does() -> None:
    """Bad settings fail with the field named; unknown keys are refused."""
    with pytest.raises(InvalidBody, match="slots"):
        from_wire(ProfilerSettings, {"slots": 0})
    with pytest.raises(InvalidBody, match="unexpected field"):
        from_wire(ProfilerSettings, {"windowz": [1.0]})


def test_snapshot_is_json() -> None:
    """The snapshot holds config, statistics, every op's report and bottlenecks, as JSON."""
    actor, _, _ = make(default_threshold=0.01)
    actor.on_record_batch(batch("a", 0.5, 30))
    snap = actor.on_snapshot(Snapshot())
    text = json.dumps(snap)
    assert json.loads(text)["report"]["ops"]["a"]["windows"]["all"]["count"] == 30
    assert snap["bottlenecks"][0]["kind"] == "threshold" and snap["statistics"]["ops"] == 1


def test_reset_forgets_samples() -> None:
    """reset of one op forgets it; an unknown op is named."""
    actor, _, _ = make()
    actor.on_record(Record("a", 0.1))
    assert actor.on_reset(Reset("a")) == 1
    with pytest.raises(UnknownOperation):
        actor.on_reset(Reset("a"))


def test_without_an_event_channel_alerts_are_only_counted() -> None:
    """Outside a node (publish raises RuntimeError) detection still works and counts."""
    clock = ManualClock(500.0)
    ctx = ActorContext("profiler", 1, ProfilerSettings(default_threshold=0.01), "")
    actor = ProfilerActor(ctx, clock=clock)
    actor.on_start()
    actor.on_record_batch(batch("a", 0.5, 30))
    assert actor.statistics().alerts == 1 and actor.statistics().unpublished == 1


def test_handled_message_types() -> None:
    """The actor answers exactly the public profiler.* tags."""
    assert sorted(ProfilerActor.handled_types()) == [
        "profiler.bottlenecks", "profiler.buckets", "profiler.configure", "profiler.record",
        "profiler.record_batch", "profiler.report", "profiler.reset", "profiler.snapshot"]


@attrs.define
class SnapshotContext(PublishingContext):
    """A context that keeps what the actor saves as its snapshot."""

    saved: list[Any] = attrs.field(factory=list)

    def save_snapshot(self, state: Any) -> None:
        self.saved.append(state)


def test_since_start_totals_survive_a_restart() -> None:
    """Totals saved periodically come back in the next incarnation; windows start empty."""
    clock = ManualClock(500.0)
    ctx = SnapshotContext("profiler", 1, ProfilerSettings(snapshot_interval=5.0), "")
    actor = ProfilerActor(ctx, clock=clock)
    actor.on_start()
    actor.on_record_batch(batch("db", 0.02, 40))
    assert ctx.saved == []
    clock.now += 6
    actor.on_record_batch(batch("db", 0.04, 10))
    assert len(ctx.saved) == 1
    saved = unpack_value(pack_value(ctx.saved[-1]))
    nxt = ProfilerActor(SnapshotContext("profiler", 2, ProfilerSettings(), "", snapshot=saved),
                        clock=clock)
    nxt.on_start()
    assert nxt.restored == 1
    report = nxt.on_report(Report("db"))["ops"]["db"]["windows"]
    assert report["all"]["count"] == 50 and report["10s"]["count"] == 0


def test_a_corrupt_snapshot_entry_is_ignored() -> None:
    """A snapshot entry that does not parse is skipped, the rest restored."""
    good = Histogram()
    good.record(0.1, times=3)
    snap = {"v": 1, "totals": {"ok": good.to_dict(), "bad": {"sub_bits": 7, "buckets": [1]}}}
    actor = ProfilerActor(SnapshotContext("profiler", 2, ProfilerSettings(), "", snapshot=snap),
                          clock=ManualClock(500.0))
    actor.on_start()
    assert actor.restored == 1 and sorted(actor.store.ops) == ["ok"]


def test_buckets_count_since_start_below_each_bound() -> None:
    """``profiler.buckets``: per op, samples below each bound (Prometheus' cumulative
    buckets) plus count, sum and errors, over everything since start (written out by hand:
    2 samples of 1 ms and 1 failed one of 10 ms against 2^-10 s, 2^-9 s and 2^-6 s)."""
    actor, clock, _ = make()
    actor.on_record(Record("db.query", 0.001))
    actor.on_record(Record("db.query", 0.001))
    actor.on_record(Record("db.query", 0.010, ok=False))
    clock.now += 400  # past every window: the since-start total still has them
    got = actor.on_buckets(Buckets([2.0**-10, 2.0**-9, 2.0**-6]))["ops"]["db.query"]
    assert got["below"] == [0, 2, 3] and got["count"] == 3 and got["errors"] == 1
    assert got["sum"] == pytest.approx(0.012)
    with pytest.raises(InvalidBody, match=r"Buckets\.bounds: 0\.001 is not a bucket edge"):
        actor.on_buckets(Buckets([0.001]))
