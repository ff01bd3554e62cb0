"""OTP's supervisor_SUITE, across processes: strategy × restart type × exit cause.

Each case runs three chaos children a, b, c under one supervisor, makes b exit in one
way, and checks which children restarted (new pid and incarnation), which did not,
that the in-flight ask failed with the right error, and that b serves again.
"""

from __future__ import annotations

import pytest

from actors.examples import Count, Fail
from messages import ActorCrashed, HandlerError
from supervisor import restart_plan, should_restart
from tests.nodes import RunningNode, eventually

STRATEGIES = ["one_for_one", "one_for_all", "rest_for_one"]
RESTARTS = ["permanent", "transient", "temporary"]
CAUSES = {
    "normal": (Fail(how="stop"), None),
    "exception": (Fail(how="raise"), HandlerError),
    "exit": (Fail(how="exit", code=3), ActorCrashed),
    "sigkill": (Fail(how="kill"), ActorCrashed),
    "segfault": (Fail(how="segfault"), ActorCrashed),
    "hang": (Fail(how="hang"), ActorCrashed),
}


def _config(strategy: str, restart: str) -> dict:
    child = {"actor": "chaos", "heartbeat_interval": 0.1, "max_busy": 0.4, "shutdown": 1.0}
    return {"strategy": strategy, "max_restarts": 50, "max_seconds": 10, "children": [
        {**child, "name": "a"},
        {**child, "name": "b", "restart": restart, "on_error": "restart"},
        {**child, "name": "c"},
    ]}


def _rows(conn) -> dict:
    return {r.name: r for r in conn.status().actors}


@pytest.mark.parametrize("cause", list(CAUSES))
@pytest.mark.parametrize("restart", RESTARTS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_matrix(start_node, strategy: str, restart: str, cause: str):
    """b exits by ``cause``: the children the strategy names restart, the rest keep their pid."""
    node: RunningNode = start_node(_config(strategy, restart))
    message, error = CAUSES[cause]
    with node.connect() as conn:
        before = _rows(conn)
        if error is None:
            assert conn.ask("b", message, timeout=5.0) == "stopping"
        else:
            with pytest.raises(error) as info:
                conn.ask("b", message, timeout=5.0)
            assert "'b'" in str(info.value)
        restarted = should_restart(restart, "normal" if cause == "normal" else "abnormal")
        expected = set(restart_plan(strategy, ["a", "b", "c"], "b")) if restarted else set()

        def settled() -> dict | None:
            rows = _rows(conn)
            for name, row in rows.items():
                if name in expected and not (row.incarnation == 2 and row.state == "running"):
                    return None
                if name == "b" and not expected and row.state != "stopped":
                    return None
            return rows

        after = eventually(settled, timeout=10)
        assert after, f"tree did not settle: {_rows(conn)}"
        for name in ("a", "b", "c"):
            if name in expected:
                assert after[name].pid != before[name].pid
                assert after[name].restarts == 1
            elif name == "b":
                assert after[name].state == "stopped" and after[name].pid is None
            else:
                assert (after[name].pid, after[name].incarnation) == (before[name].pid, 1)
        if "b" in expected:
            reply = conn.ask_reply("b", Count(), timeout=5.0)
            assert (reply.value, reply.incarnation) == (1, 2)
        for name in {"a", "c"} - expected:
            assert conn.ask("a" if name == "a" else "c", Count(), timeout=5.0) == 1
