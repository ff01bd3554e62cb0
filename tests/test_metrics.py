"""Prometheus metrics: the ``metrics`` actor scraped over HTTP and parsed by prometheus_client."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.profiler import Histogram, is_edge
from messages import ConfigError
from supervisor import load_config, parse_config
from tests.nodes import RunningNode, eventually, free_port

Families = dict[str, Any]


def scrape(url: str) -> Families:
    """GET ``url`` and parse it as Prometheus' text format: name -> family."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(families: Families, name: str, sample: str | None = None, **labels: str) -> float | None:
    """The value of the sample ``sample`` (default ``name``) of family ``name`` with ``labels``."""
    family = families.get(name)
    for s in family.samples if family else []:
        if s.name == (sample or name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return float(s.value)
    return None


# -- the histogram cut at bucket edges ---------------------------------------------------
def test_below_counts_samples_under_each_edge() -> None:
    """Prometheus' rule: bucket ``le`` counts the observations <= its bound; every sample
    here lies away from the bounds, so the expected counts are written out by hand."""
    h = Histogram()
    for seconds in (0.001, 0.003, 0.003, 0.2, 5.0):
        h.record(seconds)
    bounds = [2.0**-10, 2.0**-8, 2.0**-2, 2.0**2]  # 0.98 ms, 3.9 ms, 0.25 s, 4 s
    assert h.below(bounds) == [0, 3, 4, 4]


def test_below_refuses_a_bound_that_is_not_an_edge() -> None:
    """0.001 s falls inside a bucket: a count there would be a guess, so it is refused."""
    assert is_edge(2.0**-10, 7) and is_edge(1.5 * 2.0**-10, 1) and not is_edge(0.001, 7)
    with pytest.raises(ValueError, match=r"0\.001 is not a bucket edge"):
        Histogram().below([0.001])


# -- configuration ----------------------------------------------------------------------
def _children(config: Any) -> dict[str, Any]:
    return {c.name: c for c in config.root.children}


def test_top_level_key_adds_the_metrics_child() -> None:
    """``"metrics": {"port": N}`` is shorthand for a root child named metrics."""
    config = parse_config({"extends": "defaults", "metrics": {"port": 9999}}, {})
    assert _children(config)["metrics"].actor == "metrics"
    assert _children(config)["metrics"].settings == {"port": 9999}


def test_environment_variable_alone_adds_the_metrics_child() -> None:
    """``AGENTCELL_METRICS__PORT`` turns the exporter on with no config file at all."""
    config = load_config(None, {"AGENTCELL_METRICS__PORT": "9911"})
    assert _children(config)["metrics"].settings == {"port": 9911}


def test_non_loopback_host_needs_a_secured_or_insecure_node() -> None:
    """The node's own binding rule: beyond loopback only with "security" or "insecure"."""
    with pytest.raises(ConfigError, match=r"child 'metrics': host '0\.0\.0\.0' can be reached "
                                          r"from other machines and the node has no \"security\""):
        parse_config({"metrics": {"host": "0.0.0.0"}}, {})
    config = parse_config({"metrics": {"host": "0.0.0.0"}, "insecure": True}, {})
    assert _children(config)["metrics"].settings == {"host": "0.0.0.0"}


def test_bucket_that_is_not_an_edge_is_refused() -> None:
    """A bound must be an exact edge of every profiler histogram (a power of two, or 1.5 x)."""
    with pytest.raises(ConfigError, match=r"0\.001 is not a power of two"):
        parse_config({"metrics": {"buckets": [0.001]}}, {})


def test_metrics_key_and_child_of_that_name_conflict() -> None:
    """Two sources for one child is a mistake the config names."""
    with pytest.raises(ConfigError, match="keep one of them"):
        parse_config({"metrics": {}, "children": [{"name": "metrics", "actor": "metrics"}]}, {})


# -- a real node, scraped ---------------------------------------------------------------
@pytest.fixture
def metrics_node(start_node: Callable[..., RunningNode]) -> tuple[RunningNode, str]:
    """A node with the default actors, echo and the exporter on a free port."""
    port = free_port()
    node = start_node({"extends": "defaults", "metrics": {"port": port}})
    return node, f"http://127.0.0.1:{port}/metrics"


def test_scrape_has_conventional_names_types_and_labels(metrics_node: tuple[RunningNode, str]) -> None:
    """Every part of the node's state appears under its Prometheus name, type and labels."""
    node, url = metrics_node
    with node.connect() as conn:
        conn.ask("breaker", "breaker.force_open", {"resource": "db"})
        conn.ask("health", "health.report", {"component": "disk", "metric": "error_rate",
                                             "value": 0.9})
        for n in range(5):
            conn.ask("echo", "echo.ping", {"n": n})
        conn.ask("pool", "pool.execute", {"sql": "select 1"})

    def ready() -> Families | None:
        f = scrape(url)
        return f if (value(f, "agentcell_operation_duration_seconds",
                           "agentcell_operation_duration_seconds_count", op="echo:echo.ping") or 0) >= 5 \
            else None
    families = eventually(ready, timeout=10)
    assert families, "the profiler's samples of echo.ping never showed"
    types = {name: f.type for name, f in families.items()}
    assert types["agentcell_actor_restarts"] == "counter"
    assert types["agentcell_actor_state"] == "gauge"
    assert types["agentcell_operation_duration_seconds"] == "histogram"
    assert types["agentcell_pool_acquire_wait_seconds"] == "histogram"
    assert types["agentcell_breaker_calls"] == "counter"
    assert value(families, "agentcell_actor_restarts", "agentcell_actor_restarts_total", actor="echo") == 0
    assert value(families, "agentcell_actor_state", actor="echo", state="running") == 1
    assert value(families, "agentcell_actor_state", actor="echo", state="stopped") == 0
    assert value(families, "agentcell_breaker_state", resource="db", state="open") == 1
    assert value(families, "agentcell_health_open_alerts", component="disk", severity="critical",
                 acknowledged="false") == 1
    assert value(families, "agentcell_pool_acquire_wait_seconds",
                 "agentcell_pool_acquire_wait_seconds_count", actor="pool") == 1
    assert value(families, "agentcell_node_up") == 1
    # histogram buckets are cumulative, end at +Inf with the count, and bounds are seconds
    ping = [s for s in families["agentcell_operation_duration_seconds"].samples
            if s.labels.get("op") == "echo:echo.ping" and s.name.endswith("_bucket")]
    les = [s.labels["le"] for s in ping]
    assert les[-1] == "+Inf" and float(les[0]) == 2.0**-16
    counts = [s.value for s in ping]
    assert counts == sorted(counts) and counts[-1] >= 5


def test_sigkill_shows_as_a_restart_within_one_second(metrics_node: tuple[RunningNode, str]) -> None:
    """The issue's bound: a SIGKILL is a restart counter increment on the next scrape, < 1 s."""
    node, url = metrics_node
    before = value(scrape(url), "agentcell_actor_restarts", "agentcell_actor_restarts_total",
                   actor="echo")
    assert before == 0
    with node.connect() as conn:
        pid = conn.status("echo").actors[0].pid
    assert pid is not None
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    seen = eventually(lambda: value(scrape(url), "agentcell_actor_restarts",
                                    "agentcell_actor_restarts_total", actor="echo") == 1,
                      timeout=1.0)
    assert seen, f"no restart on /metrics {time.monotonic() - killed:.2f} s after the SIGKILL"


def test_mailbox_backlog_shows_in_status_and_metrics(start_node: Callable[..., RunningNode]) -> None:
    """Tells queued behind a slow handler are counted as waiting at the next heartbeat."""
    port = free_port()
    node = start_node({"metrics": {"port": port}, "children": [
        {"name": "chaos", "actor": "chaos", "heartbeat_interval": 0.5}]})
    with node.connect() as conn:
        conn.tell("chaos", "chaos.fail", {"how": "sleep", "seconds": 0.5})
        for _ in range(10):
            conn.tell("chaos", "chaos.count", {})
        # the run ends within one heartbeat interval, whose report holds all ten
        seen = eventually(lambda: conn.status("chaos").actors[0].mailbox == 10, timeout=10)
    assert seen, "the ten counts queued behind the sleep were not reported"
    families = scrape(f"http://127.0.0.1:{port}/metrics")
    assert families["agentcell_actor_mailbox_waiting"].type == "gauge"


def test_secured_node_is_scraped(start_node: Callable[..., RunningNode], tmp_path: Any) -> None:
    """On a node with CurveZMQ security the exporter reads the node as the node's own client."""
    from actors import write_keys

    write_keys(tmp_path / "keys", operators=["ops"], agents=["bot"])
    port = free_port()
    start_node({"security": {"keys": str(tmp_path / "keys")}, "metrics": {"port": port},
                "children": [{"name": "echo", "actor": "echo"}]})
    families = eventually(lambda: (f := scrape(f"http://127.0.0.1:{port}/metrics"))
                          and value(f, "agentcell_node_up") == 1 and f, timeout=10)
    assert families, "the exporter could not read the secured node"
    assert value(families, "agentcell_actor_state", actor="echo", state="running") == 1
