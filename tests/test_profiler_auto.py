"""Every actor's handlers are profiled automatically when the node runs a profiler."""

from actors.examples import Fail, Ping
from messages import HandlerError
from tests.nodes import eventually


def test_handlers_are_profiled_without_user_code(start_node):
    """Asks to echo and chaos show up in profiler.report as <actor>:<type>, errors counted."""
    node = start_node({"children": [{"name": "profiler", "actor": "profiler"},
                                    {"name": "echo", "actor": "echo"},
                                    {"name": "chaos", "actor": "chaos"}]})
    with node.connect() as conn:
        for i in range(25):
            conn.ask("echo", Ping(n=i), timeout=5.0)
        try:
            conn.ask("chaos", Fail(how="raise"), timeout=5.0)
        except HandlerError:
            pass

        def report():
            ops = conn.ask("profiler", "profiler.report", {}, timeout=5.0)["ops"]
            echo = ops.get("echo:echo.ping", {}).get("windows", {}).get("all", {})
            chaos = ops.get("chaos:chaos.fail", {}).get("windows", {}).get("all", {})
            return (echo, chaos) if echo.get("count") == 25 and chaos.get("errors") == 1 else None

        found = eventually(report, timeout=10)
    assert found, "handler timings did not reach the profiler"
    echo, _ = found
    assert 0 < echo["p50"] < 1.0
    table = node.cli("profile")
    assert table.returncode == 0 and "echo:echo.ping" in table.stdout
