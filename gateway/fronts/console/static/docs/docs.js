// Starts the vendored Swagger UI on one of the gateway's OpenAPI documents (?doc=<path>,
// default /openapi.json). No request leaves this origin: the validator badge is off
// (validatorUrl: null) and documents are fetched from here. With auth on, the API key
// the console keeps in sessionStorage is sent with every request Swagger UI makes.
"use strict";

const KEY_STORAGE = "tfs-gateway-api-key";
const DEFAULT_DOC = "/openapi.json";

function chosenDocument() {
  const doc = new URLSearchParams(location.search).get("doc") || DEFAULT_DOC;
  // Same origin only: an absolute path, never a scheme or a //host.
  return doc.startsWith("/") && !doc.startsWith("//") ? doc : DEFAULT_DOC;
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function withKey(request) {
  const key = apiKey();
  const headers = request.headers || {};
  if (key && !headers.Authorization && !headers["X-API-Key"]) headers["X-API-Key"] = key;
  request.headers = headers;
  return request;
}

function askForKey(message) {
  const form = document.getElementById("key-form");
  form.hidden = false;
  document.getElementById("key-label").textContent = message + " API key";
  document.getElementById("key-input").focus();
}

async function fetchJson(path) {
  const response = await fetch(path, { headers: withKey({}).headers, cache: "no-store" });
  if (response.status === 401) {
    askForKey(apiKey() ? "That API key was not accepted." : "This gateway needs an API key.");
    return null;
  }
  return response.ok ? response.json() : null;
}

async function fillChoices(current) {
  const select = document.getElementById("doc-select");
  const choices = [[DEFAULT_DOC, "Everything (/openapi.json)"]];
  const listing = await fetchJson("/console/api/models");
  for (const model of (listing && listing.models) || []) {
    const base = `/v1/models/${encodeURIComponent(model.name)}`;
    choices.push([`${base}/openapi.json`, `model ${model.name}`]);
  }
  for (const dep of (listing && listing.deployments) || []) {
    choices.push([`/model-serving/${encodeURIComponent(dep.id)}/openapi.json`, `deployment ${dep.id}`]);
  }
  if (!choices.some(([path]) => path === current)) choices.push([current, current]);
  select.replaceChildren(...choices.map(([path, label]) => new Option(label, path)));
  select.value = current;
}

document.getElementById("doc-select").addEventListener("change", (event) => {
  location.search = "?doc=" + encodeURIComponent(event.target.value);
});

async function start() {
  const doc = chosenDocument();
  await fillChoices(doc);
  const probe = await fetch(doc, { headers: withKey({}).headers, cache: "no-store" });
  if (probe.status === 401) {
    askForKey(apiKey() ? "That API key was not accepted." : "This gateway needs an API key.");
    return;
  }
  document.getElementById("key-form").hidden = true;
  window.SwaggerUIBundle({
    url: doc,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: false,
    tryItOutEnabled: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: withKey,
  });
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, document.getElementById("key-input").value.trim());
  document.getElementById("key-input").value = "";
  start();
});

start();
