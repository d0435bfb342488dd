// Every request the explorer makes goes through `call`, so each one lands in the history
// and can be copied as curl; `renderExchange` draws one request/answer pair the same way in
// every tab (status first, headers folded away, body last).
import { $, el } from "./dom.js";

export const session = { token: "", realTokenInCurl: false };

// What the server understands (`order=`, filter operators), probed once per connection.
export const caps = { order: false, operators: false };

const history = [];
const MAX_HISTORY = 100;
const historyListeners = [];

// Calls the API with the session's token; never throws for an HTTP status.
export async function call(method, path, body) {
  const headers = { Authorization: "Bearer " + session.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const started = performance.now();
  const entry = { method, path, body, status: 0, statusText: "", headers: [], text: "", json: undefined };
  try {
    const response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
    entry.status = response.status;
    entry.statusText = response.statusText;
    response.headers.forEach((value, name) => entry.headers.push([name, value]));
    entry.headers.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    entry.text = await response.text();
    try {
      entry.json = entry.text ? JSON.parse(entry.text) : undefined;
    } catch (_) {
      entry.json = undefined;
    }
  } catch (error) {
    entry.statusText = "network error: " + error.message;
  }
  entry.ms = Math.round(performance.now() - started);
  entry.ok = entry.status >= 200 && entry.status < 300;
  history.unshift(entry);
  history.length = Math.min(history.length, MAX_HISTORY);
  historyListeners.forEach((f) => f(history));
  return entry;
}

export function onHistory(listener) {
  historyListeners.push(listener);
}

// The error message of an error envelope (or of GraphQL's first error).
export function errorMessage(entry) {
  const j = entry.json;
  if (j && j.error && j.error.message) return j.error.message;
  if (j && Array.isArray(j.errors) && j.errors[0]) return j.errors[0].message;
  return entry.statusText || "request failed";
}

// The token is a `$TOKEN` placeholder unless asked otherwise: copied commands end up in
// shell history, tickets and chat, and the plaintext is shown once and stored nowhere else.
export function curl(entry) {
  const quote = (s) => "'" + String(s).replace(/'/g, "'\\''") + "'";
  const lines = ["curl" + (entry.method === "GET" ? "" : " -X " + entry.method) + " " + quote(location.origin + entry.path)];
  lines.push(session.realTokenInCurl ? "-H " + quote("Authorization: Bearer " + session.token)
    : "-H \"Authorization: Bearer $TOKEN\"");
  if (entry.body !== undefined) {
    lines.push("-H 'Content-Type: application/json'");
    lines.push("--data-raw " + quote(entry.body));
  }
  return lines.join(" \\\n  ");
}

// A "Copy as curl" button that also shows the command (clipboard access may be refused).
export function curlButton(entry) {
  const out = el("pre", { className: "curl", hidden: true });
  const button = el("button", { type: "button", className: "secondary", textContent: "Copy as curl" });
  button.addEventListener("click", async () => {
    out.textContent = curl(entry);
    out.hidden = false;
    try {
      await navigator.clipboard.writeText(out.textContent);
      button.textContent = "Copied";
    } catch (_) {
      button.textContent = "Select and copy below";
    }
  });
  return [button, out];
}

function pretty(entry) {
  return entry.json === undefined ? entry.text : JSON.stringify(entry.json, null, 2);
}

// Draws one exchange into `box`; `bodyOpen`: the body is shown (else folded like headers).
export function renderExchange(box, entry, { bodyOpen = true } = {}) {
  const status = el("span", {
    className: "status " + (entry.ok ? "ok" : "bad"),
    textContent: (entry.status || "—") + " " + entry.statusText,
  });
  const what = el("code", { className: "what", textContent: entry.method + " " + entry.path });
  const ms = el("span", { className: "ms", textContent: entry.ms + " ms" });
  const [button, out] = curlButton(entry);
  const line = el("div", { className: "exchange-line" }, [status, what, ms, button]);
  const headers = el("details", { className: "headers" }, [
    el("summary", { textContent: "Response headers (" + entry.headers.length + ")" }),
    el("pre", { textContent: entry.headers.map(([n, v]) => n + ": " + v).join("\n") }),
  ]);
  const body = el("pre", { className: "body", textContent: pretty(entry) || "(no body)" });
  const bodyBox = bodyOpen ? body : el("details", { className: "body-box" }, [
    el("summary", { textContent: "Response body" }), body,
  ]);
  box.replaceChildren(line, out, headers, bodyBox);
  box.hidden = false;
}

// The History tab: every request, newest first, each with its curl.
export function renderHistory(list) {
  const ol = $("history");
  ol.replaceChildren(...list.map((entry) => {
    const [button, out] = curlButton(entry);
    return el("li", {}, [
      el("div", { className: "exchange-line" }, [
        el("span", { className: "status " + (entry.ok ? "ok" : "bad"), textContent: String(entry.status || "—") }),
        el("code", { className: "what", textContent: entry.method + " " + entry.path }),
        el("span", { className: "ms", textContent: entry.ms + " ms" }),
        button,
      ]),
      out,
    ]);
  }));
}
