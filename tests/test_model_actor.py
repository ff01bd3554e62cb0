"""The model actor on a real node with a small PyTorch MLP the test builds: dynamic
batching (concurrent asks share a forward pass, each gets its own row), weights from a
state_dict file, bad rows failing alone, and out-of-memory as a supervised restart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from actors.model import Batcher, Infer, ModelStatistics, Output  # noqa: E402
from messages import ActorCrashed, HandlerError  # noqa: E402
from tests.nodes import RunningNode, eventually  # noqa: E402

MLP = '''
import torch


class Mlp(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(),
                                        torch.nn.Linear(width, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x == -1).all(dim=1).any()):  # the test's way to make the process run out of memory
            raise MemoryError("a row of -1s asks for more memory than there is")
        return self.body(x)


def build(width: int = 8, seed: int = 7) -> torch.nn.Module:
    torch.manual_seed(seed)
    return Mlp(width)
'''


def expected(rows: list[list[float]], **args: Any) -> list[list[float]]:
    """What the MLP answers, computed here in-process with the same factory."""
    namespace: dict[str, Any] = {}
    exec(compile(MLP, "tinymlp.py", "exec"), namespace)
    model = namespace["build"](**args).eval()
    with torch.inference_mode():
        out: list[list[float]] = model(torch.tensor(rows, dtype=torch.float32)).tolist()
    return out


def model_node(start_node: Callable[..., RunningNode], **settings: Any) -> RunningNode:
    return start_node({"max_restarts": 10, "children": [
        {"name": "model", "actor": "model", "settings": {"factory": "tinymlp:build", **settings}}]},
        files={"tinymlp.py": MLP})


ROWS = [[float(i), float(i % 3), -0.5 * i, 1.0] for i in range(24)]


def test_concurrent_asks_share_a_forward_pass_and_each_gets_its_row(
        start_node: Callable[..., RunningNode]) -> None:
    """24 asks in flight at once with max_batch 8: they run in batches of more than one row,
    never more than 8, and each answer is the MLP's row for that ask's input."""
    node = model_node(start_node, max_batch=8, max_wait_ms=50)
    with node.connect() as conn:
        replies = conn.ask_many("model", [Infer(row) for row in ROWS], window=24, timeout=30)
        stats = conn.ask("model", "actor.statistics", {}, timeout=5)
    assert all(isinstance(r, Output) for r in replies)
    for got, want in zip([r.output for r in replies], expected(ROWS), strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert max(r.batch for r in replies) > 1 and all(r.batch <= 8 for r in replies)
    assert isinstance(stats, ModelStatistics)
    assert stats.inferences == 24 and stats.batches < 24 and stats.largest_batch <= 8


def test_a_lone_ask_waits_no_longer_than_max_wait(start_node: Callable[..., RunningNode]) -> None:
    """One ask with nobody to share with runs alone once max_wait_ms is over; max_batch 1
    never batches."""
    node = model_node(start_node, max_batch=64, max_wait_ms=5)
    with node.connect() as conn:
        assert conn.ask("model", Infer(ROWS[3]), timeout=5).batch == 1
    unbatched = model_node(start_node, max_batch=1)
    with unbatched.connect() as conn:
        replies = conn.ask_many("model", [Infer(row) for row in ROWS[:8]], window=8, timeout=10)
    assert {r.batch for r in replies} == {1}


def test_weights_load_from_a_state_dict_file(start_node: Callable[..., RunningNode],
                                             tmp_path: Path) -> None:
    """A state_dict saved from a model of other weights replaces the factory's: the answers
    are that model's."""
    namespace: dict[str, Any] = {}
    exec(compile(MLP, "tinymlp.py", "exec"), namespace)
    torch.save(namespace["build"](seed=99).state_dict(), tmp_path / "weights.pt")
    node = model_node(start_node, state_dict=str(tmp_path / "weights.pt"), max_batch=4,
                      max_wait_ms=1)
    with node.connect() as conn:
        got = conn.ask("model", Infer(ROWS[5]), timeout=10).output
    assert got == pytest.approx(expected([ROWS[5]], seed=99)[0], rel=1e-5, abs=1e-6)
    assert got != pytest.approx(expected([ROWS[5]])[0], rel=1e-5, abs=1e-6)


