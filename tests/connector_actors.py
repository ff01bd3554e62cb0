"""Target actors for the connector tests: they record what reaches them durably."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from actors import Actor, handler
from actors.connectors import BrokerMessage
from tests.nodes import eventually


class Collector(Actor):
    """Appends each message's id to ``<data_dir>/<name>.ids`` (one ``write`` per line, so a
    SIGKILL loses nothing already handled), then answers with the payload and a count.

    A payload ``{"fail": true}`` makes the handler raise (a message the target refuses);
    setting ``delay`` makes each message take that many seconds (a slow consumer).
    """

    def on_start(self) -> None:
        path = os.path.join(self.context.data_dir, f"{self.name}.ids")
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0
        self.delay = float(self.context.settings.get("delay", 0.0))

    def on_stop(self) -> None:
        os.close(self.fd)

    @handler
    def on_message(self, msg: BrokerMessage) -> dict[str, Any]:
        if isinstance(msg.payload, dict) and msg.payload.get("fail"):
            raise RuntimeError(f"collector refuses message {msg.message_id}")
        if self.delay:
            time.sleep(self.delay)  # simulated work, so that messages queue up in the broker
        os.write(self.fd, f"{msg.message_id} {int(msg.redelivered)} {self.context.incarnation}\n"
                 .encode())
        self.count += 1
        return {"id": msg.message_id, "payload": msg.payload, "count": self.count,
                "topic": msg.topic, "incarnation": self.context.incarnation}


def handled(data_dir: Any, name: str = "collector") -> list[tuple[str, int]]:
    """Every (message id, incarnation) the collector recorded, in order, with repeats."""
    path = os.path.join(str(data_dir), f"{name}.ids")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [(fields[0], int(fields[2])) for fields in map(str.split, f) if len(fields) == 3]


def handled_ids(data_dir: Any, name: str = "collector") -> list[str]:
    """Every message id the collector recorded, in order, with repeats."""
    return [message_id for message_id, _ in handled(data_dir, name)]


def kill_mid_stream(node: Any, conn: Any, total: int, stats: Callable[[], Any]) -> Any:
    """SIGKILL the collector once it has handled 50 of ``total`` messages ``m0``...; wait until
    every one is handled and acknowledged; check each was handled at least once, by both
    incarnations between them. Prints and returns the bridge's statistics."""
    assert eventually(lambda: len(handled_ids(node.data_dir)) >= 50, timeout=20)
    pid = {row.name: row.pid for row in conn.status().actors}["collector"]
    os.kill(pid, signal.SIGKILL)
    assert eventually(lambda: len(set(handled_ids(node.data_dir))) == total, timeout=30), \
        f"only {len(set(handled_ids(node.data_dir)))} of {total} messages were handled"
    after = eventually(lambda: (s := stats()).acked == total and s, timeout=10)
    assert after, "not every message was acknowledged"
    ids = handled_ids(node.data_dir)
    print(f"{total} messages, {len(ids) - len(set(ids))} handled twice, {after.retries} re-asks")
    assert set(ids) == {f"m{i}" for i in range(total)}
    assert max(Counter(ids).values()) <= 2, "a message was handled more than once per crash"
    assert {inc for _, inc in handled(node.data_dir)} == {1, 2}, "the kill did not interrupt the stream"
    assert after.failed == 0 and after.dropped == 0
    return after
