// The tfs-gateway console: models, their signatures, a request editor and a live panel.
// Everything comes from the gateway's own endpoints: /console/api/models (the models),
// /v1/models/<m>/metadata (signatures), /v1/models/<m>/openapi.json (example requests),
// /console/api/stats (the live panel). With auth on, the API key is kept in
// sessionStorage and sent as X-API-Key.
"use strict";

const KEY_STORAGE = "tfs-gateway-api-key";
const POST_VERBS = ["predict", "classify", "regress"];
const GET_VERBS = ["status", "metadata"];
const STATS_EVERY_MS = 2000;

const state = {
  models: [],
  model: null,
  document: null,
  statsTimer: null,
};

const $ = (id) => document.getElementById(id);

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

class NeedKey extends Error {}

// fetch on this origin with the key; a 401 asks for a key.
async function api(path, options = {}) {
  const headers = { ...authHeaders(), ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  if (response.status === 401) {
    askForKey(apiKey() ? "That API key was not accepted." : "This gateway needs an API key.");
    throw new NeedKey("authentication required");
  }
  return response;
}

async function apiJson(path) {
  const response = await api(path);
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.error || `${response.status}`);
  }
  return body;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

function askForKey(message) {
  $("key-form").hidden = false;
  $("key-label").textContent = message + " API key";
  $("key-input").focus();
}

function text(tag, content, className) {
  const node = document.createElement(tag);
  if (content !== undefined) node.textContent = content;
  if (className) node.className = className;
  return node;
}

function encodePart(name) {
  return encodeURIComponent(name);
}

// --- models -------------------------------------------------------------------------

async function loadModels() {
  const listing = await apiJson("/console/api/models");
  state.models = listing.models;
  state.deployments = listing.deployments;
  $("forget-key").hidden = !(listing.auth && apiKey());
  renderModels();
  if (!state.model && state.models.length) {
    const preferred = state.models.find((m) => (m.versions || []).some((v) => v.state === "AVAILABLE"));
    await selectModel((preferred || state.models[0]).name);
  }
}

function versionsText(model) {
  if (model.error) return { text: model.error, className: "state-error" };
  const parts = (model.versions || []).map((v) => `v${v.version} ${v.state}`);
  return { text: parts.join(", ") || "no versions", className: "" };
}

function renderModels() {
  const list = $("models");
  list.replaceChildren();
  for (const model of state.models) {
    const item = document.createElement("li");
    item.dataset.model = model.name;
    if (state.model && state.model.name === model.name) item.classList.add("selected");
    const button = document.createElement("button");
    button.type = "button";
    button.append(text("span", model.name, "model-name"));
    const meta = text("span", "", "model-meta");
    const versions = versionsText(model);
    const states = text("span", versions.text, versions.className);
    for (const v of model.versions || []) states.classList.add(`state-${v.state}`);
    meta.append(states, document.createElement("br"));
    for (const source of model.sources) meta.append(text("span", source, "tag"));
    for (const id of model.deployments) meta.append(text("span", `deployment ${id}`, "tag"));
    button.append(meta);
    button.addEventListener("click", () => selectModel(model.name).catch(report));
    item.append(button);
    list.append(item);
  }
  if (!state.models.length) list.append(text("li", "No models known yet.", "hint"));
}

async function selectModel(name) {
  const model = state.models.find((m) => m.name === name);
  state.model = model;
  renderModels();
  $("model-title").textContent = name;
  const base = `/v1/models/${encodePart(name)}`;
  const links = $("model-links");
  links.replaceChildren();
  const docLink = text("a", "OpenAPI document");
  docLink.href = `${base}/openapi.json`;
  const swagger = text("a", "Try it in Swagger UI");
  swagger.href = `/docs/?doc=${encodeURIComponent(base + "/openapi.json")}`;
  links.append(docLink, swagger);
  fillEndpoints(model);
  const [metadata, doc] = await Promise.all([
    apiJson(`${base}/metadata`).catch((err) => ({ error: err.message })),
    apiJson(`${base}/openapi.json`).catch((err) => ({ error: err.message })),
  ]);
  renderSignatures(metadata);
  state.document = doc.error ? null : doc;
  fillVerbs();
}

function fillEndpoints(model) {
  const select = $("endpoint");
  select.replaceChildren();
  const bases = [`/v1/models/${encodePart(model.name)}`];
  for (const id of model.deployments) bases.push(`/model-serving/${encodePart(id)}`);
  for (const base of bases) select.append(new Option(base, base));
}

// --- signatures -------------------------------------------------------------------------

function shapeText(info) {
  const shape = info.tensor_shape;
  if (!shape || shape.unknown_rank) return "unknown";
  return "[" + (shape.dim || []).map((d) => d.size).join(", ") + "]";
}

