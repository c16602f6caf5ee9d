// The nl6 status page: polls the REST API once a second and renders aggregates only
// (never a list of devices), so it stays readable at any fleet size.
"use strict";

const POLL_MS = 1000;
const WINDOW_MS = 15 * 60 * 1000;
const MAX_SAMPLES = 900;
const TOKEN_KEY = "nl6-rest-token";

const $ = (id) => document.getElementById(id);
const state = { samples: [], since: null, timer: null, device: null, needToken: false };

// ---- API -----------------------------------------------------------------------------

class AuthError extends Error {}

/// JSON.parse reviver: integers beyond 2^53 (octet counters) become exact BigInts where the
/// browser hands revivers the source text.
function exact(_key, value, context) {
  if (typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value)
      && context && typeof context.source === "string" && /^\d+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const reply = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
  if (reply.status === 401) throw new AuthError("the API needs a bearer token");
  const text = await reply.text();
  let body = text;
  try { body = JSON.parse(text, exact); } catch (_) { /* not JSON */ }
  if (!reply.ok) {
    const why = (body && (body.message || body.error)) || reply.statusText;
    throw new Error(reply.status + ": " + why);
  }
  return body;
}

// ---- formatting ----------------------------------------------------------------------

function int(n) {
  if (n === undefined || n === null) return "–";
  return (typeof n === "bigint" ? n : Number(n)).toLocaleString("en-US");
}
function rate(n) {
  if (n === undefined || n === null) return "–";
  if (n >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(1);
}
function short(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n * 10) / 10);
}
function setText(id, text) { const el = $(id); if (el.textContent !== text) el.textContent = text; }
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

// ---- rendering -----------------------------------------------------------------------

function renderCounts(tableId, map, empty) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  const entries = Object.entries(map || {});
  if (entries.length === 0) entries.push([empty, null]);
  for (const [key, n] of entries) {
    const row = body.insertRow();
    cell(row, key, n === null ? "muted" : "");
    cell(row, n === null ? "" : int(n), "num");
  }
}

function renderFleet(status) {
  const c = status.composition;
  setText("version", "v" + status.version);
  setText("uptime", "up " + status.uptime);
  setText("fleet-devices", int(status.devices));
  setText("fleet-interfaces", int(c.interfaces));
  setText("fleet-mode", status.network_mode);
  setText("fleet-dialin-only", int(c.dialin_only));
  setText("fleet-batch", status.batch_in_progress ? "yes" : "no");
  renderCounts("by-device-type", c.by_device_type, "no devices");
  renderCounts("by-naming", c.by_naming, "no devices");
  renderCounts("by-dialout", c.by_dialout_flavor, "none");
  renderCounts("by-mdt", c.by_mdt_flavor, "none");
}

function renderDialin(gnmi, mdt, latest) {
  setText("dialin-connections", int(gnmi.connections_open));
  setText("dialin-subscriptions", int(gnmi.active_subscriptions));
  setText("dialin-rate", latest ? rate(latest.dialin_updates_per_sec) : "–");
  setText("dialin-dropped", int(gnmi.updates_dropped));
  setText("mdt-dialin-subscriptions", int(mdt.dialin.subscriptions_active));
}

/// A destination fails when some of its devices have no stream and it reports an error,
/// or when opens failed in the last second.
function failing(c, r) {
  return (c.devices_connected < c.devices && !!c.last_error) || (r && r.open_failures_per_sec > 0);
}

function renderDestinations(dialout, mdt, latest) {
  const rates = new Map();
  for (const d of (latest && latest.destinations) || []) rates.set(d.flavor + " " + d.collector, d);
  const rows = dialout.collectors.map((c) => ["gNMI", c]).concat(mdt.collectors.map((c) => ["MDT", c]));
  const body = $("destinations").tBodies[0];
  body.replaceChildren();
  for (const [kind, c] of rows) {
    const r = rates.get(c.flavor + " " + c.collector);
    const row = body.insertRow();
    row.dataset.collector = c.collector;
    row.dataset.flavor = c.flavor;
    if (failing(c, r)) row.className = "failing";
    cell(row, kind);
    cell(row, c.collector, "collector");
    cell(row, c.flavor, "flavor");
    cell(row, int(c.devices), "num devices");
    cell(row, int(c.streams_active), "num streams");
    cell(row, r ? rate(r.updates_per_sec) : "–", "num rate");
    cell(row, int(c.updates_sent), "num sent");
    cell(row, int(c.updates_dropped), "num dropped");
    cell(row, int(c.open_failures), "num open-failures");
    const err = cell(row, c.last_error || "", "last-error");
    if (c.last_error_at) err.title = c.last_error_at;
  }
  $("no-destinations").hidden = rows.length > 0;
  $("destinations").hidden = rows.length === 0;
}

