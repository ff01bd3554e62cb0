#!/usr/bin/env python3
"""Start an Agent Cellphone node, or talk to a running one.

    python run_node.py [run] [--config node.json] [--path DIR] [--log-file F] [--log-level L]
    python run_node.py status [--json]
    python run_node.py send NAME TYPE '{"json": "body"}' [--timeout S]
    python run_node.py restart|stop-child|start-child NAME
    python run_node.py tree [--json] | events [--topic T] [--count N] | stop
    python run_node.py health [--watch] [--min-status S] | profile [--watch] | breakers
    python run_node.py top [--interval S] [--window W]
    python run_node.py keys DIR [--operator NAME] [--agent NAME]

Every command takes --endpoint (default tcp://127.0.0.1:5570, or AGENTCELL_ENDPOINT) and
--timeout (seconds, default 5); for a node with "security", --client-key FILE and
--node-key FILE (or AGENTCELL_CLIENT_KEY and AGENTCELL_NODE_KEY).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import logging
import math
import os
import sys
import time
from typing import Any, Final

import zmq

from actors import ENV_CLIENT_KEY, ENV_NODE_KEY, Connection, connect, write_keys
from messages import (
    DEFAULT_MAX_MESSAGE_BYTES,
    KIND_ASK,
    CellphoneError,
    ConfigError,
    DeadlineExpired,
    Envelope,
    ProtocolError,
    RestartChild,
    StartChild,
    StopChild,
    TreeRequest,
    decode,
    encode,
    to_wire,
    type_tag,
)
from supervisor import DEFAULT_ENDPOINT, Node, check_endpoint, load_config

EXIT_OK: Final = 0
EXIT_REMOTE_ERROR: Final = 1
"""An actor or the node answered with an error (or the root supervisor gave up)."""
EXIT_USAGE: Final = 2
"""Bad usage: an unknown option, a BODY that is not JSON or cannot be sent, a bad config."""
EXIT_UNREACHABLE: Final = 3
"""No node answered at the endpoint."""
EXIT_UNHEALTHY: Final = 4
"""``health``: the readiness (or, with --live, liveness) probe failed."""
EXIT_TIMEOUT: Final = 5
"""The node answered, but the actor (or command) did not answer within --timeout."""
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C during a command that was not meant to run until interrupted."""

EXIT_CODES: Final = f"""exit codes:
  {EXIT_OK}  success
  {EXIT_REMOTE_ERROR}  an error reply from an actor or the node (or the node's root supervisor gave up)
  {EXIT_USAGE}  bad usage: options, a BODY that is not JSON or cannot be sent, a bad config
  {EXIT_UNREACHABLE}  no node answered at the endpoint
  {EXIT_UNHEALTHY}  health: the probe failed
  {EXIT_TIMEOUT}  the node is up but the actor did not answer in time (its state is printed)
"""
PROBE_TIMEOUT: Final = 2.0
"""Seconds to wait for the node's status when explaining an actor's timeout."""


class UsageError(Exception):
    """Bad input from the command line: printed in one line, exit code 2."""


class NodeSilent(Exception):
    """The node itself did not answer: exit code 3."""


class ActorSilent(Exception):
    """The node answered, the actor (or a slow command) did not: exit code 5."""


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return str(value)


def _dump(value: Any) -> str:
    return json.dumps(to_wire(value), default=_json_default, sort_keys=True)


# -- talking to a node -----------------------------------------------------------------
def _open(args: argparse.Namespace, actor: str | None = None) -> Connection:
    """A connection whose node has answered (``NodeSilent`` if not); resolves ``actor``."""
    conn = connect(args.endpoint, timeout=args.timeout)
    try:
        if actor is None:
            conn.about()
        else:
            conn.resolve(actor)
    except TimeoutError:
        conn.close(linger=0)
        secured = "" if conn.keys is None else " with this client's key"
        raise NodeSilent(f"no node answered at {args.endpoint}{secured} within {args.timeout:g} s; "
                         "is a node running there? start one with: python run_node.py (or point "
                         "--endpoint / AGENTCELL_ENDPOINT at a running one); a node with "
                         "\"security\" answers only allowed keys (--client-key, --node-key)") from None
    except BaseException:
        conn.close(linger=0)
        raise
    return conn