function tensorTable(caption, tensors) {
  const table = document.createElement("table");
  table.append(text("caption", caption));
  const head = document.createElement("tr");
  for (const title of ["alias", "dtype", "shape", "tensor"]) head.append(text("th", title));
  table.append(head);
  for (const [alias, info] of Object.entries(tensors || {}).sort()) {
    const row = document.createElement("tr");
    row.append(text("td", alias), text("td", info.dtype), text("td", shapeText(info)));
    const cell = document.createElement("td");
    cell.append(text("code", info.name || ""));
    row.append(cell);
    table.append(row);
  }
  return table;
}

function renderSignatures(metadata) {
  const box = $("signatures");
  box.replaceChildren();
  if (metadata.error) {
    box.append(text("p", `No metadata: ${metadata.error}`, "state-error"));
    return;
  }
  const defs = ((metadata.metadata || {}).signature_def || {}).signature_def || {};
  const version = (metadata.model_spec || {}).version;
  box.append(text("p", `Version ${version}: ${Object.keys(defs).length} signature(s)`, "hint"));
  const names = Object.keys(defs).sort((a, b) =>
    a === "serving_default" ? -1 : b === "serving_default" ? 1 : a.localeCompare(b));
  for (const name of names) {
    const sig = defs[name];
    const details = document.createElement("details");
    if (name === "serving_default") details.open = true;
    details.append(text("summary", `${name} (${sig.method_name || "no method"})`));
    details.append(tensorTable("inputs", sig.inputs), tensorTable("outputs", sig.outputs));
    box.append(details);
  }
}

// --- the editor ---------------------------------------------------------------------------

function documentOperation(verb) {
  const doc = state.document;
  if (!doc) return null;
  const base = `/v1/models/${encodePart(state.model.name)}`;
  const path = POST_VERBS.includes(verb) ? `${base}:${verb}` : verb === "metadata" ? `${base}/metadata` : base;
  const item = doc.paths[path];
  return item ? item.post || item.get : null;
}

function examplesOf(verb) {
  const operation = documentOperation(verb);
  if (!operation || !operation.requestBody) return {};
  return operation.requestBody.content["application/json"].examples || {};
}

function fillVerbs() {
  const select = $("verb");
  select.replaceChildren();
  for (const verb of [...POST_VERBS, ...GET_VERBS]) {
    if (!POST_VERBS.includes(verb) || Object.keys(examplesOf(verb)).length || verb === "predict") {
      select.append(new Option(verb, verb));
    }
  }
  select.value = "predict";
  fillExamples();
}

function fillExamples() {
  const verb = $("verb").value;
  const select = $("example");
  select.replaceChildren();
  const examples = examplesOf(verb);
  for (const name of Object.keys(examples)) select.append(new Option(name, name));
  select.disabled = !select.options.length;
  showExample();
}

function showExample() {
  const verb = $("verb").value;
  const examples = examplesOf(verb);
  const chosen = examples[$("example").value];
  const editor = $("request-body");
  const isPost = POST_VERBS.includes(verb);
  editor.disabled = !isPost;
  editor.value = isPost ? (chosen ? JSON.stringify(chosen.value, null, 2) : "{}") : "";
  $("send").disabled = !state.model;
  updateCurl();
}

function requestUrl() {
  const verb = $("verb").value;
  const base = $("endpoint").value;
  if (POST_VERBS.includes(verb)) return `${base}:${verb}`;
  return verb === "metadata" ? `${base}/metadata` : base;
}