/// Time of day of an RFC 3339 instant, to the second.
function clock(rfc3339) {
  return rfc3339 ? rfc3339.slice(11, 19) : "";
}

function renderRuns(runs) {
  const body = $("run-list").tBodies[0];
  body.replaceChildren();
  for (const r of runs) {
    const row = body.insertRow();
    row.dataset.run = r.id;
    const lost = r.totals.dropped.messages + r.totals.discarded.messages + r.totals.send_failures.messages;
    if (lost > 0 || r.unsettled > 0) row.className = "failing";
    cell(row, r.id + " (" + r.tag + ")", "run");
    cell(row, r.protocol, "protocol");
    cell(row, r.state, "state");
    cell(row, clock(r.t0) + " – " + clock(r.t1), "window");
    cell(row, int(r.participants), "num participants");
    cell(row, int(r.totals.sent.messages), "num sent-messages");
    cell(row, int(r.totals.sent.updates), "num sent-updates");
    cell(row, int(r.totals.dropped.messages), "num dropped");
    cell(row, int(r.unsettled), "num unsettled");
    const c = r.ceiling;
    cell(row, c ? int(c.devices) + " devices, " + rate(c.messages_per_s) + " msg/s" + (c.found ? "" : " (at least)") : "", "ceiling");
  }
  $("no-runs").hidden = runs.length > 0;
  $("run-list").hidden = runs.length === 0;
}

const SVG = "http://www.w3.org/2000/svg";
function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/// Draws series [{label, value(sample)}] of the samples over the last 15 minutes.
function chart(id, series) {
  const svg = $(id);
  const box = svg.viewBox.baseVal;
  const W = box.width, H = box.height, L = 44, R = 8, T = 10, B = 38;
  const now = Date.now(), from = now - WINDOW_MS;
  const points = state.samples.filter((s) => s.t >= from);
  let max = 0;
  for (const s of points) for (const one of series) max = Math.max(max, one.value(s));
  max = max > 0 ? max * 1.1 : 1;
  const x = (t) => L + ((t - from) / WINDOW_MS) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const nodes = [];
  for (const f of [0, 0.5, 1]) {
    nodes.push(svgEl("line", { class: "grid", x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
    const label = svgEl("text", { x: L - 4, y: y(max * f) + 4, "text-anchor": "end" });
    label.textContent = short(max * f);
    nodes.push(label);
  }
  for (const [t, text] of [[from, "-15m"], [from + WINDOW_MS / 3, "-10m"], [from + 2 * WINDOW_MS / 3, "-5m"], [now, "now"]]) {
    const label = svgEl("text", { x: x(t), y: H - B + 14, "text-anchor": t === now ? "end" : "middle" });
    label.textContent = text;
    nodes.push(label);
  }
  series.forEach((one, i) => {
    if (points.length > 0) {
      const d = points.map((s) => x(s.t).toFixed(1) + "," + y(one.value(s)).toFixed(1)).join(" ");
      nodes.push(svgEl("polyline", { class: "s" + i, points: d }));
    }
    const lx = 4 + i * (W / series.length);
    nodes.push(svgEl("rect", { class: "s" + i, x: lx, y: H - 9, width: 10, height: 4 }));
    const label = svgEl("text", { x: lx + 14, y: H - 4 });
    const last = points.length ? one.value(points[points.length - 1]) : 0;
    label.textContent = one.label + " " + short(last);
    label.setAttribute("class", "legend");
    nodes.push(label);
  });
  svg.replaceChildren(...nodes);
}

function renderCharts() {
  chart("chart-updates", [
    { label: "dial-in", value: (s) => s.dialin_updates_per_sec },
    { label: "gNMI dial-out", value: (s) => s.dialout_updates_per_sec },
    { label: "MDT", value: (s) => s.mdt_updates_per_sec },
  ]);
  chart("chart-drops", [
    { label: "dial-in drops", value: (s) => s.dialin_dropped_per_sec },
    { label: "dial-out drops", value: (s) => s.dialout_dropped_per_sec + s.mdt_dropped_per_sec },
    { label: "failed opens", value: (s) => s.open_failures_per_sec },
  ]);
  chart("chart-streams", [
    { label: "conns", value: (s) => s.dialin_connections },
    { label: "subs", value: (s) => s.dialin_subscriptions },
    { label: "gNMI out", value: (s) => s.dialout_streams },
    { label: "MDT out", value: (s) => s.mdt_streams },
  ]);
}

// ---- polling -------------------------------------------------------------------------

function setLive(ok, text) {
  const badge = $("live");
  badge.className = "badge " + (ok ? "live" : "down");
  badge.textContent = text;
}

async function poll() {
  state.timer = null;
  try {
    const query = state.since === null ? "" : "?since=" + state.since;
    const [status, gnmi, dialout, mdt, history, runs] = await Promise.all([
      api("api/v1/status"), api("api/v1/gnmi/status"), api("api/v1/gnmi/dialout/status"),
      api("api/v1/mdt/status"), api("api/v1/history" + query), api("api/v1/runs"),
    ]);
    for (const s of history.samples) state.samples.push(s);
    if (state.samples.length > MAX_SAMPLES) state.samples.splice(0, state.samples.length - MAX_SAMPLES);
    if (state.samples.length) state.since = state.samples[state.samples.length - 1].t;
    const latest = state.samples[state.samples.length - 1];
    renderFleet(status);
    renderDialin(gnmi, mdt, latest);
    renderDestinations(dialout, mdt, latest);
    renderRuns(runs.data);
    renderCharts();
    if (state.device) await showDevice(state.device, false);
    setLive(true, "live " + new Date().toLocaleTimeString("en-GB"));
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    if (e instanceof AuthError) {
      askToken(sessionStorage.getItem(TOKEN_KEY) ? "the token was refused" : "");
      setLive(false, "needs token");
      return;
    }
    setLive(false, "error: " + e.message);
  }
  state.timer = setTimeout(poll, POLL_MS);
}

function restart() {
  if (state.timer) clearTimeout(state.timer);
  poll();
}

// ---- token ---------------------------------------------------------------------------

function askToken(why) {
  state.needToken = true;
  $("token-form").hidden = false;
  $("token-error").textContent = why;
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
  $("token-input").value = "";
  $("token-form").hidden = true;
  state.needToken = false;
  restart();
});
$("token-button").addEventListener("click", () => askToken(""));

// ---- one device ----------------------------------------------------------------------

const COUNTERS = ["in-octets", "out-octets", "in-unicast-pkts", "out-unicast-pkts",
  "in-errors", "out-errors"];

function configRows(prefix, value, out) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) configRows(prefix ? prefix + "." + k : k, v, out);
  } else {
    out.push([prefix, Array.isArray(value) ? value.join(", ") : String(value)]);
  }
  return out;
}

