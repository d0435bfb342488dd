// Palisade API Explorer: browse what a token may read (tables, views, their columns and
// filters, all from the token's OpenAPI document), run REST calls and GraphQL queries, see
// status, headers and body. Served under a strict CSP: no inline code, same origin only.
"use strict";

const $ = (id) => document.getElementById(id);
let token = "";

async function call(method, path, body, contentType) {
  const headers = { Authorization: "Bearer " + token };
  if (body !== undefined) headers["Content-Type"] = contentType || "application/json";
  const response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  const text = await response.text();
  show(response, text);
  return { response, text };
}

function show(response, text) {
  $("status").textContent = response.status + " " + response.statusText;
  const lines = [];
  response.headers.forEach((value, name) => lines.push(name + ": " + value));
  $("headers").textContent = lines.sort().join("\n");
  try {
    $("body").textContent = JSON.stringify(JSON.parse(text), null, 2);
  } catch (_) {
    $("body").textContent = text;
  }
}

// What the token may do, read from its OpenAPI document (GET /api/v1/openapi.json).
let doc = null;

function resolve(node) {
  while (node && node.$ref) {
    node = node.$ref.slice(2).split("/").reduce((at, key) => (at ? at[key] : undefined), doc);
  }
  return node;
}

function typeName(schema) {
  const types = [].concat(schema.type || "any").filter((t) => t !== "null");
  return types.join("|") + (schema.format ? " (" + schema.format + ")" : "");
}

// Columns and filters of a table or view, from the row schema and the list operation.
function describe(path) {
  const get = doc.paths[path] && doc.paths[path].get;
  const ok = get && resolve(get.responses["200"]);
  const page = ok && resolve(ok.content["application/json"].schema);
  const row = page && resolve(page.properties.data.items);
  const body = $("columns");
  body.replaceChildren();
  for (const [name, schema] of Object.entries((row && row.properties) || {})) {
    const tr = document.createElement("tr");
    const required = (row.required || []).includes(name) || ![].concat(schema.type).includes("null");
    for (const text of [name, typeName(schema), required ? "yes" : "", schema.readOnly ? "read-only" : ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  }
  const filters = (get ? get.parameters : []).map(resolve).filter((p) => p && p.in === "query")
    .map((p) => p.name);
  $("filters").textContent = filters.join(", ");
  const methods = Object.keys(doc.paths[path] || {}).concat(Object.keys(doc.paths[path + "/{id}"] || {}));
  $("methods").textContent = [...new Set(methods)].map((m) => m.toUpperCase()).join(", ");
  $("schema-title").textContent = path;
  $("schema").hidden = false;
}

function list(id, paths) {
  const ul = $(id);
  ul.replaceChildren();
  for (const path of paths) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = path.split("/").pop();
    button.addEventListener("click", () => {
      describe(path);
      $("method").value = "GET";
      $("path").value = path;
      call("GET", path);
    });
    li.append(button);
    ul.append(li);
  }
}

$("connect").addEventListener("submit", async (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  const { response, text } = await call("GET", "/api/v1/openapi.json");
  if (!response.ok) return;
  doc = JSON.parse(text);
  const paths = Object.keys(doc.paths).filter((p) => doc.paths[p].get);
  list("tables", paths.filter((p) => /^\/api\/v1\/[a-z][a-z0-9_]*$/.test(p) && !p.endsWith(".json")));
  list("views", paths.filter((p) => p.startsWith("/api/v1/views/")));
  $("sandbox-banner").hidden = !(doc["x-palisade"] && doc["x-palisade"].sandbox);
});

$("rest").addEventListener("submit", (event) => {
  event.preventDefault();
  const method = $("method").value;
  const body = ["POST", "PUT", "PATCH"].includes(method) ? $("rest-body").value : undefined;
  call(method, $("path").value, body);
});

$("graphql").addEventListener("submit", (event) => {
  event.preventDefault();
  call("POST", "/graphql", JSON.stringify({ query: $("query").value }));
});
