#!/usr/bin/env python3
"""Start an Agent Cellphone node, or talk to a running one.

    python run_node.py [--config node.json] [--endpoint tcp://127.0.0.1:5570]
    python run_node.py status [--json]
    python run_node.py send NAME TYPE '{"json": "body"}' [--timeout S]
    python run_node.py restart|stop-child|start-child NAME
    python run_node.py tree | events [--count N] | stop
    python run_node.py health [--watch] | profile [--watch] | breakers
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import sys
import time
from typing import Any

import zmq

from actors import connect, subscribe_confirmed
from messages import CellphoneError, ConfigError, decode, to_wire
from supervisor import DEFAULT_ENDPOINT, Node, load_config

EXIT_REMOTE_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    return str(value)


def _dump(value: Any) -> str:
    return json.dumps(to_wire(value), default=_json_default, sort_keys=True)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, os.environ, args.endpoint_flag)
    except ConfigError as exc:
        print(f"error: bad config: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=args.log_level or config.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [node] %(name)s: %(message)s")
    try:
        node = Node(config)
    except zmq.ZMQError as exc:
        print(f"error: cannot listen at {config.endpoint}: {exc}; is another node running "
              "there? choose another with --endpoint", file=sys.stderr)
        return EXIT_USAGE
    return node.run()


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as node:
        reply = node.status()
    if args.json:
        print(json.dumps([to_wire(row) for row in reply.actors], indent=2))
        return 0
    print(f"{'NAME':<16} {'STATE':<10} {'PID':>7} {'INC':>4} {'UPTIME':>9} {'HANDLED':>8} "
          f"{'ERRORS':>6} {'BAD':>5} {'RESTARTS':>8}")
    for row in reply.actors:
        print(f"{row.name:<16} {row.state:<10} {row.pid or '-':>7} {row.incarnation:>4} "
              f"{row.uptime:>8.1f}s {row.handled:>8} {row.errors:>6} {row.bad_input:>5} {row.restarts:>8}")
    if reply.node_bad_input:
        print(f"(the front door refused {reply.node_bad_input} bad message(s))")
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    try:
        body = json.loads(args.body)
    except json.JSONDecodeError as exc:
        print(f"error: BODY is not JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with connect(args.endpoint, timeout=args.timeout) as node:
        print(_dump(node.ask(args.name, args.type, body, timeout=args.timeout)))
    return 0


def cmd_child(args: argparse.Namespace) -> int:
    command = {"restart": "node.restart", "stop-child": "node.stop_child",
               "start-child": "node.start_child"}[args.command]
    with connect(args.endpoint, timeout=args.timeout) as node:
        reply = node.ask("node", command, {"name": args.name}, timeout=args.timeout)
    print(reply.detail if hasattr(reply, "detail") else _dump(reply))
    return 0


def cmd_simple(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as node:
        if args.command == "stop":
            node.stop_node()
            print(f"node at {args.endpoint} is stopping")
        else:
            print(json.dumps(node.ask("node", "node.tree", {}), indent=2))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from actors.profiler import render_top

    with connect(args.endpoint, timeout=args.timeout) as node:
        while True:
            report = node.ask(args.actor, "profiler.report", {}, timeout=args.timeout)
            print(render_top(report, window=args.window), flush=True)
            if not args.watch:
                return 0
            try:
                time.sleep(args.interval)
            except KeyboardInterrupt:
                return 0
            print()


def cmd_breakers(args: argparse.Namespace) -> int:
    from actors.breaker import breakers_table

    body = {"resource": args.resource} if args.resource else {}
    with connect(args.endpoint, timeout=args.timeout) as node:
        reply = node.ask(args.actor, "breaker.stats", body, timeout=args.timeout)
    print(breakers_table(reply.resources))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from actors.health import health_cli

    try:
        return health_cli(args.endpoint, component=args.component,
                          probe="live" if args.live else "ready", watch=args.watch,
                          count=args.count, timeout=args.timeout, health=args.actor)
    except KeyboardInterrupt:
        return 0


def cmd_events(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as node:
        events_endpoint = node.about().events
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.connect(events_endpoint)
    if not subscribe_confirmed(sub, args.topic.encode()):
        print(f"warning: the node at {events_endpoint} did not confirm the subscription",
              file=sys.stderr)
    print(f"# events from {events_endpoint} (topic prefix {args.topic!r}); Ctrl-C to stop",
          file=sys.stderr, flush=True)
    seen = 0
    try:
        while args.count is None or seen < args.count:
            if not sub.poll(1000):
                continue
            frames = sub.recv_multipart()
            env = decode(frames[-1])
            if env.type == "node.welcome":
                continue
            print(json.dumps({"topic": env.type, **(env.body if isinstance(env.body, dict) else
                                                     {"body": env.body})},
                             default=_json_default), flush=True)
            seen += 1
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="run_node.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="node config JSON (default: the embedded defaults)")
    parser.add_argument("--endpoint", dest="endpoint_flag", default=None,
                        help=f"node endpoint (default {DEFAULT_ENDPOINT}, or AGENTCELL_ENDPOINT)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="start a node (the default)")
    status = sub.add_parser("status", help="list every actor")
    status.add_argument("--json", action="store_true", help="one JSON object per actor")
    send = sub.add_parser("send", help="ask an actor and print the reply as JSON")
    send.add_argument("name")
    send.add_argument("type")
    send.add_argument("body", nargs="?", default="{}")
    for name in ("restart", "stop-child", "start-child"):
        child = sub.add_parser(name, help=f"{name.replace('-', ' ')} one actor")
        child.add_argument("name")
    sub.add_parser("stop", help="stop the node")
    sub.add_parser("tree", help="print the supervision tree with restart counts")
    profile = sub.add_parser("profile", help="top operations by p99 and by total time")
    profile.add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    profile.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    profile.add_argument("--window", default=None, help="10s, 1m, 5m or all")
    profile.add_argument("--actor", default="profiler", help="name of the profiler actor")
    breakers = sub.add_parser("breakers", help="table of circuit breakers and their errors")
    breakers.add_argument("--actor", default="breaker", help="name of the breaker actor")
    breakers.add_argument("--resource", default=None, help="one resource only")
    health = sub.add_parser("health", help="health of every actor; exit 0 if all are ready, 4 if not")
    health.add_argument("component", nargs="?", default=None, help="one component only")
    health.add_argument("--live", action="store_true", help="probe liveness only (running)")
    health.add_argument("--watch", action="store_true", help="then print alerts and changes live")
    health.add_argument("--count", type=int, default=None, help="with --watch: exit after N events")
    health.add_argument("--actor", default="health", help="name of the health actor")
    events = sub.add_parser("events", help="print lifecycle and actor events live")
    events.add_argument("--count", type=int, default=None, help="exit after N events")
    events.add_argument("--topic", default="", help="topic prefix, e.g. lifecycle.")
    for p in sub.choices.values():
        p.add_argument("--endpoint", dest="endpoint_sub", default=None, help=argparse.SUPPRESS)
        p.add_argument("--timeout", dest="timeout_sub", type=float, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.endpoint_flag = getattr(args, "endpoint_sub", None) or args.endpoint_flag
    args.endpoint = args.endpoint_flag or os.environ.get("AGENTCELL_ENDPOINT") or DEFAULT_ENDPOINT
    args.timeout = getattr(args, "timeout_sub", None) or args.timeout
    commands = {None: cmd_run, "run": cmd_run, "status": cmd_status, "send": cmd_send,
                "restart": cmd_child, "stop-child": cmd_child, "start-child": cmd_child,
                "stop": cmd_simple, "tree": cmd_simple, "events": cmd_events,
                "profile": cmd_profile, "breakers": cmd_breakers, "health": cmd_health}
    try:
        return commands[args.command](args)
    except TimeoutError as exc:
        print(f"error: {exc}; is a node running at {args.endpoint}? "
              "start one with: python run_node.py", file=sys.stderr)
        return EXIT_UNREACHABLE
    except (CellphoneError, ValueError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REMOTE_ERROR


if __name__ == "__main__":
    sys.exit(main())