function lastChange(ns) {
  if (!ns) return "never";
  const ms = typeof ns === "bigint" ? Number(ns / 1000000n) : ns / 1e6;
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

async function showDevice(ip, announce) {
  try {
    const [device, ifs] = await Promise.all([
      api("api/v1/devices/" + encodeURIComponent(ip)),
      api("api/v1/devices/" + encodeURIComponent(ip) + "/interfaces"),
    ]);
    state.device = ip;
    const d = device.data;
    $("device-view").hidden = false;
    $("device-view").dataset.ip = ip;
    setText("device-title", d.ip + " — " + d.hostname);
    const config = $("device-config").tBodies[0];
    config.replaceChildren();
    const rows = [["interfaces", String(d.interfaces)], ["created", d.created]];
    if (d.dialout_collector) rows.push(["dial-out collector now", d.dialout_collector]);
    if (d.dialout_error) rows.push(["dial-out error", d.dialout_error]);
    for (const [k, v] of configRows("", d.config, rows)) {
      const row = config.insertRow();
      cell(row, k);
      cell(row, v);
    }
    const body = $("device-interfaces").tBodies[0];
    body.replaceChildren();
    for (const i of ifs.data.interfaces) {
      const row = body.insertRow();
      row.dataset.ifindex = String(i.ifindex);
      cell(row, String(i.ifindex), "num");
      cell(row, i.name);
      cell(row, i.admin_status, "admin state-" + i.admin_status);
      cell(row, i.link, "link state-" + i.link);
      cell(row, i.oper_status, "oper state-" + i.oper_status);
      cell(row, lastChange(i.last_change));
      for (const c of COUNTERS) cell(row, int(i.counters[c]), "num");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "flip";
      const next = i.link === "UP" ? "DOWN" : "UP";
      button.textContent = "link " + next;
      button.addEventListener("click", () => flip(ip, i.ifindex, next));
      row.insertCell().append(button);
    }
    if (announce) $("lookup-error").textContent = "";
  } catch (e) {
    if (e instanceof AuthError) { askToken(""); return; }
    $("lookup-error").textContent = ip + ": " + e.message;
    if (announce) { state.device = null; $("device-view").hidden = true; }
  }
}

async function flip(ip, ifindex, status) {
  try {
    await api("api/v1/devices/" + encodeURIComponent(ip) + "/interfaces/" + ifindex + "/oper-status", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status }),
    });
    await showDevice(ip, false);
  } catch (e) {
    $("lookup-error").textContent = "ifindex " + ifindex + ": " + e.message;
  }
}

$("lookup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  showDevice($("lookup-ip").value.trim(), true);
});

poll();
