// The inspector: polls the admin API once a second and renders it. No framework, no build step.
"use strict";

const API = "/_emulator";
const state = { tenant: null, de: null, journalSeen: 0, expanded: new Set(), token: localStorage.getItem("emulatorAdminToken") || "" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers["X-Emulator-Admin-Token"] = state.token;
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(options.json); }
  const response = await fetch(API + path, { ...options, headers });
  if (response.status === 401) {
    document.getElementById("token-form").hidden = false;
    throw new Error("the control plane needs the admin token");
  }
  const body = response.headers.get("Content-Type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error((body && body.message) || response.statusText);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

function statusClass(status) {
  if (status === null || status === undefined) return "s0";
  if (status === 429) return "s429";
  return "s" + String(status)[0];
}

function pretty(text) {
  if (!text) return "(empty)";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}

function fill(id, ...nodes) {
  const target = document.getElementById(id);
  target.replaceChildren(...nodes);
  return target;
}

// -- tenants ------------------------------------------------------------------------------------

async function loadTenants() {
  const { items } = await api("/tenants");
  const select = document.getElementById("tenant-select");
  if (!state.tenant || !items.some((t) => t.id === state.tenant)) {
    state.tenant = items.length ? items[0].id : null;
    state.de = null;
  }
  const options = items.map((t) => el("option", { value: t.id }, t.id));
  if (select.options.length !== options.length || [...select.options].some((o, i) => o.value !== items[i].id)) {
    select.replaceChildren(...options);
  }
  select.value = state.tenant || "";
  fill("tenants", ...items.map((t) => el("tr", {
    class: "clickable" + (t.id === state.tenant ? " selected" : ""), onclick: () => selectTenant(t.id),
  }, el("td", {}, el("b", {}, t.id)), el("td", {}, t.name || ""),
  el("td", {}, t.business_units.map((b) => b.mid).join(", ")), el("td", {}, t.packages[0]?.client_id || ""),
  el("td", {}, t.settings.rate_limit ? `${t.settings.rate_limit}/s` : "off"), el("td", {}, t.data_extensions.length))));
  return items.find((t) => t.id === state.tenant);
}

function selectTenant(id) {
  state.tenant = id;
  state.de = null;
  state.expanded.clear();
  refresh();
}

// -- traffic chart and stats --------------------------------------------------------------------

function drawTraffic(traffic) {
  const canvas = document.getElementById("traffic");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 900, height = canvas.clientHeight || 170;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const points = traffic.points, pad = { l: 34, r: 8, t: 8, b: 18 };
  const limit = traffic.rate_limit || 0;
  const peak = Math.max(limit * 1.25, 5, ...points.map((p) => p.accepted + p.throttled));
  const plotW = width - pad.l - pad.r, plotH = height - pad.t - pad.b;
  const y = (v) => pad.t + plotH - (v / peak) * plotH;
  ctx.font = "10px system-ui, sans-serif"; ctx.fillStyle = "#8797a8"; ctx.strokeStyle = "#edf0f3";
  for (let i = 0; i <= 4; i++) {
    const v = (peak / 4) * i, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, yy); ctx.lineTo(width - pad.r, yy); ctx.stroke();
    ctx.fillText(v.toFixed(v < 10 ? 1 : 0), 4, yy + 3);
  }
  const slot = plotW / points.length, bar = Math.max(1, slot - 2);
  points.forEach((p, i) => {
    const x = pad.l + i * slot + 1;
    ctx.fillStyle = "#0b5cab";
    ctx.fillRect(x, y(p.accepted), bar, y(0) - y(p.accepted));
    if (p.throttled) {
      ctx.fillStyle = "#e0301e";
      ctx.fillRect(x, y(p.accepted + p.throttled), bar, y(p.accepted) - y(p.accepted + p.throttled));
      ctx.beginPath(); ctx.arc(x + bar / 2, pad.t + 3, 3, 0, Math.PI * 2); ctx.fill();
    }
  });
  if (limit) {
    ctx.strokeStyle = "#e0301e"; ctx.setLineDash([5, 4]); ctx.beginPath();
    ctx.moveTo(pad.l, Math.round(y(limit)) + 0.5); ctx.lineTo(width - pad.r, Math.round(y(limit)) + 0.5); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = "#e0301e"; ctx.fillText(`rate limit ${limit}/s`, pad.l + 4, y(limit) - 4);
  }
  ctx.fillStyle = "#8797a8";
  ctx.fillText(`-${points.length}s`, pad.l, height - 4);
  ctx.fillText("now", width - pad.r - 20, height - 4);
  const total = points.reduce((a, p) => a + p.accepted, 0), refused = points.reduce((a, p) => a + p.throttled, 0);
  fill("traffic-legend", `blue: accepted, red: 429 (${refused} in the last ${points.length}s, ${total} accepted)`);
  canvas.dataset.accepted = total;
  canvas.dataset.throttled = refused;
}

