"""Target actors for the connector tests: they record what reaches them durably."""

from __future__ import annotations

import os
import time
from typing import Any

from actors import Actor, handler
from actors.connectors import BrokerMessage


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