def _ask(conn: Connection, args: argparse.Namespace, actor: str, message: Any,
         body: Any = None) -> Any:
    """Ask ``actor`` (a message object, or a tag with a ``body``); a timeout becomes
    ``ActorSilent`` naming the actor and its state."""
    tag = message if isinstance(message, str) else type_tag(message)
    try:
        return conn.ask(actor, message, body, timeout=args.timeout)
    except TimeoutError as exc:
        if actor == "node":
            raise ActorSilent(f"the node at {args.endpoint} answered, then did not answer {tag!r} "
                              f"within {args.timeout:g} s (it may be busy stopping or starting a "
                              "child); try a longer --timeout") from None
        raise ActorSilent(_silence(args, actor, tag, exc)) from None


def _silence(args: argparse.Namespace, actor: str, tag: str, exc: TimeoutError) -> str:
    """Why ``actor`` did not answer ``tag``: what it is doing, according to the node."""
    if isinstance(exc, DeadlineExpired):
        return f"actor {actor!r} skipped {tag!r}: {exc}; try a longer --timeout"
    said = f"actor {actor!r} did not answer {tag!r} within {args.timeout:g} s"
    try:
        with connect(args.endpoint, timeout=min(args.timeout, PROBE_TIMEOUT)) as node:
            row = next((r for r in node.status().actors if r.name == actor), None)
    except (TimeoutError, CellphoneError):
        return f"{said}; its state is unknown: the node did not answer status either"
    if row is None:
        return f"{said}; the node no longer lists it"
    if row.state == "stopped":
        return (f"{said}; it is stopped (incarnation {row.incarnation}); "
                f"start it with: python run_node.py start-child {actor}")
    if row.state != "running":
        return f"{said}; it is {row.state} (incarnation {row.incarnation}); try again shortly"
    return (f"{said}; it is running (pid {row.pid}, incarnation {row.incarnation}, "
            f"up {row.uptime:.1f} s, {row.handled} handled, {row.restarts} restarts), so a "
            f"handler is slow or hung: try a longer --timeout, or "
            f"python run_node.py restart {actor}")


