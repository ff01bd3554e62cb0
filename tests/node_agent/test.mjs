// Runs against a real node (started by tests/test_node_agent.py) with actors echo, relay,
// chaos and jam (a chaos with a mailbox of 10): node test.mjs ENDPOINT
// Prints "node agent ok" when every check passed; any failure exits non-zero.
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { decode, encode } from "@msgpack/msgpack";
import { Connection, RemoteError } from "./client.mjs";

const endpoint = process.argv[2];
const conn = new Connection(endpoint);

async function refused(promise, code) {
  const err = await promise.then(() => null, (e) => e);
  assert.ok(err instanceof RemoteError, `expected a ${code} error, got ${err}`);
  assert.equal(err.code, code, err.message);
  return err;
}

// The node: both versions, and where events are published.
const about = (await conn.ask("node", "node.info", {})).body;
assert.equal(about.protocol, 1);
assert.equal(typeof about.software, "string");

// One ask, then 1,000 asks pipelined 100 at a time, each reply matched to its ask by id.
const pong = await conn.ask("echo", "echo.ping", { n: 42, text: "from node" });
assert.equal(pong.type, "echo.pong");
assert.deepEqual(pong.body, { n: 42, text: "from node", incarnation: 1 });
const many = await conn.askMany("echo", "echo.ping", Array.from({ length: 1000 }, (_, n) => ({ n })));
many.forEach((reply, n) => assert.equal(reply.body.n, n));

// Tells, one of them without an id: never answered, still handled.
await conn.tell("chaos", "chaos.count");
await conn.tell("chaos", "chaos.count", {}, { envelope: { id: undefined } });
assert.equal((await conn.ask("chaos", "chaos.count")).body, 3);

// Every error code the node sends, each with the ask's id echoed.
await refused(conn.ask("echo", "echo.ping", { n: 1 }, { envelope: { v: 2 } }), "malformed");
await refused(conn.ask("echo", "echo.ping", { n: 1, text: "x".repeat(2 << 20) }), "too_large");
await refused(conn.ask("echo", "echo.nope", {}), "unknown_type");
const invalid = await refused(conn.ask("echo", "echo.ping", { n: "forty-two" }), "invalid_body");
assert.match(invalid.message, /Ping\.n/);
await refused(conn.ask("node", "node.resolve", { name: "nobody" }), "not_found");
await refused(conn.ask("echo", "echo.ping", { n: 1 }, { envelope: { deadline: Date.now() / 1000 - 5 } }),
              "deadline_expired");
const failed = await refused(conn.ask("chaos", "chaos.fail", { how: "raise" }), "handler_error");
assert.equal(failed.details.exception, "RuntimeError");

// A full mailbox: a send fails at once as overloaded (client side).
const jammed = new Connection(endpoint, { sendHighWaterMark: 10 });
await jammed.tell("jam", "chaos.fail", { how: "sleep", seconds: 5 });
const pad = "x".repeat(10_000);
await refused((async () => {
  for (let i = 0; i < 100_000; i++) await jammed.tell("jam", "chaos.save", { pad });
})(), "overloaded");
jammed.close();

// A SIGKILL (chaos sends it to itself while handling the ask, so the ask is surely in
// flight): the ask fails as crashed, lifecycle.exited says so, the next incarnation answers.
const seen = [];
conn.onEvent((env) => seen.push(env));
const before = (await conn.ask("node", "node.status", { name: "chaos" })).body.actors[0];
const crashed = await refused(conn.ask("chaos", "chaos.fail", { how: "kill" }, { timeout: 20_000 }), "crashed");
assert.equal(crashed.details.cause, "killed by SIGKILL");
const exited = seen.find((e) => e.type === "lifecycle.exited" && e.body.name === "chaos");
assert.equal(exited.body.incarnation, before.incarnation);
assert.equal(exited.body.pid, before.pid);
const next = await conn.ask("chaos", "chaos.count", {}, { timeout: 10_000 });
assert.equal(next.incarnation, before.incarnation + 1);

// A REQ socket works too: ZeroMQ adds and strips the empty delimiter frame.
const req = new zmq.Request({ linger: 0 });
req.connect((await conn.resolve("echo")).endpoint);
await req.send(encode({ v: 1, kind: "ask", id: "req-1", to: "echo", type: "echo.ping", body: { n: 7 } }));
const [raw] = await req.receive();
assert.equal(decode(raw).body.n, 7);
req.close();

conn.close();
console.log("node agent ok");
