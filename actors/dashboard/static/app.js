// The agent-cellphone dashboard: draws what /api/events pushes (server-sent events).
// A "state" message is a full read of the node; an "event" message is a node event, shown
// at once (a crash changes its row before the next read arrives).
"use strict";

const HISTORY_SECONDS = 300;
let view = { control: false, actors: {} };
let latency = {};   // op -> [[time, p50, p99], ...]
let charts = {};    // op -> uPlot

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function badge(text, state) { return el("span", { class: `badge s-${state ?? text}` }, text); }
function ms(seconds) { return seconds >= 1 ? `${seconds.toFixed(2)} s` : `${(seconds * 1000).toFixed(2)} ms`; }

// -- drawing a read -------------------------------------------------------------------
function render(data) {
  view = data;
  if (data.latency) latency = data.latency;
  for (const [op, point] of Object.entries(data.points || {})) (latency[op] ||= []).push(point);
  const oldest = Date.now() / 1000 - HISTORY_SECONDS;
  for (const op of Object.keys(latency)) latency[op] = latency[op].filter((p) => p[0] >= oldest);
  $("#mode").textContent = data.control ? "control on" : "read-only";
  if (data.at) $("#updated").textContent = `read ${new Date(data.at * 1000).toLocaleTimeString()}`;
  const h = data.health;
  $("#health").replaceWith(Object.assign(h ? badge(`health ${h.status} ${h.score.toFixed(1)}`, h.status)
    : badge("health -", "none"), { id: "health" }));
  $("#trouble").hidden = true;
  drawTree(data);
  drawAlerts(data.alerts || []);
  drawBreakers(data.breakers || [], data.transitions || []);
  drawPools(data.pools || {});
  drawCharts(data.charted || []);
}

function drawTree(data) {
  const body = $("#tree tbody");
  const rows = [];
  const walk = (node, depth) => {
    if (!node) return;
    const pad = "\u2003".repeat(depth);
    if (node.kind === "supervisor") {
      rows.push(el("tr", { class: "supervisor", "data-supervisor": node.name },
        el("td", {}, `${pad}${node.name}`), el("td", {}, badge(node.state)),
        el("td", { colSpan: 2, class: "muted" }, `supervisor ${node.strategy}`),
        el("td", {}, node.restarts), el("td", { colSpan: 4, class: "muted" }, `intensity ${node.intensity}`)));
      for (const child of node.children || []) walk(child, depth + 1);
      return;
    }
    const a = (data.actors || {})[node.name] || node;
    const c = ((data.health || {}).components || {})[node.name];
    const actions = el("td", {});
    if (data.control) actions.append(el("button", { class: "restart", onclick: () => restart(node.name) }, "restart"));
    rows.push(el("tr", { "data-actor": node.name },
      el("td", { class: "name" }, `${pad}${node.name}`), el("td", { class: "state" }, badge(a.state)),
      el("td", { class: "pid" }, a.pid ?? "-"), el("td", { class: "inc" }, a.incarnation),
      el("td", { class: "restarts" }, a.restarts), el("td", { class: "mailbox" }, a.mailbox ?? 0),
      el("td", { class: "health" }, c ? badge(c.status) : "-"),
      el("td", { class: "score" }, c ? c.score.toFixed(1) : "-"), actions));
  };
  walk(data.tree, 0);
  if (!data.tree) for (const name of Object.keys(data.actors || {})) walk({ name, kind: "worker" }, 0);
  body.replaceChildren(...rows);
}

function drawAlerts(alerts) {
  $("#no-alerts").hidden = alerts.length > 0;
  $("#alerts tbody").replaceChildren(...alerts.map((a) => {
    const cell = el("td", { class: "ack" });
    if (a.acknowledged) cell.append(el("span", { class: "muted" }, "acknowledged"));
    else if (view.control) cell.append(el("button", { class: "ack-button", onclick: () => ack(a.id) }, "acknowledge"));
    return el("tr", { "data-alert": a.id, "data-acknowledged": a.acknowledged },
      el("td", {}, a.id), el("td", {}, a.component), el("td", {}, a.metric),
      el("td", {}, badge(a.severity)), el("td", {}, Number(a.value).toPrecision(3)),
      el("td", {}, a.message), cell);
  }));
}

