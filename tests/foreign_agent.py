"""An agent that speaks to a node with pyzmq and msgpack only, as PROTOCOL.md describes.

Run as a script: ``python foreign_agent.py ENDPOINT``. It must not import the project.
"""

import sys
import time

import msgpack
import zmq


def ask(sock, id_, to, type_, body, timeout_ms=3000):
    env = {"v": 1, "kind": "ask", "id": id_, "to": to, "type": type_, "body": body,
           "deadline": time.time() + timeout_ms / 1000}
    sock.send(msgpack.packb(env, use_bin_type=True))
    if not sock.poll(timeout_ms):
        raise SystemExit(f"no reply to {type_}")
    reply = msgpack.unpackb(sock.recv(), raw=False)
    assert reply["id"] == id_, reply
    return reply


def main(endpoint):
    ctx = zmq.Context()
    front = ctx.socket(zmq.DEALER)
    front.linger = 0
    front.connect(endpoint)
    where = ask(front, 1, "node", "node.resolve", {"name": "echo"})
    assert where["kind"] == "reply" and where["type"] == "node.resolved", where
    echo = ctx.socket(zmq.REQ)  # REQ works too: the empty delimiter frame is echoed back
    echo.linger = 0
    echo.connect(where["body"]["endpoint"])
    pong = ask(echo, "req-2", "echo", "echo.ping", {"n": 42, "text": "from afar"})
    assert pong["kind"] == "reply" and pong["type"] == "echo.pong", pong
    assert pong["body"] == {"n": 42, "text": "from afar", "incarnation": 1}, pong
    bad = ask(echo, 3, "echo", "echo.ping", {"n": "forty-two"})
    assert bad["kind"] == "error" and bad["body"]["code"] == "invalid_body", bad
    status = ask(front, 4, "node", "node.status", {})
    names = [row["name"] for row in status["body"]["actors"]]
    assert "echo" in names, status
    leaked = sorted(m for m in ("actors", "messages", "supervisor") if m in sys.modules)
    assert not leaked, f"the foreign agent imported the project: {leaked}"
    for sock in (front, echo):
        sock.close()
    ctx.term()
    print("foreign agent ok")


if __name__ == "__main__":
    main(sys.argv[1])
