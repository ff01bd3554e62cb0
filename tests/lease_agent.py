"""An agent process for the fast-lane tests: leases connections and runs statements.

    python tests/lease_agent.py ENDPOINT POOL CONNECTIONS

Prints one JSON line when its first lease is settled (``{"ready": ..., "stats": ...}``),
then runs ``select 1`` every 10 ms on whatever the lease allows (through the actor when
it allows nothing) until its stdin closes; then it gives the lease back, prints its
final statistics as a JSON line and exits 0. Killing it instead is part of the tests.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import attrs

from actors import connect
from actors.pool import PoolClient


def main() -> None:
    endpoint, pool, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    with connect(endpoint) as node:
        client = PoolClient(node, pool, connections=want)
        print(json.dumps({"ready": True, "stats": attrs.asdict(client.statistics())}), flush=True)
        errors = 0
        while not stop.wait(0.01):
            try:
                client.execute("select 1", timeout=5)
            except Exception as exc:  # counted; the tests read the statistics
                errors += 1
                last = f"{type(exc).__name__}: {exc}"
                if errors == 1:
                    print(json.dumps({"error": last}), flush=True)
        client.close()
        print(json.dumps({"done": True, "errors": errors,
                          "stats": attrs.asdict(client.statistics())}), flush=True)


if __name__ == "__main__":
    main()
