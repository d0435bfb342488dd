// The data grid of one table or view: columns from the token's document, a header that
// sorts (`order=`), a filter row typed by column (PostgREST operators), and paging that
// follows the server's `next` cursor when the answer has one and falls back to `offset`
// otherwise, so the same page works against servers with and without cursors.
import { $, el } from "./dom.js";
import { call, caps, renderExchange, errorMessage } from "./api.js";
import { toApiDatetime } from "./doc.js";
import { openRow, closeRow } from "./form.js";

const RANGE_OPS = [["eq", "="], ["neq", "≠"], ["gt", ">"], ["gte", "≥"], ["lt", "<"], ["lte", "≤"],
  ["null", "empty"], ["notnull", "not empty"]];
const TEXT_OPS = [["contains", "contains"], ["eq", "="], ["neq", "≠"], ["starts", "starts with"],
  ["null", "empty"], ["notnull", "not empty"]];
const INPUT_TYPE = { int: "number", float: "number", date: "date", datetime: "datetime-local", string: "search" };

const state = { target: null, model: null, sort: null, filters: new Map(), limit: 20, start: 0, after: null,
  back: [], page: null, seq: 0 };

function filterParam(c, f) {
  const v = c.kind === "datetime" ? toApiDatetime(f.value) : f.value;
  if (f.op === "null") return "is.null";
  if (f.op === "notnull") return "not.is.null";
  if (v === "" || v === undefined) return null;
  if (!caps.operators) return v;
  if (f.op === "contains") return "ilike.*" + v + "*";
  if (f.op === "starts") return "ilike." + v + "*";
  return (f.op || "eq") + "." + v;
}

function listPath() {
  const params = [];
  for (const c of state.target.columns) {
    const f = state.filters.get(c.name);
    const value = f && filterParam(c, f);
    if (value) params.push([c.name, value]);
  }
  if (state.sort && caps.order) params.push(["order", (state.sort.desc ? "-" : "") + state.sort.col]);
  params.push(["limit", String(state.limit)]);
  if (state.after) params.push(["after", state.after]);
  else if (state.start) params.push(["offset", String(state.start)]);
  // Commas stay literal: they separate `in.(a,b)` values and `order` columns.
  const enc = (s) => encodeURIComponent(s).replace(/%2C/g, ",");
  return state.target.path + "?" + params.map(([k, v]) => enc(k) + "=" + enc(v)).join("&");
}

// Reloads the current page (after a filter, a sort, a page step or a write).
export async function load() {
  const seq = ++state.seq;
  const entry = await call("GET", listPath());
  if (seq !== state.seq) return;
  renderExchange($("data-exchange"), entry, { bodyOpen: false });
  const error = $("data-error");
  error.hidden = entry.ok;
  error.textContent = entry.ok ? "" : "The server refused the list: " + errorMessage(entry);
  state.page = entry.ok && entry.json ? entry.json : { data: [], total: 0 };
  renderRows();
}

function restart() {
  state.start = 0;
  state.after = null;
  state.back = [];
  load();
}

