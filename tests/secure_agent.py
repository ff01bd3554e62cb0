"""An agent process for the security tests, run where the test puts it (another network
namespace): it tries a secured node with the keys it is given and reports what happened.

    python tests/secure_agent.py ENDPOINT NODE_KEY [CLIENT_KEY_SECRET]

Prints one JSON object: ``echo`` (the echo reply's ``n``, or the error's class name),
``status`` (how many actors the node listed, or the error), ``stop`` (the node's answer
to ``node.stop`` — an agent key gets ``Forbidden``; the test never passes an operator
key). Without CLIENT_KEY_SECRET it connects with no key at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors import connect
from actors.examples import Ping

TIMEOUT = 3.0
"""Seconds each ask may take: a refused key gets no reply at all, so it times out."""


def attempt(fn: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # what failed is the result
        return type(exc).__name__


def main() -> None:
    endpoint, node_key = sys.argv[1], sys.argv[2]
    keys = {"client_key": sys.argv[3], "node_key": node_key} if len(sys.argv) > 3 else {}
    with connect(endpoint, timeout=TIMEOUT, **keys) as conn:
        result = {
            "echo": attempt(lambda: conn.ask("echo", Ping(7)).n),
            "status": attempt(lambda: len(conn.status().actors)),
            "stop": attempt(conn.stop_node),
        }
        conn.close(linger=0)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