function drawBreakers(breakers, transitions) {
  $("#no-breakers").hidden = breakers.length > 0;
  $("#breakers tbody").replaceChildren(...breakers.map((b) => el("tr", { "data-resource": b.resource },
    el("td", {}, b.resource), el("td", {}, badge(b.state + (b.forced ? " (forced)" : ""), b.state)),
    el("td", {}, `${(b.failure_rate * 100).toFixed(0)} %`), el("td", {}, b.calls),
    el("td", {}, b.rejected), el("td", {}, b.opens))));
  $("#transitions").replaceChildren(...transitions.map((t) => el("li", {},
    `${t.at ? new Date(t.at * 1000).toLocaleTimeString() : ""} ${t.resource}: ${t.from} \u2192 ${t.state}`,
    t.reason ? el("span", { class: "muted" }, ` (${t.reason})`) : "")));
}

function drawPools(pools) {
  const names = Object.keys(pools);
  if (!names.length) return $("#pools").replaceChildren(el("p", { class: "muted" }, "No pools."));
  $("#pools").replaceChildren(...names.map((name) => {
    const p = pools[name];
    const width = p.max_size ? Math.round(100 * p.in_use / p.max_size) : 0;
    return el("div", { class: "pool", "data-pool": name },
      el("div", {}, el("b", {}, name), ` ${p.backend}: ${p.in_use} in use, ${p.idle} idle of ${p.size} `
        + `(min ${p.min_size}, max ${p.max_size}), ${p.waiting} waiting, ${p.operations} operations`),
      el("div", { class: "bar" }, el("span", { style: `width: ${width}%` })));
  }));
}

function drawCharts(charted) {
  const box = $("#charts");
  if (!charted.length) return box.replaceChildren(el("p", { class: "muted" }, "No operations timed yet."));
  for (const op of Object.keys(charts)) if (!charted.includes(op)) { charts[op].destroy(); delete charts[op]; }
  if (box.querySelector("p")) box.replaceChildren();
  for (const op of charted) {
    const points = latency[op] || [];
    const data = [points.map((p) => p[0]), points.map((p) => p[1] * 1000), points.map((p) => p[2] * 1000)];
    if (charts[op]) { charts[op].setData(data); continue; }
    const holder = el("div", { class: "chart", "data-op": op });
    box.append(holder);
    charts[op] = new uPlot({
      title: op, width: 380, height: 170,
      scales: { x: { time: true } },
      series: [{}, { label: "p50", stroke: "#3b6fd6", width: 1.5 }, { label: "p99", stroke: "#d64545", width: 1.5 }],
      axes: [{}, { size: 56, values: (u, vals) => vals.map((v) => `${+v.toFixed(3)}`) }],
    }, data, holder);
  }
}

// -- events: shown before the next read -----------------------------------------------
function applyEvent({ topic, body }) {
  if (!topic.startsWith("lifecycle.") || !body) return;
  const row = document.querySelector(`tr[data-actor="${CSS.escape(body.name)}"]`);
  if (!row) return;
  const state = { started: "running", exited: "exited", restarting: "restarting", gave_up: "gave up" }[body.event];
  if (state) row.querySelector(".state").replaceChildren(badge(state));
  if (body.event === "started") {
    row.querySelector(".inc").textContent = body.incarnation;
    row.querySelector(".pid").textContent = body.pid ?? "-";
  } else if (body.event === "exited") {
    row.querySelector(".pid").textContent = "-";
  }
  row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash");
}

// -- commands -------------------------------------------------------------------------
async function command(path, body) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers = { "Content-Type": "application/json" };
    const token = sessionStorage.getItem("agentcell-token");
    if (token) headers.Authorization = `Bearer ${token}`;
    const answer = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
    if (answer.status === 401 && attempt === 0) {
      const given = prompt("This dashboard needs its token:");
      if (!given) return;
      sessionStorage.setItem("agentcell-token", given);
      continue;
    }
    if (!answer.ok) alert(`${path}: ${answer.status} ${await answer.text()}`);
    return;
  }
}

function restart(name) { if (confirm(`Restart actor ${name}? (a new incarnation)`)) command("/api/restart", { name }); }
function ack(id) { command("/api/ack", { id }); }

// -- the stream -----------------------------------------------------------------------
function connect() {
  const stream = new EventSource("/api/events");
  stream.addEventListener("open", () => $("#live").replaceWith(Object.assign(badge("live", "live"), { id: "live" })));
  stream.addEventListener("error", () => $("#live").replaceWith(Object.assign(badge("reconnecting", "down"), { id: "live" })));
  stream.addEventListener("state", (e) => render(JSON.parse(e.data)));
  stream.addEventListener("event", (e) => applyEvent(JSON.parse(e.data)));
  stream.addEventListener("trouble", (e) => {
    const t = $("#trouble"); t.textContent = `the node did not answer: ${JSON.parse(e.data).error}`; t.hidden = false;
  });
}
connect();
