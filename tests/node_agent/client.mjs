// A Node.js agent for Agent Cellphone, written from PROTOCOL.md alone: asks (pipelined,
// correlated by id), tells, lifecycle events, and error replies raised as RemoteError.
// Dependencies: zeromq 6 and @msgpack/msgpack 3 (see package.json).
import * as zmq from "zeromq";
import { decode, encode } from "@msgpack/msgpack";

/** An error reply (or a client-side failure: `overloaded`, `crashed`, `timeout`). */
export class RemoteError extends Error {
  constructor(body) {
    super(`${body.code}: ${body.message}`);
    this.code = body.code;
    this.details = body;
  }
}

/** One DEALER socket: sends one at a time (zeromq.js allows one send in progress), and
 *  one reader loop hands every decoded reply to `onReply`. */
class Channel {
  constructor(endpoint, onReply, { sendHighWaterMark = 1000 } = {}) {
    this.socket = new zmq.Dealer({ linger: 0, sendHighWaterMark, sendTimeout: 0 });
    this.socket.connect(endpoint);
    this.queue = Promise.resolve();
    this.reading = (async () => {
      try {
        for await (const frames of this.socket) onReply(decode(frames[frames.length - 1]));
      } catch (err) {
        if (!this.socket.closed) throw err;
      }
    })();
  }

  send(frame) {
    const sent = this.queue.then(() => this.socket.send(frame));
    this.queue = sent.catch(() => {});
    return sent.catch((err) => {
      if (err.code === "EAGAIN") throw new RemoteError({ code: "overloaded", message: "send queue full" });
      throw err;
    });
  }

  close() {
    this.socket.close();
  }
}

export class Connection {
  constructor(endpoint, { timeout = 5000, sendHighWaterMark = 1000 } = {}) {
    this.endpoint = endpoint;
    this.timeout = timeout;
    this.sendHighWaterMark = sendHighWaterMark;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, to, incarnation, timer}
    this.channels = new Map(); // endpoint -> Channel
    this.resolved = new Map(); // actor name -> {endpoint, incarnation}
    this.listeners = [];
    this.events = null;
  }

  /** Ask `to` and return the reply envelope ({type, body, incarnation, ...}); an error
   *  reply rejects with RemoteError. `envelope` overrides or removes (undefined) keys. */
  async ask(to, type, body = {}, { timeout = this.timeout, envelope = {} } = {}) {
    const where = to === "node" ? { endpoint: this.endpoint, incarnation: null } : await this.resolve(to);
    if (to !== "node") await this.startEvents();
    const id = this.nextId++;
    const frame = this.frame({ kind: "ask", id, to, type, body,
                               deadline: Date.now() / 1000 + timeout / 1000, ...envelope });
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new RemoteError(
        { code: "timeout", message: `no reply from ${to} to ${type} within ${timeout} ms` })), timeout);
      this.pending.set(id, { resolve, reject, to, incarnation: where.incarnation, timer });
    });
    try {
      await this.channel(where.endpoint).send(frame);
    } catch (err) {
      this.settle(id, err);
    }
    return reply;
  }

  /** Ask `to` once per body with up to `window` asks in flight; the replies in order. */
  async askMany(to, type, bodies, { window = 100, ...options } = {}) {
    const replies = new Array(bodies.length);
    let next = 0;
    const lane = async () => {
      while (next < bodies.length) {
        const i = next++;
        replies[i] = await this.ask(to, type, bodies[i], options);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, bodies.length) }, lane));
    return replies;
  }

  /** Send without waiting for an answer (tells never get one). */
  async tell(to, type, body = {}, { envelope = {} } = {}) {
    const endpoint = to === "node" ? this.endpoint : (await this.resolve(to)).endpoint;
    await this.channel(endpoint).send(this.frame({ kind: "tell", id: this.nextId++, to, type, body, ...envelope }));
  }

  async resolve(name) {
    let where = this.resolved.get(name);
    if (!where) {
      where = (await this.ask("node", "node.resolve", { name })).body;
      this.resolved.set(name, where);
    }
    return where;
  }

  /** Call `listener(envelope)` for every lifecycle event from now on. */
  onEvent(listener) {
    this.listeners.push(listener);
  }

  /** Subscribe to lifecycle events; resolves once the node's `node.welcome` confirms it. */
  startEvents() {
    if (!this.events) {
      this.events = (async () => {
        const about = (await this.ask("node", "node.info", {})).body;
        const sub = new zmq.Subscriber({ linger: 0 });
        sub.connect(about.events);
        sub.subscribe("lifecycle.");
        sub.subscribe("node.welcome"); // last: its welcome means the others are in place
        this.sub = sub;
        let welcomed;
        const welcome = new Promise((resolve) => { welcomed = resolve; });
        (async () => {
          try {
            for await (const [topic, payload] of sub) {
              if (topic.toString() === "node.welcome") { welcomed(); continue; }
              this.lifecycle(decode(payload));
            }
          } catch (err) {
            if (!sub.closed) throw err;
          }
        })();
        await welcome;
      })();
    }
    return this.events;
  }

  lifecycle(env) {
    const { name, incarnation, event, cause } = env.body;
    const cached = this.resolved.get(name);
    if (event === "started" && cached) cached.incarnation = incarnation;
    if (event === "exited" || event === "gave_up") {
      for (const [id, ask] of this.pending) {
        if (ask.to === name && ask.incarnation !== null && incarnation >= ask.incarnation) {
          this.settle(id, new RemoteError({ code: "crashed", message: `${name} incarnation ${incarnation} died (${cause})`,
                                            actor: name, incarnation, cause }));
        }
      }
    }
    for (const listener of this.listeners) listener(env);
  }

  frame(fields) {
    return encode({ v: 1, ...fields }, { ignoreUndefined: true });
  }

  channel(endpoint) {
    let channel = this.channels.get(endpoint);
    if (!channel) {
      channel = new Channel(endpoint, (env) => this.onReply(env), { sendHighWaterMark: this.sendHighWaterMark });
      this.channels.set(endpoint, channel);
    }
    return channel;
  }

  onReply(env) {
    this.settle(env.id, env.kind === "error" ? new RemoteError(env.body) : null, env);
  }

  /** Resolve or reject the ask with `id` once; late or unknown ids are dropped. */
  settle(id, error, env) {
    const ask = this.pending.get(id);
    if (!ask) return;
    this.pending.delete(id);
    clearTimeout(ask.timer);
    if (error) ask.reject(error); else ask.resolve(env);
  }

  close() {
    for (const channel of this.channels.values()) channel.close();
    if (this.sub) this.sub.close();
  }
}
