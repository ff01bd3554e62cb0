"""Runtime-core benchmark (issue 2): each figure beside its baseline measured in the same run.

1. Ask round trip, one in flight, agent process -> echo actor of a real node
   (``run_node.py --config``), beside raw pyzmq DEALER<->ROUTER msgpack ping-pong between two
   processes, Thespian multiprocTCPBase ask, and a Ray actor call (Ray kept on 127.0.0.1).
   Targets (issue 17): >= 80 % of raw, client CPU per ask <= 1.3x raw's; the asyncio client
   with one ask in flight >= 80 % of raw pyzmq asyncio of the same shape.
2. 100 asks in flight (``ask_many``; the asyncio client with 100 tasks) and one-way tells
   (to ``chaos``, counted by chaos.count), beside raw pyzmq with the same pipelining.
   Targets: ask_many >= 60 % of raw; asyncio >= 80 % of raw pyzmq asyncio of the same shape;
   tells >= 50 % of raw.
3. Memory of one idle actor process (RSS, PSS) beside a bare Python process that imports zmq.

Run: PYTHONPATH=$PWD .venv/bin/python bench/bench_core.py   (about 45 s on 2 cores)
Every process it starts is killed by pid at the end.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _bench_util as bu

ROUNDS = 15         # interleaved rounds of each round-trip measurement
RT_N = 1000         # asks per round
PIPE_ROUNDS = 5
PIPE_N = 10_000     # asks per pipelined round
TELL_N = 20_000     # tells per round
WINDOW = 100
DEADLINE = 240.0    # the whole bench gives up (and cleans up) past this


def rate(n: int, fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def best_and_median(fns: dict[str, Any], n: int, rounds: int = ROUNDS) -> dict[str, Any]:
    """Run each fn ``rounds`` times, interleaved (order reversed every other round, so that
    load from other processes drifts onto all alike). Per fn: (median rate, best rate, rates).
    """
    got: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):
            got[k].append(rate(n, fns[k]))
    return {k: (bu.median(v), max(v), v) for k, v in got.items()}


def paired(res: dict[str, Any], a: str, b: str) -> float:
    """Median over rounds of rate(a)/rate(b) measured in the same round."""
    return bu.median([x / y for x, y in zip(res[a][2], res[b][2], strict=True)])


# -- raw pyzmq client side -----------------------------------------------------------------
class RawClient:
    def __init__(self, port: int, curve: tuple[bytes, bytes, bytes] | None = None) -> None:
        """``curve``: (server public, client public, client secret) for a CURVE server."""
        import zmq
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.sndhwm = self.sock.rcvhwm = 100_000
        if curve is not None:
            self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = curve
        self.sock.connect(f"tcp://127.0.0.1:{port}")
        self.ids = 0

    def roundtrip(self, n: int) -> None:
        import msgpack
        send, recv, unpackb = self.sock.send, self.sock.recv, msgpack.unpackb
        for _ in range(n):
            self.ids += 1
            send(bu.raw_request(self.ids))
            rep = unpackb(recv(), raw=False)
            assert rep["id"] == self.ids

    def pipelined(self, n: int, window: int = WINDOW) -> None:
        import msgpack
        send, recv, unpackb = self.sock.send, self.sock.recv, msgpack.unpackb
        sent = got = 0
        while sent < min(window, n):
            sent += 1
            send(bu.raw_request(sent))
        while got < n:
            unpackb(recv(), raw=False)
            got += 1
            if sent < n:
                sent += 1
                send(bu.raw_request(sent))

    def tells(self, n: int) -> int:
        import msgpack
        send = self.sock.send
        self.ids += 1
        send(bu.raw_request(self.ids, "ask", "count"))
        before = msgpack.unpackb(self.sock.recv(), raw=False)["b"]
        for i in range(n):
            send(bu.raw_request(i, "tell"))
        self.ids += 1
        send(bu.raw_request(self.ids, "ask", "count"))
        return int(msgpack.unpackb(self.sock.recv(), raw=False)["b"]) - before

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


async def raw_async_pipelined(port: int, n: int, window: int = WINDOW) -> None:
    """Raw pyzmq with the asyncio client's shape: ``window`` tasks, one reader routing by id."""
    import msgpack
    import zmq
    import zmq.asyncio
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"tcp://127.0.0.1:{port}")
    pending: dict[int, asyncio.Future[Any]] = {}
    loop = asyncio.get_running_loop()
    ids = iter(range(1, 10**9))

    async def reader() -> None:
        while True:
            rep = msgpack.unpackb(await sock.recv(), raw=False)
            fut = pending.pop(rep["id"], None)
            if fut is not None:
                fut.set_result(rep)

    async def worker(k: int) -> None:
        for _ in range(k):
            id_ = next(ids)
            fut = pending[id_] = loop.create_future()
            await sock.send(bu.raw_request(id_))
            await fut

    task = asyncio.create_task(reader())
    await asyncio.gather(*(worker(n // window) for _ in range(window)))
    task.cancel()
    sock.close(0)
    ctx.term()


class RawAsyncClient:
    """Raw pyzmq asyncio with one ask in flight: send, await the reply (the asyncio client's
    one-in-flight control). Made and used on one persistent event loop."""

    def __init__(self, port: int) -> None:
        import zmq
        import zmq.asyncio
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(f"tcp://127.0.0.1:{port}")
        self.ids = 0

    async def roundtrip(self, n: int) -> None:
        import msgpack
        sock, unpackb = self.sock, msgpack.unpackb
        for _ in range(n):
            self.ids += 1
            await sock.send(bu.raw_request(self.ids))
            rep = unpackb(await sock.recv(), raw=False)
            assert rep["id"] == self.ids

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


# -- our runtime ---------------------------------------------------------------------------
async def ours_async_roundtrip(conn: Any, n: int) -> None:
    """Our asyncio client with one ask in flight (on a persistent connection and loop)."""
    from actors.examples import Ping
    ask = conn.ask
    for i in range(n):
        await ask("echo", Ping(i), timeout=5.0)


async def ours_async_pipelined(endpoint: str, n: int, window: int = WINDOW, **options: Any) -> None:
    import actors
    from actors.examples import Ping
    async with actors.connect_async(endpoint, **options) as conn:
        await conn.ask("echo", Ping(0), timeout=5.0)

        async def worker(k: int) -> None:
            for i in range(k):
                await conn.ask("echo", Ping(i), timeout=10.0)

        await asyncio.gather(*(worker(n // window) for _ in range(window)))


def cpu_us(n: int, fn: Any, server_pid: int) -> tuple[float, float]:
    """(client CPU, server process CPU) in microseconds per message while ``fn`` runs:
    independent of the load other processes put on the machine, unlike wall-clock rates."""
    import psutil
    server = psutil.Process(server_pid)
    s0, c0 = server.cpu_times(), time.process_time()
    fn()
    c1, s1 = time.process_time(), server.cpu_times()
    return ((c1 - c0) * 1e6 / n,
            ((s1.user + s1.system) - (s0.user + s0.system)) * 1e6 / n)


def envelope_client_pipelined(actor_endpoint: str, n: int, window: int = WINDOW) -> None:
    """A bare pyzmq DEALER sending real envelopes straight to the echo actor: the actor host's
    own capacity, without our client library (diagnostic row)."""
    import zmq

    from messages import KIND_ASK, Envelope, decode, encode
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(actor_endpoint)
    send, recv = sock.send, sock.recv

    def req(i: int) -> bytes:
        return encode(Envelope(KIND_ASK, i, "echo", "echo.ping", {"n": i, "text": ""},
                               time.time() + 10))
    sent = got = 0
    while sent < min(window, n):
        sent += 1
        send(req(sent))
    while got < n:
        env = decode(recv())
        assert env.kind == "reply", env
        got += 1
        if sent < n:
            sent += 1
            send(req(sent))
    sock.close(0)
    ctx.term()


# -- Thespian ------------------------------------------------------------------------------
def thespian_roundtrip(procs: bu.Procs) -> tuple[float, float] | str:
    try:
        from thespian.actors import Actor, ActorSystem
    except ImportError:
        return "thespian is not installed"

    class ThespianEcho(Actor):  # type: ignore[misc]
        def receiveMessage(self, message: Any, sender: Any) -> None:
            if isinstance(message, dict):
                self.send(sender, message)

    # the actor class must be importable by name in thespian's forked processes
    ThespianEcho.__module__ = "_bench_util"
    ThespianEcho.__qualname__ = ThespianEcho.__name__ = "ThespianEcho"
    bu.ThespianEcho = ThespianEcho  # type: ignore[attr-defined]
    port = bu.free_port()
    asys = ActorSystem("multiprocTCPBase", {"Admin Port": port})
    try:
        procs.remember_descendants()
        echo = asys.createActor(ThespianEcho)
        procs.remember_descendants()
        for i in range(200):
            asys.ask(echo, {"n": i}, 5)
        rates = []
        for _ in range(3):
            n = 1000
            t0 = time.perf_counter()
            for i in range(n):
                assert asys.ask(echo, {"n": i}, 5) == {"n": i}
            rates.append(n / (time.perf_counter() - t0))
        return bu.median(rates), max(rates)
    finally:
        procs.remember_descendants()
        asys.shutdown()


# -- the bench -----------------------------------------------------------------------------
def main() -> int:
    started = time.monotonic()
    from actors import connect
    from actors.examples import Count, Ping
    from tests.nodes import start_node_process

    procs = bu.Procs()
    node = None
    out: list[str] = []
    watchdog = bu.watchdog("bench_core", DEADLINE, lambda: procs.stop_nodes([node]))
    tmp = Path(tempfile.mkdtemp(prefix="bench-core-"))
    try:
        port = bu.free_port()
        procs.popen([bu.PY, str(Path(__file__).parent / "_bench_util.py"), "raw-server", str(port)])
        node = start_node_process(tmp, {"children": [
            {"name": "echo", "actor": "echo"}, {"name": "chaos", "actor": "chaos"}]})
        procs.pids |= node.descendants() | {node.pid}
        bu.wait_port(port)
        raw = RawClient(port)
        raw.roundtrip(500)
        conn = connect(node.endpoint)
        for i in range(500):
            conn.ask("echo", Ping(i), timeout=5.0)
        actor_endpoint = conn.resolve("echo").endpoint

        def ours_rt(n: int = RT_N) -> None:
            ask = conn.ask
            for i in range(n):
                ask("echo", Ping(i), timeout=5.0)

        echo_pid = conn.status("echo").actors[0].pid
        assert echo_pid is not None
        raw_pid = procs.popens[0].pid
        loop = asyncio.new_event_loop()
        import actors
        aconn = actors.connect_async(node.endpoint)
        araw = loop.run_until_complete(_make(lambda: RawAsyncClient(port)))
        loop.run_until_complete(ours_async_roundtrip(aconn, 500))
        loop.run_until_complete(araw.roundtrip(500))

        def ours_async_rt(n: int = RT_N) -> None:
            loop.run_until_complete(ours_async_roundtrip(aconn, n))

        def raw_async_rt(n: int = RT_N) -> None:
            loop.run_until_complete(araw.roundtrip(n))

        print(f"[{time.monotonic() - started:5.1f}s] round trips ...", flush=True)
        rt = best_and_median({"ours": ours_rt, "raw": lambda: raw.roundtrip(RT_N),
                              "direct": lambda: envelope_client_pipelined(actor_endpoint, RT_N, 1),
                              "ours_async": ours_async_rt, "raw_async": raw_async_rt},
                             RT_N)
        cpu = {"ours": cpu_us(3000, lambda: ours_rt(3000), echo_pid),
               "raw": cpu_us(3000, lambda: raw.roundtrip(3000), raw_pid),
               "direct": cpu_us(3000, lambda: envelope_client_pipelined(actor_endpoint, 3000, 1),
                                echo_pid),
               "ours_async": cpu_us(3000, lambda: ours_async_rt(3000), echo_pid),
               "raw_async": cpu_us(3000, lambda: raw_async_rt(3000), raw_pid)}
        loop.run_until_complete(aconn.close())
        araw.close()
        loop.close()
        print(f"[{time.monotonic() - started:5.1f}s] thespian ...", flush=True)
        th = thespian_roundtrip(procs)
        print(f"[{time.monotonic() - started:5.1f}s] ray (child process) ...", flush=True)
        ray = bu.run_ray(procs, "ray-core", 2000, timeout=90)

        raw_rt = rt["raw"][0]
        ratio = paired(rt, "ours", "raw")

        def us(k: str) -> list[str]:
            return [f"{cpu[k][0]:.0f}", f"{cpu[k][1]:.0f}"]
        cpu_ratio = cpu["ours"][0] / cpu["raw"][0]
        a_ratio = paired(rt, "ours_async", "raw_async")
        rows = [["agent → echo actor (ours, conn.ask)", f"{rt['ours'][0]:,.0f}",
                 f"{rt['ours'][1]:,.0f}", f"{ratio:.0%}", *us("ours"),
                 f"≥ 80 %; CPU ≤ 1.3× raw ({cpu_ratio:.2f}×)",
                 "PASS" if ratio >= 0.80 and cpu_ratio <= 1.3 else "FAIL"],
                ["raw pyzmq DEALER↔ROUTER + msgpack", f"{raw_rt:,.0f}", f"{rt['raw'][1]:,.0f}",
                 "100%", *us("raw"), "baseline", ""],
                ["bare DEALER → echo actor host, real envelopes (diagnostic)",
                 f"{rt['direct'][0]:,.0f}", f"{rt['direct'][1]:,.0f}",
                 f"{paired(rt, 'direct', 'raw'):.0%}", *us("direct"), "", ""],
                ["asyncio, one in flight: ours (connect_async, one task)",
                 f"{rt['ours_async'][0]:,.0f}", f"{rt['ours_async'][1]:,.0f}",
                 f"{paired(rt, 'ours_async', 'raw'):.0%}", *us("ours_async"),
                 f"≥ 80 % of the control ({a_ratio:.0%})", "PASS" if a_ratio >= 0.80 else "FAIL"],
                ["asyncio, one in flight: raw pyzmq asyncio (control)",
                 f"{rt['raw_async'][0]:,.0f}", f"{rt['raw_async'][1]:,.0f}",
                 f"{paired(rt, 'raw_async', 'raw'):.0%}", *us("raw_async"), "", ""]]
        if isinstance(th, tuple):
            rows.append(["Thespian multiprocTCPBase ask", f"{th[0]:,.0f}", f"{th[1]:,.0f}",
                         f"{th[0] / raw_rt:.0%}", "", "", "", ""])
        else:
            rows.append(["Thespian multiprocTCPBase ask", "not measured", th, "", "", "", "", ""])
        if isinstance(ray, dict):
            rows.append([f"Ray actor call (node ip {ray['ip']})", f"{ray['roundtrip']:,.0f}", "",
                         f"{ray['roundtrip'] / raw_rt:.0%}", "", "", "", ""])
        else:
            rows.append(["Ray actor call", "not measured", ray, "", "", "", "", ""])
        out.append(bu.table(f"1. Ask round trip, one in flight (round trips/s; median and best "
                            f"of {ROUNDS} interleaved rounds x {RT_N}; Thespian 3 x 1000; "
                            "Ray 1 x 2000; Thespian and Ray vs the raw median; asyncio rows on one "
                            "persistent loop and connection; CPU µs per round "
                            "trip over 3000 more, client process and server process)",
                            ["", "median /s", "best /s", "of raw (paired median)",
                             "client CPU µs", "server CPU µs", "target", ""], rows))
        print(out[-1], flush=True)

        print(f"[{time.monotonic() - started:5.1f}s] pipelined ...", flush=True)
        tell_conn = connect(node.endpoint, send_hwm=TELL_N + 1000)
        tell_conn.ask("chaos", Count(), timeout=5.0)
        handled: list[int] = []

        def ours_tells() -> None:
            before = tell_conn.ask("chaos", Count(), timeout=5.0)
            tell = tell_conn.tell
            msg = Count()
            for _ in range(TELL_N):
                tell("chaos", msg)
            after = tell_conn.ask("chaos", Count(), timeout=60.0)
            handled.append(after - before - 1)

        raw_handled: list[int] = []
        many_msgs = [Ping(i) for i in range(PIPE_N)]

        def ours_many() -> None:
            conn.ask_many("echo", many_msgs, window=WINDOW, timeout=60.0)

        pipe = best_and_median({
            "ours_many": ours_many,
            "ours_async": lambda: asyncio.run(ours_async_pipelined(node.endpoint, PIPE_N)),
            "raw_async": lambda: asyncio.run(raw_async_pipelined(port, PIPE_N)),
            "env_direct": lambda: envelope_client_pipelined(actor_endpoint, PIPE_N),
            "raw": lambda: raw.pipelined(PIPE_N),
        }, PIPE_N, rounds=PIPE_ROUNDS)
        tells = best_and_median({"ours": ours_tells,
                                 "raw": lambda: raw_handled.append(raw.tells(TELL_N))},
                                TELL_N, rounds=PIPE_ROUNDS)
        chaos_pid = conn.status("chaos").actors[0].pid
        assert chaos_pid is not None
        pcpu = {
            "ours_many": cpu_us(PIPE_N, ours_many, echo_pid),
            "ours_async": cpu_us(PIPE_N, lambda: asyncio.run(ours_async_pipelined(node.endpoint, PIPE_N)),
                                 echo_pid),
            "raw_async": cpu_us(PIPE_N, lambda: asyncio.run(raw_async_pipelined(port, PIPE_N)),
                                raw_pid),
            "env_direct": cpu_us(PIPE_N, lambda: envelope_client_pipelined(actor_endpoint, PIPE_N),
                                 echo_pid),
            "raw": cpu_us(PIPE_N, lambda: raw.pipelined(PIPE_N), raw_pid),
            "tell_ours": cpu_us(TELL_N, ours_tells, chaos_pid),
            "tell_raw": cpu_us(TELL_N, lambda: raw_handled.append(raw.tells(TELL_N)), raw_pid)}

        def pus(k: str) -> list[str]:
            return [f"{pcpu[k][0]:.0f}", f"{pcpu[k][1]:.0f}"]
        p_many, p_ours, p_raw_async, p_env = (paired(pipe, k, "raw") for k in
                                              ("ours_many", "ours_async", "raw_async", "env_direct"))
        t_ours = paired(tells, "ours", "raw")
        r_pipe, r_tell = pipe["raw"][0], tells["raw"][0]
        pa_ratio = paired(pipe, "ours_async", "raw_async")
        rows = [
            ["100 asks in flight: ours (conn.ask_many, window of 100)", f"{pipe['ours_many'][0]:,.0f}",
             f"{pipe['ours_many'][1]:,.0f}", f"{p_many:.0%}", *pus("ours_many"), "≥ 60 %",
             "PASS" if p_many >= 0.6 else "FAIL"],
            ["100 asks in flight: ours (connect_async, 100 tasks)", f"{pipe['ours_async'][0]:,.0f}",
             f"{pipe['ours_async'][1]:,.0f}", f"{p_ours:.0%}", *pus("ours_async"),
             f"≥ 80 % of the control ({pa_ratio:.0%})", "PASS" if pa_ratio >= 0.8 else "FAIL"],
            ["100 in flight: raw pyzmq (sync, window of 100)", f"{r_pipe:,.0f}",
             f"{pipe['raw'][1]:,.0f}", "100%", *pus("raw"), "baseline", ""],
            ["100 in flight: raw pyzmq asyncio, 100 tasks (client-shape control)",
             f"{pipe['raw_async'][0]:,.0f}", f"{pipe['raw_async'][1]:,.0f}",
             f"{p_raw_async:.0%}", *pus("raw_async"), "", ""],
            ["100 in flight: bare DEALER → echo actor host, real envelopes (diagnostic)",
             f"{pipe['env_direct'][0]:,.0f}", f"{pipe['env_direct'][1]:,.0f}",
             f"{p_env:.0%}", *pus("env_direct"), "", ""],
            [f"tells: ours (conn.tell chaos.count, handled {min(handled):,}/{TELL_N:,} min)",
             f"{tells['ours'][0]:,.0f}", f"{tells['ours'][1]:,.0f}",
             f"{t_ours:.0%}", *pus("tell_ours"), "≥ 50 %",
             "PASS" if t_ours >= 0.5 and min(handled) == TELL_N else "FAIL"],
            [f"tells: raw pyzmq (handled {min(raw_handled):,}/{TELL_N:,} min)", f"{r_tell:,.0f}",
             f"{tells['raw'][1]:,.0f}", "100%", *pus("tell_raw"), "baseline", ""],
        ]
        out.append(bu.table(f"2. Pipelined (messages/s; median and best of {PIPE_ROUNDS} interleaved rounds; "
                            f"{PIPE_N:,} asks or {TELL_N:,} tells + 1 ask each; a tell round ends "
                            "when the counting ask answers; CPU µs per message over one more run)",
                            ["", "median /s", "best /s", "of raw (paired median)",
                             "client CPU µs", "server CPU µs", "target", ""], rows))
        print(out[-1], flush=True)

        print(f"[{time.monotonic() - started:5.1f}s] memory ...", flush=True)
        time.sleep(1.0)  # let the actors go idle
        bare = procs.popen([bu.PY, str(Path(__file__).parent / "_bench_util.py"), "idle-zmq"],
                           stdout=subprocess.PIPE, text=True)
        assert bare.stdout is not None and bare.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        m_actor, m_bare, m_node = bu.memory(echo_pid), bu.memory(bare.pid), bu.memory(node.pid)
        rows = [[f"idle echo actor process (pid {echo_pid})", f"{m_actor['rss']:.1f}",
                 f"{m_actor['pss']:.1f}", f"{m_actor['uss']:.1f}",
                 f"{m_actor['pss'] / m_bare['pss']:.2f}x"],
                ["bare python -c 'import zmq' (baseline)", f"{m_bare['rss']:.1f}",
                 f"{m_bare['pss']:.1f}", f"{m_bare['uss']:.1f}", "1.00x"],
                ["(the node process itself, for reference)", f"{m_node['rss']:.1f}",
                 f"{m_node['pss']:.1f}", f"{m_node['uss']:.1f}",
                 f"{m_node['pss'] / m_bare['pss']:.2f}x"]]
        out.append(bu.table("3. Memory (MiB; psutil memory_full_info)",
                            ["", "RSS", "PSS", "USS", "PSS vs bare"], rows))
        print(out[-1], flush=True)
        raw.close()
        conn.close()
        tell_conn.close()
    finally:
        leftovers = procs.stop_nodes([node])
        watchdog.cancel()
    print(f"\nbench_core: {time.monotonic() - started:.1f} s; cleaned up "
          f"{len(procs.pids)} processes; SIGKILLed at the end (by pid): {leftovers}")
    return 0


async def _make(factory: Any) -> Any:
    """``factory()`` called inside the running loop (asyncio sockets belong to it)."""
    return factory()


if __name__ == "__main__":
    sys.exit(main())
