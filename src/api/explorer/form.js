// The row panel: a create or edit form typed by column (date, datetime-local, number,
// checkbox, a lookup for references, JSON text), and delete behind a second click. The form
// does not validate by itself: the server's rules are the ones that count, so its 422 (or
// 409 for a missing reference) is shown next to the field the message names.
import { $, el } from "./dom.js";
import { call, errorMessage, renderExchange } from "./api.js";
import { toApiDatetime, fromApiDatetime } from "./doc.js";
import { lookup } from "./lookup.js";

let current = null;

export function closeRow() {
  current = null;
  $("row-panel").hidden = true;
  $("row-panel").replaceChildren();
}

function inputFor(c, value, model) {
  const id = "f-" + c.name;
  const common = { id, name: c.name, "aria-describedby": id + "-error" };
  if (c.references && model.byName.get(c.references)) return lookup(c, value, model.byName.get(c.references), common);
  switch (c.kind) {
    case "bool":
      return el("input", { ...common, type: "checkbox", checked: value === true });
    case "int":
      return el("input", { ...common, type: "number", step: "1", value: value ?? "" });
    case "float":
      return el("input", { ...common, type: "number", step: "any", value: value ?? "" });
    case "date":
      return el("input", { ...common, type: "date", value: value ?? "" });
    case "datetime":
      return el("input", { ...common, type: "datetime-local", step: "1", value: value ? fromApiDatetime(value) : "" });
    case "json":
      return el("textarea", { ...common, rows: 3, spellcheck: false, value: value === undefined || value === null ? "" : JSON.stringify(value) });
    default:
      return el("input", { ...common, type: "text", value: value ?? "" });
  }
}

// The value a field holds, in the column's JSON type; `undefined`: left empty.
function valueOf(c, input) {
  if (c.kind === "bool") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  switch (c.kind) {
    case "int": case "float": {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case "datetime": return toApiDatetime(raw);
    case "json": return JSON.parse(raw);
    default: return raw;
  }
}

function same(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function showError(message) {
  const m = /column '([^']+)'/.exec(message);
  const field = m && document.getElementById("f-" + m[1] + "-error");
  if (field) {
    field.textContent = message;
    field.hidden = false;
    const input = $("f-" + m[1]);
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } else {
    $("row-error").textContent = message;
    $("row-error").hidden = false;
  }
}

function clearErrors() {
  for (const p of $("row-panel").querySelectorAll(".field-error")) {
    p.hidden = true;
    p.textContent = "";
  }
  for (const i of $("row-panel").querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  $("row-error").hidden = true;
}

// Opens the panel for `row` of `table` (`null`: a new row); `done` reloads the grid.
export function openRow(table, row, model, done) {
  const editing = row !== null;
  const writable = editing ? table.may.update : table.may.create;
  current = { table, row };
  $("data-status").textContent = "";
  const panel = $("row-panel");
  const title = el("h3", { id: "row-title", textContent: editing ? table.name + " row " + row.id : "New " + table.name + " row" });
  const fields = el("div", { className: "fields" });
  if (editing) {
    for (const c of table.columns.filter((c) => c.readOnly)) {
      fields.append(el("div", { className: "field readonly" }, [
        el("span", { className: "label", textContent: c.name }),
        el("output", { id: "f-" + c.name, textContent: row[c.name] ?? "—" }),
      ]));
    }
  }
  for (const c of table.writable) {
    const input = inputFor(c, editing ? row[c.name] : undefined, model);
    input.disabled = !writable;
    const label = el("label", { for: "f-" + c.name }, [c.name]);
    if (c.required) {
      label.append(el("span", { className: "required", "aria-hidden": "true", textContent: " *" }));
      (input.control || input).setAttribute("aria-required", "true");
    }
    label.append(el("span", { className: "type", textContent: c.kind === "datetime" ? "datetime, UTC" : c.kind }));
    fields.append(el("div", { className: "field " + c.kind }, [
      label, input.box || input,
      el("p", { className: "field-error", id: "f-" + c.name + "-error", hidden: true, role: "alert" }),
    ]));
  }
  const actions = el("div", { className: "actions" });
  if (writable) actions.append(el("button", { type: "submit", id: "row-save", textContent: editing ? "Save changes" : "Create row" }));
  const cancel = el("button", { type: "button", className: "secondary", id: "row-cancel", textContent: "Close" });
  cancel.addEventListener("click", closeRow);
  actions.append(cancel);
  if (editing && table.may.delete) actions.append(...deleteControls(table, row, done));
  const note = el("p", { className: "note", textContent: "* required. Empty fields are left out of a new row; emptied fields are cleared (null) on save." });
  const form = el("form", { id: "row-form", noValidate: true, "aria-labelledby": "row-title" }, [
    title, fields, el("p", { id: "row-error", className: "form-error", role: "alert", hidden: true }), note, actions,
    el("div", { id: "row-exchange", className: "exchange", hidden: true }),
  ]);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(table, row, done);
  });
  panel.replaceChildren(form);
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  const first = form.querySelector("input:not([disabled]), select:not([disabled]), textarea:not([disabled])");
  if (first) first.focus();
}

async function save(table, row, done) {
  clearErrors();
  const body = {};
  for (const c of table.writable) {
    let value;
    try {
      value = valueOf(c, $("f-" + c.name));
    } catch (_) {
      showError("column '" + c.name + "': not valid JSON");
      return;
    }
    if (row === null) {
      if (value !== undefined) body[c.name] = value;
    } else if (!same(value, row[c.name])) {
      body[c.name] = value === undefined ? null : value;
    }
  }
  if (row !== null && Object.keys(body).length === 0) {
    $("row-error").textContent = "Nothing changed.";
    $("row-error").hidden = false;
    return;
  }
  const entry = row === null
    ? await call("POST", table.path, JSON.stringify(body))
    : await call("PATCH", table.path + "/" + row.id, JSON.stringify(body));
  renderExchange($("row-exchange"), entry, { bodyOpen: false });
  if (!entry.ok) {
    showError(errorMessage(entry));
    return;
  }
  const saved = entry.json.data;
  $("data-status").textContent = (row === null ? "Created " : "Saved ") + table.name + " row " + saved.id + ".";
  closeRow();
  done();
}

function deleteControls(table, row, done) {
  const ask = el("button", { type: "button", className: "danger", id: "row-delete", textContent: "Delete row" });
  const confirm = el("button", { type: "button", className: "danger", id: "row-delete-confirm", hidden: true,
    textContent: "Yes, delete row " + row.id });
  ask.addEventListener("click", () => {
    ask.hidden = true;
    confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener("click", async () => {
    const entry = await call("DELETE", table.path + "/" + row.id);
    if (!entry.ok) {
      renderExchange($("row-exchange"), entry, { bodyOpen: false });
      showError(errorMessage(entry));
      return;
    }
    $("data-status").textContent = "Deleted " + table.name + " row " + row.id + ".";
    closeRow();
    done();
  });
  return [ask, confirm];
}

export function isOpen() {
  return current !== null;
}