function shellQuote(value) {
  return "'" + value.replace(/'/g, "'\\''") + "'";
}

function curlCommand() {
  const verb = $("verb").value;
  const url = new URL(requestUrl(), location.href).href;
  const parts = ["curl -s"];
  if (apiKey()) parts.push("-H \"X-API-Key: $TFS_GATEWAY_API_KEY\"");
  if (POST_VERBS.includes(verb)) {
    let body = $("request-body").value;
    try {
      body = JSON.stringify(JSON.parse(body));
    } catch (err) {
      // not JSON: send it as it is, as the Send button does
    }
    parts.push("-H 'Content-Type: application/json'", "-d " + shellQuote(body));
  }
  parts.push(shellQuote(url));
  return parts.join(" ");
}

function updateCurl() {
  $("curl").textContent = state.model ? curlCommand() : "";
}

function pretty(bodyText) {
  try {
    return JSON.stringify(JSON.parse(bodyText), null, 2);
  } catch (err) {
    return bodyText; // NaN/Infinity tokens or not JSON: show as answered
  }
}

async function send() {
  const verb = $("verb").value;
  const isPost = POST_VERBS.includes(verb);
  const status = $("response-status");
  status.textContent = "…";
  status.className = "status";
  $("latency").textContent = "";
  const started = performance.now();
  let response;
  try {
    response = await api(requestUrl(), {
      method: isPost ? "POST" : "GET",
      headers: isPost ? { "Content-Type": "application/json" } : {},
      body: isPost ? $("request-body").value : undefined,
    });
  } catch (err) {
    status.textContent = err instanceof NeedKey ? "401 (API key needed)" : "failed";
    status.className = "status bad";
    $("response").textContent = String(err.message || err);
    return;
  }
  const bodyText = await response.text();
  const elapsed = performance.now() - started;
  status.textContent = `${response.status} ${response.statusText}`.trim();
  status.className = "status " + (response.ok ? "ok" : "bad");
  $("latency").textContent = `${elapsed.toFixed(1)} ms`;
  $("response").textContent = pretty(bodyText);
}

async function copyCurl() {
  const command = $("curl").textContent;
  try {
    await navigator.clipboard.writeText(command);
    $("copy-curl").textContent = "Copied";
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents($("curl"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    $("copy-curl").textContent = "Selected: press Ctrl+C";
  }
  setTimeout(() => { $("copy-curl").textContent = "Copy curl"; }, 2000);
}

// --- the live panel -----------------------------------------------------------------------

const COLORS = { rps: "#1f6feb", p50: "#1f6feb", p99: "#8250df", e4: "#bf8700", e5: "#cf222e" };

function drawChart(canvas, series, unit) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  const values = series.flatMap((s) => s.values.filter((v) => v !== null));
  const top = Math.max(1e-9, ...values) * 1.15;
  const pad = { left: 4, right: 4, top: 14, bottom: 4 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  ctx.strokeStyle = "#e3e7ec";
  ctx.beginPath();
  for (let i = 0; i <= 2; i += 1) {
    const y = pad.top + (plotH * i) / 2;
    ctx.moveTo(pad.left, y);
    ctx.lineTo(width - pad.right, y);
  }
  ctx.stroke();
  ctx.fillStyle = "#5f6b7a";
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(`max ${formatValue(top / 1.15)} ${unit}`, pad.left + 2, 10);
  for (const s of series) {
    const n = s.values.length;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let drawing = false;
    s.values.forEach((v, i) => {
      if (v === null) {
        drawing = false;
        return;
      }
      const x = pad.left + (n > 1 ? (plotW * i) / (n - 1) : 0);
      const y = pad.top + plotH - (plotH * v) / top;
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
    });
    ctx.stroke();
    ctx.fillStyle = s.color;
    s.values.forEach((v, i) => {
      const alone = v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null;
      if (!alone) return;
      const x = pad.left + (n > 1 ? (plotW * i) / (n - 1) : 0);
      ctx.fillRect(x - 1.5, pad.top + plotH - (plotH * v) / top - 1.5, 3, 3);
    });
  }
}

function formatValue(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function renderStats(stats) {
  const points = stats.points;
  const pick = (key, scale = 1) => points.map((p) => (p[key] === null || p[key] === undefined ? null : p[key] * scale));
  drawChart($("chart-rps"), [{ values: pick("requests_per_s"), color: COLORS.rps }], "req/s");
  drawChart($("chart-latency"), [
    { values: pick("p50_ms"), color: COLORS.p50 },
    { values: pick("p99_ms"), color: COLORS.p99 },
  ], "ms");
  drawChart($("chart-errors"), [
    { values: pick("client_error_rate", 100), color: COLORS.e4 },
    { values: pick("server_error_rate", 100), color: COLORS.e5 },
  ], "%");
  const last = points[points.length - 1] || {};
  $("rps-now").textContent = last.requests_per_s !== undefined ? `${formatValue(last.requests_per_s)} now` : "";
  $("latency-now").textContent = last.p50_ms ? `${last.p50_ms} / ${last.p99_ms}` : "";
  const errors = ((last.client_error_rate || 0) + (last.server_error_rate || 0)) * 100;
  $("errors-now").textContent = last.requests_per_s ? `${errors.toFixed(1)} %` : "";
  const minutes = Math.round(stats.window_s / 60);
  $("live-note").textContent =
    `Calls to the model endpoints over the last ${minutes} minutes, in ${stats.step_s} s steps ` +
    "(the worker that answered this page; each worker counts its own).";
}

async function pollStats() {
  try {
    renderStats(await apiJson("/console/api/stats"));
  } catch (err) {
    if (err instanceof NeedKey) return; // polling resumes once a key is given
    $("live-note").textContent = `No statistics: ${err.message}`;
  }
  state.statsTimer = setTimeout(pollStats, STATS_EVERY_MS);
}

// --- start ----------------------------------------------------------------------------------

function report(err) {
  if (!(err instanceof NeedKey)) notice(String(err.message || err));
}

async function start() {
  notice("");
  try {
    await loadModels();
    $("key-form").hidden = true;
  } catch (err) {
    report(err);
    return;
  }
  clearTimeout(state.statsTimer);
  pollStats();
}

function wire() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("key-input").value.trim());
    $("key-input").value = "";
    start();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
  $("verb").addEventListener("change", fillExamples);
  $("example").addEventListener("change", showExample);
  $("endpoint").addEventListener("change", updateCurl);
  $("request-body").addEventListener("input", updateCurl);
  $("send").addEventListener("click", () => send().catch(report));
  $("copy-curl").addEventListener("click", () => copyCurl());
}

wire();
start();