def _body(args: argparse.Namespace) -> Any:
    """BODY parsed as JSON and checked to be sendable; UsageError says what is wrong.

    The message is encoded and decoded here as the actor would, so what the receiver
    would refuse as malformed (an empty TYPE, say) is refused before it is sent.
    """
    for what, value in (("NAME", args.name), ("TYPE", args.type)):
        if not value.strip():
            raise UsageError(f"{what} must not be empty")
    try:
        body = json.loads(args.body)
    except RecursionError:
        raise UsageError("BODY nests JSON too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError, or an integer of over 4300 digits
        raise UsageError(f"BODY is not JSON: {exc}") from None
    try:
        data = encode(Envelope(KIND_ASK, 1, args.name, args.type, body))
    except RecursionError:
        raise UsageError("BODY nests too deeply to send") from None
    except TypeError as exc:  # e.g. an integer outside msgpack's 64-bit range
        why = str(exc).partition(": ")[2] or str(exc)
        hint = "; integers must fit in 64 bits" if "integer" in why.lower() else ""
        raise UsageError(f"BODY cannot be sent: {why}{hint}") from None
    if len(data) > DEFAULT_MAX_MESSAGE_BYTES:
        raise UsageError(f"BODY is {len(data)} bytes once encoded, over the limit of "
                         f"{DEFAULT_MAX_MESSAGE_BYTES} bytes")
    try:
        decode(data)
    except ProtocolError as exc:
        raise UsageError(f"the message cannot be sent: {exc}") from None
    return body


# -- commands --------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, os.environ, args.endpoint_flag, import_path=args.path)
    except ConfigError as exc:
        print(f"error: bad config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        os.makedirs(config.data_dir, exist_ok=True)
    except OSError as exc:
        print(f"error: data_dir {os.path.abspath(config.data_dir)!r} cannot be created: "
              f"{exc.strerror}; set data_dir in the config or AGENTCELL_DATA_DIR",
              file=sys.stderr)
        return EXIT_USAGE
    if args.log_file is not None:
        _log_to(args.log_file)
    try:
        logging.basicConfig(level=args.log_level or config.log_level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s [node] %(name)s: %(message)s")
    except ValueError as exc:
        print(f"error: --log-level: {exc}; use DEBUG, INFO, WARNING or ERROR", file=sys.stderr)
        return EXIT_USAGE
    try:
        node = Node(config)
    except zmq.ZMQError as exc:
        print(f"error: cannot listen at {config.endpoint}: {exc}; is another node running "
              "there? choose another with --endpoint", file=sys.stderr)
        return EXIT_USAGE
    return node.run()


def _log_to(path: str) -> None:
    """Point this process's stderr (fd 2) at ``path``, appending: the node's log and every
    actor host's (hosts inherit fd 2 from the forkserver the node starts later)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"--log-file {path!r} cannot be opened: {exc.strerror}") from None
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def cmd_keys(args: argparse.Namespace) -> int:
    operators = args.operator or ([] if args.agent else ["operator"])
    try:
        written = write_keys(args.directory, operators=operators, agents=args.agent)
    except (ValueError, OSError) as exc:
        raise UsageError(f"keys: {exc}") from None
    for path in written:
        print(path)
    root = args.directory.rstrip("/") or "/"
    print(f"# the node: \"security\": {{\"keys\": \"{root}\"}} in its config; each client: "
          f"--client-key <its .key_secret above> --node-key {root}/node.key", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as node:
        reply = node.status()
        about = node.about()
    if args.json:
        print(json.dumps([to_wire(row) for row in reply.actors], indent=2))
        return EXIT_OK
    print(f"{'NAME':<16} {'STATE':<10} {'PID':>7} {'INC':>4} {'UPTIME':>9} {'HANDLED':>8} "
          f"{'ERRORS':>6} {'EXPECTED':>8} {'BAD':>5} {'RESTARTS':>8}")
    for row in reply.actors:
        print(f"{row.name:<16} {row.state:<10} {row.pid or '-':>7} {row.incarnation:>4} "
              f"{row.uptime:>8.1f}s {row.handled:>8} {row.errors:>6} {row.expected_errors:>8} "
              f"{row.bad_input:>5} {row.restarts:>8}")
    if reply.node_bad_input:
        print(f"(the front door refused {reply.node_bad_input} bad message(s))")
    if reply.forbidden:
        print(f"(the front door refused {reply.forbidden} command(s) to keys not allowed them)")
    print(f"node pid {about.pid} at {about.endpoint}, data in {about.data_dir or '(not said)'}")
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    body = _body(args)
    with _open(args, args.name) as node:
        print(_dump(_ask(node, args, args.name, args.type, body)))
    return EXIT_OK


def cmd_child(args: argparse.Namespace) -> int:
    command = {"restart": RestartChild, "stop-child": StopChild,
               "start-child": StartChild}[args.command](args.name)
    with _open(args) as node:
        reply = _ask(node, args, "node", command)
    print(reply.detail if hasattr(reply, "detail") else _dump(reply))
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    with _open(args) as node:
        node.stop_node()
    print(f"node at {args.endpoint} is stopping")
    return EXIT_OK


def cmd_tree(args: argparse.Namespace) -> int:
    with _open(args) as node:
        tree = _ask(node, args, "node", TreeRequest())
    print(json.dumps(tree, indent=2) if args.json else "\n".join(draw_tree(tree)))
    return EXIT_OK


def draw_tree(node: dict[str, Any], prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
    """The ``node.tree`` answer as lines of a tree for people (``tree --json`` for scripts)."""
    if node.get("kind") == "supervisor":
        text = (f"{node['name']}  supervisor {node.get('strategy')}  {node.get('state')}  "
                f"restarts {node.get('restarts')}  intensity {node.get('intensity')}")
    else:
        text = (f"{node['name']}  {node.get('state')}  pid {node.get('pid') or '-'}  "
                f"incarnation {node.get('incarnation')}  restarts {node.get('restarts')}")
    lines = [text if top else f"{prefix}{'└── ' if last else '├── '}{text}"]
    children = node.get("children") or []
    inner = prefix if top else prefix + ("    " if last else "│   ")
    for i, child in enumerate(children):
        lines += draw_tree(child, inner, i == len(children) - 1, top=False)
    return lines


def cmd_profile(args: argparse.Namespace) -> int:
    from actors.profiler import render_top

    with _open(args, args.actor) as node:
        while True:
            report = _ask(node, args, args.actor, "profiler.report", {})
            windows = list(report.get("windows", []))
            if args.window is not None and windows and args.window not in windows:
                raise UsageError(f"--window {args.window!r} is not a window of profiler "
                                 f"{args.actor!r}; it keeps: {', '.join(windows)}")
            print(render_top(report, window=args.window), flush=True)
            if not args.watch:
                return EXIT_OK
            try:
                time.sleep(args.interval)
            except KeyboardInterrupt:
                return EXIT_OK
            print()


def cmd_breakers(args: argparse.Namespace) -> int:
    from actors.breaker import breakers_table

    body = {"resource": args.resource} if args.resource else {}
    with _open(args, args.actor) as node:
        reply = _ask(node, args, args.actor, "breaker.stats", body)
    print(breakers_table(reply.resources))
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    from actors.health import health_cli

    _open(args, args.actor).close(linger=0)  # the node answers: a timeout below is the actor's
    try:
        return health_cli(args.endpoint, component=args.component,
                          probe="live" if args.live else "ready", watch=args.watch,
                          count=args.count, timeout=args.timeout, health=args.actor,
                          min_status=args.min_status)
    except KeyboardInterrupt:
        return EXIT_OK
    except TimeoutError as exc:
        raise ActorSilent(_silence(args, args.actor, "health.status", exc)) from None


def cmd_top(args: argparse.Namespace) -> int:
    try:
        from actors.top import run_top
    except ImportError as exc:
        raise UsageError(f"top needs the 'top' extra (textual): pip install -e '.[top]' ({exc})") from None
    from actors.observe import Sources

    _open(args).close(linger=0)  # say at once when no node answers
    return run_top(args.endpoint, sources=Sources(), interval=args.interval,
                   window=args.window)


def cmd_events(args: argparse.Namespace) -> int:
    with _open(args) as node:
        reader = node.subscribe(args.topic)
    with reader:
        if not reader.confirmed:
            print(f"warning: the node at {reader.endpoint} did not confirm the subscription",
                  file=sys.stderr)
        print(f"# events from {reader.endpoint} (topic prefix {args.topic!r}); Ctrl-C to stop",
              file=sys.stderr, flush=True)
        seen = 0
        try:
            while args.count is None or seen < args.count:
                event = reader.next(1.0)
                if event is not None:
                    print(json.dumps(event_line(event.topic, event.body, time.time()),
                                     default=_json_default), flush=True)
                    seen += 1
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def event_line(topic: str, body: Any, received: float) -> dict[str, Any]:
    """One ``events`` output line: ``ts`` (when it arrived, UTC, ISO 8601), ``topic``, the body."""
    ts = datetime.datetime.fromtimestamp(received, datetime.UTC)
    return {"ts": ts.isoformat(timespec="milliseconds"), "topic": topic,
            **(body if isinstance(body, dict) else {"body": body})}


# -- the command line ------------------------------------------------------------------
def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def _connection_options(p: argparse.ArgumentParser, *, hidden: bool) -> None:
    """--endpoint and --timeout, accepted before or after the command."""
    default = argparse.SUPPRESS if hidden else None
    p.add_argument("--endpoint", dest="endpoint_flag", default=default, metavar="ENDPOINT",
                   help=f"node endpoint (default {DEFAULT_ENDPOINT}, or AGENTCELL_ENDPOINT)")
    p.add_argument("--timeout", type=_seconds, default=default, metavar="SECONDS",
                   help="seconds to wait for an answer (default 5)")
    p.add_argument("--client-key", default=default, metavar="FILE",
                   help=f"this client's NAME.key_secret, for a node with security (or {ENV_CLIENT_KEY})")
    p.add_argument("--node-key", default=default, metavar="FILE",
                   help=f"the node's public node.key, for a node with security (or {ENV_NODE_KEY})")


def _node_options(p: argparse.ArgumentParser, *, hidden: bool) -> None:
    """Options of a node start, accepted before or after ``run``."""
    default = argparse.SUPPRESS if hidden else None
    p.add_argument("--config", default=default, metavar="FILE",
                   help="node config JSON (default: the embedded defaults, see README)")
    p.add_argument("--path", action="append", dest="path_after" if hidden else "path",
                   default=argparse.SUPPRESS if hidden else [], metavar="DIR",
                   help="also import user actor modules from DIR (repeatable; the config "
                   "file's directory is always on the path)")
    p.add_argument("--log-level", default=default, metavar="LEVEL",
                   help="DEBUG, INFO, WARNING or ERROR (default: the config's log_level, INFO)")
    p.add_argument("--log-file", default=default, metavar="FILE",
                   help="append the node's and every actor's log to FILE instead of stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_node.py", description=__doc__, epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _node_options(parser, hidden=False)
    _connection_options(parser, hidden=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="start a node in the foreground (the default command)")
    _node_options(run, hidden=True)
    status = sub.add_parser("status", help="list every actor, and where the data directory is")
    status.add_argument("--json", action="store_true", help="a JSON list, one object per actor")
    send = sub.add_parser("send", help="ask an actor and print the reply as JSON")
    send.add_argument("name", help="the actor's name, e.g. echo")
    send.add_argument("type", help="the message type tag, e.g. echo.ping")
    send.add_argument("body", nargs="?", default="{}", help="the body as JSON (default {})")
    for name, what in (("restart", "restart one actor (a new incarnation)"),
                       ("stop-child", "stop one actor on purpose (it stays stopped)"),
                       ("start-child", "start an actor stopped with stop-child")):
        child = sub.add_parser(name, help=what)
        child.add_argument("name")
    sub.add_parser("stop", help="stop every actor, then the node")
    tree = sub.add_parser("tree", help="draw the supervision tree with states and restart counts")
    tree.add_argument("--json", action="store_true", help="the tree as JSON, for scripts")
    profile = sub.add_parser("profile", help="top operations by p99 and by total time")
    profile.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    profile.add_argument("--interval", type=_seconds, default=2.0, help="seconds between refreshes")
    profile.add_argument("--window", default=None, help="10s, 1m, 5m or all")
    profile.add_argument("--actor", default="profiler", help="name of the profiler actor")
    breakers = sub.add_parser("breakers", help="table of circuit breakers and their errors")
    breakers.add_argument("--actor", default="breaker", help="name of the breaker actor")
    breakers.add_argument("--resource", default=None, help="one resource only")
    health = sub.add_parser("health", help="health of every component; exit 0 when ready, 4 when not")
    health.add_argument("component", nargs="?", default=None, help="one component only")
    health.add_argument("--live", action="store_true", help="probe liveness only (running)")
    health.add_argument("--min-status", default="WARNING",
                        choices=("EXCELLENT", "GOOD", "WARNING", "CRITICAL", "FAILED"),
                        help="worst status that still counts as ready (default WARNING)")
    health.add_argument("--watch", action="store_true", help="then print alerts and changes live")
    health.add_argument("--count", type=_count, default=None, help="with --watch: exit after N events")
    health.add_argument("--actor", default="health", help="name of the health actor")
    top = sub.add_parser("top", help="live full-screen view: actors, alerts, breakers, slowest "
                         "operations (keys: s sort, / filter, r restart, a ack, q quit)")
    top.add_argument("--interval", type=_seconds, default=1.0,
                     help="seconds between full reads (events show at once)")
    top.add_argument("--window", default="10s", choices=("10s", "1m", "5m", "all"),
                     help="profiler window of handled/s and p99 (default 10s)")
    keys = sub.add_parser("keys", help="write a node key pair and client key pairs (CurveZMQ)")
    keys.add_argument("directory", metavar="DIR", help="where to write them (created 0700)")
    keys.add_argument("--operator", action="append", default=[], metavar="NAME",
                      help="a client that may also stop and restart (repeatable; default: "
                      "one named 'operator' when no client is named)")
    keys.add_argument("--agent", action="append", default=[], metavar="NAME",
                      help="a client that may ask actors and read state only (repeatable)")
    events = sub.add_parser("events", help="print lifecycle and actor events live, as JSON lines")
    events.add_argument("--count", type=_count, default=None, help="exit after N events")
    events.add_argument("--topic", default="", help="topic prefix, e.g. lifecycle.")
    for p in sub.choices.values():
        _connection_options(p, hidden=True)
    return parser


COMMANDS: Final = {None: cmd_run, "run": cmd_run, "status": cmd_status, "send": cmd_send,
                   "restart": cmd_child, "stop-child": cmd_child, "start-child": cmd_child,
                   "stop": cmd_stop, "tree": cmd_tree, "events": cmd_events,
                   "profile": cmd_profile, "breakers": cmd_breakers, "health": cmd_health,
                   "top": cmd_top, "keys": cmd_keys}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.timeout = args.timeout or 5.0
    args.path = [*args.path, *getattr(args, "path_after", [])]
    try:
        if args.endpoint_flag is not None:
            check_endpoint(args.endpoint_flag, "--endpoint")
        args.endpoint = args.endpoint_flag or os.environ.get("AGENTCELL_ENDPOINT") or DEFAULT_ENDPOINT
        check_endpoint(args.endpoint, "the endpoint (AGENTCELL_ENDPOINT)")
        for flag, variable in ((args.client_key, ENV_CLIENT_KEY), (args.node_key, ENV_NODE_KEY)):
            if flag is not None:  # every connection of this command reads them from there
                os.environ[variable] = flag
        return int(COMMANDS[args.command](args))
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NodeSilent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ActorSilent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except TimeoutError as exc:  # a node command: the node answered once, then not this
        print(f"error: the node at {args.endpoint} answered, then not in time: {exc}",
              file=sys.stderr)
        return EXIT_TIMEOUT
    except (CellphoneError, ValueError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REMOTE_ERROR
    except zmq.ZMQError as exc:
        print(f"error: cannot use endpoint {args.endpoint}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