def test_a_bad_row_fails_alone(start_node: Callable[..., RunningNode]) -> None:
    """A row of the wrong width in a batch fails its own ask (the batch is run again row by
    row); the others in it are answered; input_shape refuses it before it is queued."""
    node = model_node(start_node, max_batch=8, max_wait_ms=50)
    rows: list[list[float]] = [*ROWS[:3], [1.0, 2.0], *ROWS[3:6]]
    with node.connect() as conn:
        replies = conn.ask_many("model", [Infer(r) for r in rows], window=8, timeout=10,
                                return_exceptions=True)
    assert isinstance(replies[3], HandlerError)
    assert all(isinstance(r, Output) for i, r in enumerate(replies) if i != 3)
    shaped = model_node(start_node, input_shape=[4])
    with shaped.connect() as conn, pytest.raises(Exception, match=r"shape \[4\]"):
        conn.ask("model", Infer([1.0, 2.0]), timeout=5)


def test_out_of_memory_is_a_supervised_restart(start_node: Callable[..., RunningNode]) -> None:
    """A forward pass that runs out of memory ends the process: every ask in flight fails at
    once with ActorCrashed (not a timeout), and the next incarnation serves."""
    node = model_node(start_node, max_batch=8, max_wait_ms=200)
    with node.connect() as conn:
        assert conn.ask("model", Infer(ROWS[0]), timeout=10).batch == 1
    results: dict[int, Any] = {}

    def ask(index: int, row: list[float]) -> None:
        with node.connect() as mine:
            try:
                results[index] = mine.ask("model", Infer(row), timeout=20)
            except Exception as exc:
                results[index] = exc

    rows = [*ROWS[1:4], [-1.0] * 4]
    threads = [threading.Thread(target=ask, args=(i, row)) for i, row in enumerate(rows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    assert len(results) == 4
    assert isinstance(results[3], ActorCrashed), results  # its batch, the whole process, died
    # the others ran before the fatal batch (answered) or shared it (failed at once): none
    # waited out its 20 s timeout
    assert all(isinstance(r, (Output, ActorCrashed)) for r in results.values()), results
    with node.connect() as conn:
        back = eventually(lambda: _answers(conn), 20)
        status = {r.name: r for r in conn.status().actors}["model"]
    assert back and status.incarnation == 2
    assert "MemoryError" in node.log_text()


def _answers(conn: Any) -> bool:
    try:
        return bool(conn.ask("model", Infer(ROWS[1]), timeout=5).output)
    except Exception:
        return False


def test_batcher_groups_by_size_and_time() -> None:
    """The batcher alone: rows queued while a batch runs make the next batch (up to
    max_batch), and a row that arrives alone runs after max_wait."""
    seen: list[int] = []
    gate = threading.Event()

    def run(rows: list[Any]) -> list[Any]:
        seen.append(len(rows))
        gate.wait(5)
        return [r * 2 for r in rows]

    batcher = Batcher(run, lambda out, n: (out, n), max_batch=3, max_wait=0.0, max_queue=10,
                      is_fatal=lambda exc: False, fatal=lambda exc, n: None)
    try:
        first = batcher.submit(1)
        assert eventually(lambda: seen == [1])
        rest = [batcher.submit(i) for i in range(2, 7)]  # queued while the first batch runs
        gate.set()
        results = [f.result(5) for f in [first, *rest]]
    finally:
        batcher.close()
    assert results == [(2, 1), (4, 3), (6, 3), (8, 3), (10, 2), (12, 2)]
    assert seen == [1, 3, 2]
