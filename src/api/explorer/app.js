// Palisade API Explorer, the entry module: connects with a token (kept in this page only),
// reads the token's OpenAPI document, probes what the server's list endpoint understands,
// and wires the tabs — Data (grid and row forms), GraphQL, the raw request console and the
// history of every request with its curl. Served under a strict CSP: modules from 'self', no
// inline code or styles.
import { $, el } from "./dom.js";
import { call, caps, session, errorMessage, onHistory, renderHistory, renderExchange } from "./api.js";
import { model as readModel } from "./doc.js";
import * as grid from "./grid.js";
import { initGraphql, loadSchema } from "./graphql.js";
import { initConsole, setPath } from "./console.js";

const TABS = ["data", "graphql", "console", "history"];

function showTab(name) {
  for (const t of TABS) {
    const selected = t === name;
    $("tab-" + t).setAttribute("aria-selected", String(selected));
    $("tab-" + t).tabIndex = selected ? 0 : -1;
    $("panel-" + t).hidden = !selected;
  }
}

function initTabs() {
  for (const t of TABS) $("tab-" + t).addEventListener("click", () => showTab(t));
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  $("tabs").addEventListener("keydown", (e) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    const at = TABS.findIndex((t) => $("tab-" + t).getAttribute("aria-selected") === "true");
    const next = TABS[(at + (e.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length];
    showTab(next);
    $("tab-" + next).focus();
  });
}

function navList(id, targets, model) {
  $(id).replaceChildren(...targets.map((target) => {
    const button = el("button", { type: "button", className: "nav-item", textContent: target.name, "data-name": target.name });
    button.addEventListener("click", () => {
      setPath(target.path);
      showTab("data");
      grid.open(target, model);
    });
    return el("li", {}, [button]);
  }));
}

// Whether lists take `order=` and filter operators: one tiny request each, because a server
// without them refuses the parameter (400) rather than ignoring it.
async function probe(table) {
  if (!table) return;
  const id = table.columns.some((c) => c.name === "id" && c.filterable);
  caps.order = (await call("GET", table.path + "?limit=1&order=id")).ok;
  caps.operators = id && (await call("GET", table.path + "?limit=1&id=gte.1")).ok;
}

async function connect(event) {
  event.preventDefault();
  session.token = $("token").value.trim();
  const status = $("connect-status");
  status.textContent = "Connecting…";
  document.body.dataset.connected = "";
  $("data").hidden = true;
  $("data-empty").hidden = false;
  const entry = await call("GET", "/api/v1/openapi.json");
  renderExchange($("console-exchange"), entry);
  if (!entry.ok || !entry.json) {
    status.textContent = "Refused: " + errorMessage(entry);
    return;
  }
  const model = readModel(entry.json);
  $("sandbox-banner").hidden = !model.sandbox;
  await probe(model.tables.find((t) => t.may.list));
  grid.showCaps();
  navList("tables", model.tables.filter((t) => t.may.list), model);
  navList("views", model.views, model);
  status.textContent = "Connected: " + model.tables.length + " tables, " + model.views.length + " views.";
  document.body.dataset.connected = "yes";
  await loadSchema(model);
}

initTabs();
grid.init();
initGraphql();
initConsole();
onHistory(renderHistory);
$("connect").addEventListener("submit", connect);
$("curl-token").addEventListener("change", () => {
  session.realTokenInCurl = $("curl-token").checked;
});