function renderStats(stats) {
  const shown = ["requests", "2xx", "4xx", "429", "5xx", "dropped", "faults", "rows_written", "rows_failed",
    "keys_ignored", "journal_evicted"];
  fill("stats", ...shown.map((k) => el("div", { dataset: { stat: k } }, k.replace("_", " "), el("b", {}, stats[k]))));
}

// -- data extensions ----------------------------------------------------------------------------

async function loadDataExtensions() {
  const { items } = await api(`/tenants/${encodeURIComponent(state.tenant)}/data-extensions`);
  if (!state.de && items.length) state.de = items[0].key;
  fill("des", ...items.map((de) => el("button", {
    class: de.key === state.de ? "active" : "", dataset: { key: de.key },
    onclick: () => { state.de = de.key; refresh(); },
  }, de.key)));
  const de = items.find((d) => d.key === state.de);
  if (!de) { fill("de-detail", el("p", { class: "muted" }, "No data extensions.")); return; }
  const rows = await api(`/tenants/${encodeURIComponent(state.tenant)}/data-extensions/${encodeURIComponent(de.key)}/rows?page_size=200`);
  const names = de.fields.map((f) => f.name);
  fill("de-detail",
    el("div", { class: "cols" }, de.fields.map((f) => el("span", {}, el("b", {}, f.name),
      ` ${f.fieldType || f.type || ""}${f.isPrimaryKey ? " (PK)" : ""}; `))),
    el("div", { class: "muted" }, `${rows.count} row(s)`),
    el("table", { dataset: { testid: "rows" } }, el("thead", {}, el("tr", {}, names.map((n) => el("th", {}, n)))),
      el("tbody", {}, rows.items.map((r) => el("tr", {}, names.map((n) => el("td", {}, r[n] ?? "")))))));
}

// -- journal ------------------------------------------------------------------------------------

async function loadJournal() {
  const data = await api(`/journal?tenant=${encodeURIComponent(state.tenant)}&limit=40`);
  fill("journal-info", `${data.count} shown, newest first; ${data.evicted} evicted overall; click a row for the bodies`);
  const rows = [];
  for (const e of data.items) {
    const notes = [];
    if (e.soap) notes.push(el("span", { class: "tag", dataset: { testid: "soap-call" } },
      `SOAP ${e.soap.operation} ${e.soap.object_types.join(", ")}`.trim()));
    if (e.fault) notes.push(el("span", { class: "tag fault" }, `fault ${e.fault}`));
    if (e.keys_ignored.length) notes.push(el("span", { class: "tag warn" }, `ignored: ${e.keys_ignored.join(", ")}`));
    if (e.rules_broken.length) notes.push(el("span", { class: "tag warn" }, e.rules_broken[0]));
    if (e.rows_written) notes.push(el("span", { class: "tag" }, `${e.rows_written} row(s)`));
    const time = new Date(e.at * 1000).toLocaleTimeString();
    rows.push(el("tr", {
      class: "clickable", dataset: { id: e.id, status: e.status ?? "dropped" },
      onclick: () => { state.expanded.has(e.id) ? state.expanded.delete(e.id) : state.expanded.add(e.id); loadJournal(); },
    }, el("td", {}, e.id), el("td", {}, time), el("td", { class: "host" }, e.host || ""), el("td", {}, e.method),
    el("td", { class: "path", title: e.path + (e.query ? "?" + e.query : "") }, e.path + (e.query ? "?" + e.query : "")),
    el("td", { class: statusClass(e.status) }, e.status ?? "dropped"), el("td", {}, e.latency_ms.toFixed(1)),
    el("td", {}, notes)));
    if (state.expanded.has(e.id)) {
      rows.push(el("tr", {}, el("td", { colspan: 8 }, el("div", { class: "bodies" },
        el("div", {}, el("b", {}, "request"), el("pre", { dataset: { testid: "request-body" } }, pretty(e.request_body))),
        el("div", {}, el("b", {}, "response"), el("pre", { dataset: { testid: "response-body" } }, pretty(e.response_body)))))));
    }
  }
  fill("journal", ...rows);
}

// -- faults -------------------------------------------------------------------------------------