// Shows `target` (a table or view of the model) from its first page; `only`: `[column, value]`
// to start filtered on (a reference followed from another grid).
export function open(target, model, only) {
  state.target = target;
  state.model = model;
  state.sort = null;
  state.filters = new Map(only ? [[only[0], { op: "eq", value: String(only[1]) }]] : []);
  const list = target.isView ? "views" : "tables";
  for (const b of document.querySelectorAll(".nav-item")) {
    if (b.closest("ul").id === list && b.dataset.name === target.name) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
  closeRow();
  $("data-empty").hidden = true;
  $("data").hidden = false;
  $("data-title").textContent = (target.isView ? "View " : "") + target.name;
  $("row-new").hidden = !target.may.create;
  $("data-count").textContent = "Loading…";
  $("data-status").textContent = "";
  $("grid-body").replaceChildren();
  renderHead();
  restart();
}

function renderHead() {
  const t = state.target;
  const titles = el("tr", {}, t.columns.map((c) => {
    const sorted = state.sort && state.sort.col === c.name ? state.sort : null;
    const th = el("th", { scope: "col", "aria-sort": sorted ? (sorted.desc ? "descending" : "ascending") : "none" });
    const type = el("span", { className: "type", textContent: c.kind + (c.references ? " → " + c.references : "") });
    if (caps.order && c.kind !== "json") {
      const arrow = el("span", { className: "arrow", "aria-hidden": "true", textContent: sorted ? (sorted.desc ? "▼" : "▲") : "" });
      const button = el("button", { type: "button", className: "sort", id: "sort-" + c.name, textContent: c.name,
        title: "Sort by " + c.name + " (click again to reverse, a third time to clear)" }, [arrow]);
      button.addEventListener("click", () => {
        state.sort = !sorted ? { col: c.name, desc: false } : sorted.desc ? null : { col: c.name, desc: true };
        renderHead();
        restart();
      });
      th.append(button);
    } else {
      th.append(el("span", { className: "col-name", textContent: c.name }));
    }
    th.append(type);
    return th;
  }));
  const filters = el("tr", { className: "filters" }, t.columns.map((c) => el("td", {}, c.filterable ? filterControls(c) : [])));
  $("grid-head").replaceChildren(titles, filters);
}

function filterControls(c) {
  const f = state.filters.get(c.name) || { op: c.kind === "string" && caps.operators ? "contains" : "eq", value: "" };
  const apply = (op, value) => {
    const before = state.filters.get(c.name) || { op: f.op, value: "" };
    if (before.op === op && before.value === value) return;
    state.filters.set(c.name, { op, value });
    restart();
  };
  if (c.kind === "bool") {
    const options = [["", "any"], ["true", "true"], ["false", "false"]];
    if (caps.operators) options.push(["null", "empty"], ["notnull", "not empty"]);
    const select = el("select", { id: "filter-" + c.name, "aria-label": "filter " + c.name },
      options.map(([v, label]) => el("option", { value: v, textContent: label, selected: f.value === v || f.op === v })));
    select.addEventListener("change", () => {
      const v = select.value;
      apply(v === "null" || v === "notnull" ? v : "eq", v === "null" || v === "notnull" ? "" : v);
    });
    return [select];
  }
  const input = el("input", { id: "filter-" + c.name, type: INPUT_TYPE[c.kind] || "search", value: f.value,
    "aria-label": "filter " + c.name, placeholder: caps.operators ? "" : "equals" });
  if (c.kind === "int") input.step = "1";
  if (c.kind === "float") input.step = "any";
  if (c.kind === "datetime") input.step = "1";
  if (!caps.operators) {
    const commit = () => apply("eq", input.value);
    input.addEventListener("change", commit);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") commit(); });
    return [input];
  }
  const ops = c.kind === "string" ? TEXT_OPS : RANGE_OPS;
  const select = el("select", { id: "filter-op-" + c.name, className: "op", "aria-label": "operator for " + c.name },
    ops.map(([v, label]) => el("option", { value: v, textContent: label, selected: f.op === v })));
  const commit = () => {
    input.disabled = select.value === "null" || select.value === "notnull";
    apply(select.value, input.disabled ? "" : input.value);
  };
  input.disabled = f.op === "null" || f.op === "notnull";
  select.addEventListener("change", commit);
  input.addEventListener("change", commit);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") commit(); });
  return [select, input];
}

function cellText(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function rowTable() {
  const t = state.target;
  const base = t.isView ? state.model.byName.get(t.base) : t;
  return base && (base.may.update || base.may.delete) ? base : null;
}

function renderRows() {
  const t = state.target;
  const { data = [], total = 0 } = state.page;
  const editable = rowTable();
  $("grid-body").replaceChildren(...data.map((row) => el("tr", {}, t.columns.map((c) => {
    const value = row[c.name];
    const td = el("td", { className: value === null || value === undefined ? "null" : c.kind });
    if (c.name === "id" && editable) {
      const b = el("button", { type: "button", className: "row-open", textContent: String(value),
        "aria-label": "Open " + editable.name + " row " + value });
      b.addEventListener("click", () => openRow(editable, row, state.model, load));
      td.append(b);
    } else if (c.references && state.model.byName.get(c.references) && value !== null && value !== undefined) {
      const b = el("button", { type: "button", className: "ref", textContent: String(value),
        "aria-label": "Show " + c.references + " row " + value });
      b.addEventListener("click", () => open(state.model.byName.get(c.references), state.model, ["id", value]));
      td.append(b);
    } else {
      td.textContent = cellText(value);
      if (td.textContent.length > 40) td.title = td.textContent;
    }
    return td;
  }))));
  const first = data.length ? state.start + 1 : 0;
  $("data-count").textContent = data.length
    ? "Rows " + first + "–" + (state.start + data.length) + " of " + total : "No rows" + (total ? " here (" + total + " in all)" : "");
  const cursor = Object.prototype.hasOwnProperty.call(state.page, "next");
  $("page-next").disabled = cursor ? !state.page.next : state.start + data.length >= total;
  $("page-prev").disabled = state.start === 0;
  $("page-first").disabled = state.start === 0;
  $("data").dataset.paging = cursor ? "cursor" : "offset";
}

// Wires the toolbar once.
export function init() {
  $("page-next").addEventListener("click", () => {
    const { data = [], next } = state.page || {};
    state.back.push({ start: state.start, after: state.after });
    state.after = next || null;
    state.start += next ? data.length : state.limit;
    load();
  });
  $("page-prev").addEventListener("click", () => {
    const back = state.back.pop() || { start: Math.max(0, state.start - state.limit), after: null };
    state.start = back.start;
    state.after = back.after;
    load();
  });
  $("page-first").addEventListener("click", restart);
  $("page-size").addEventListener("change", () => {
    state.limit = Number($("page-size").value);
    restart();
  });
  $("filters-clear").addEventListener("click", () => {
    state.filters = new Map();
    renderHead();
    restart();
  });
  $("row-new").addEventListener("click", () => openRow(state.target, null, state.model, load));
}

// The note under the toolbar: what this server cannot do yet.
export function showCaps() {
  const missing = [];
  if (!caps.order) missing.push("sorting (order=)");
  if (!caps.operators) missing.push("filter operators (filters match exactly)");
  $("data-note").hidden = missing.length === 0;
  $("data-note").textContent = "This server does not offer " + missing.join(" or ") + ".";
  $("data").dataset.order = caps.order ? "yes" : "no";
  $("data").dataset.operators = caps.operators ? "yes" : "no";
}
