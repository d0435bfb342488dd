// Palisade API Explorer: browse what a token may read, run REST calls and GraphQL queries,
// see status, headers and body. Served under a strict CSP: no inline code, same origin only.
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

function list(id, names, prefix) {
  const ul = $(id);
  ul.replaceChildren();
  for (const name of names) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.addEventListener("click", () => {
      $("method").value = "GET";
      $("path").value = prefix + name;
      call("GET", prefix + name);
    });
    li.append(button);
    ul.append(li);
  }
}

$("connect").addEventListener("submit", async (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  const { response, text } = await call("GET", "/api/v1");
  if (!response.ok) return;
  const index = JSON.parse(text);
  list("tables", index.tables || [], "/api/v1/");
  list("views", index.views || [], "/api/v1/views/");
  $("sandbox-banner").hidden = !index.sandbox;
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