async function loadFaults() {
  const { items } = await api("/faults");
  fill("faults", ...items.filter((f) => !f.tenant || f.tenant === state.tenant).map((f) => el("tr", { dataset: { id: f.id } },
    el("td", {}, f.id), el("td", {}, f.kind),
    el("td", {}, [f.tenant || "any tenant", f.method, f.path || f.path_regex, f.data_extension].filter(Boolean).join(" ")),
    el("td", {}, [f.times ? `times ${f.times}` : "", f.probability !== undefined ? `p ${f.probability}` : "",
      f.delay ? `delay ${f.delay}s` : ""].filter(Boolean).join(", ") || "always"),
    el("td", {}, f.fired),
    el("td", {}, el("button", { class: "small", onclick: () => removeFault(f.id), dataset: { testid: "fault-remove" } }, "remove")))));
}

async function addFault(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const rule = { kind: form.get("kind"), tenant: state.tenant };
  for (const name of ["method", "path"]) if (form.get(name)) rule[name] = form.get(name);
  for (const name of ["times"]) if (form.get(name)) rule[name] = parseInt(form.get(name), 10);
  for (const name of ["probability", "delay"]) if (form.get(name)) rule[name] = parseFloat(form.get(name));
  fill("fault-error");
  try {
    await api("/faults", { method: "POST", json: rule });
    event.target.reset();
  } catch (error) {
    const extra = (error.body && error.body.additionalErrors || []).map((e) => e.message).join("; ");
    fill("fault-error", extra || error.message);
  }
  refresh();
}

async function removeFault(id) {
  await api(`/faults/${encodeURIComponent(id)}`, { method: "DELETE" });
  refresh();
}

// -- contacts, API events, async jobs: endpoints other emulator versions may not have ------------

async function optionalList(id, paths, columns) {
  for (const path of paths) {
    try {
      const body = await api(`/tenants/${encodeURIComponent(state.tenant)}/${path}?limit=50`);
      const items = Array.isArray(body) ? body : (body.items || []);
      if (!items.length) { fill(id, el("p", { class: "muted" }, "None yet.")); return; }
      const keys = columns.filter((c) => items.some((i) => i[c] !== undefined));
      const shown = keys.length ? keys : Object.keys(items[0]).slice(0, 6);
      fill(id, el("table", {}, el("thead", {}, el("tr", {}, shown.map((k) => el("th", {}, k)))),
        el("tbody", {}, items.slice(0, 50).map((i) => el("tr", {}, shown.map((k) => el("td", {},
          typeof i[k] === "object" && i[k] !== null ? JSON.stringify(i[k]) : (i[k] ?? ""))))))));
      return;
    } catch (error) {
      if (error.status !== 404) { fill(id, el("p", { class: "error" }, error.message)); return; }
    }
  }
  fill(id, el("p", { class: "muted" }, "Not available in this emulator version."));
}

// -- the loop -----------------------------------------------------------------------------------

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  const status = document.getElementById("status");
  try {
    const tenant = await loadTenants();
    if (tenant) {
      const id = encodeURIComponent(state.tenant);
      const [stats, traffic] = await Promise.all([api(`/tenants/${id}/stats`), api(`/tenants/${id}/traffic?seconds=60`)]);
      renderStats(stats);
      drawTraffic(traffic);
      await Promise.all([loadDataExtensions(), loadJournal(), loadFaults(),
        optionalList("contacts", ["contacts"], ["contactKey", "contactId", "isNewContactKey", "attributes",
          "modifiedDate"]),
        optionalList("events", ["journey-entries"], ["time", "eventDefinitionKey", "contactKey", "dataExtension",
          "data"]),
        optionalList("jobs", ["async-jobs"], ["id", "data_extension", "operation", "requestStatus", "item_count",
          "saved_count", "failed_count", "reason"])]);
    }
    status.textContent = `updated ${new Date().toLocaleTimeString()}`;
    status.className = "";
  } catch (error) {
    status.textContent = error.message;
    status.className = "bad";
  } finally {
    busy = false;
  }
}

document.getElementById("tenant-select").addEventListener("change", (e) => selectTenant(e.target.value));
document.getElementById("fault-form").addEventListener("submit", addFault);
document.getElementById("journal-clear").addEventListener("click", async () => {
  await api(`/journal?tenant=${encodeURIComponent(state.tenant)}`, { method: "DELETE" });
  refresh();
});
document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = document.getElementById("admin-token").value;
  localStorage.setItem("emulatorAdminToken", state.token);
  e.target.hidden = true;
  refresh();
});
refresh();
setInterval(refresh, 1000);
