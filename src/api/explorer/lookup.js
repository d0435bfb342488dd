// A lookup for a reference column: a select of the referenced table's rows (id and a naming
// column) and a search box that narrows it (`ilike` on the naming column, or an id). The
// select holds the value, so the form reads it like any other field.
import { el, debounce } from "./dom.js";
import { call, caps } from "./api.js";
import { labelColumn } from "./doc.js";

export function lookup(c, value, target, common) {
  const name = labelColumn(target);
  const filterable = caps.operators && target.columns.some((t) => t.name === name && t.filterable);
  const select = el("select", common);
  const search = el("input", { type: "search", id: common.id + "-search", autocomplete: "off",
    placeholder: "search " + target.name, "aria-label": "search " + target.name + " for " + c.name });
  const status = el("span", { className: "lookup-status", "aria-live": "polite" });
  const option = (row) => el("option", { value: String(row.id),
    textContent: row.id + (name && row[name] !== null && row[name] !== undefined ? " · " + row[name] : "") });
  const fill = (rows) => {
    const keep = select.value;
    select.replaceChildren(el("option", { value: "", textContent: c.required ? "— choose —" : "— none —" }), ...rows.map(option));
    if (keep && ![...select.options].some((o) => o.value === keep)) select.append(el("option", { value: keep, textContent: keep }));
    select.value = keep;
  };
  select.append(el("option", { value: "", textContent: "—" }));
  if (value !== undefined && value !== null) select.append(el("option", { value: String(value), textContent: String(value) }));
  select.value = value === undefined || value === null ? "" : String(value);

  let seq = 0;
  const find = async (q) => {
    const mine = ++seq;
    let path = target.path + "?limit=20";
    let local = false;
    if (/^\d+$/.test(q)) path = target.path + "?id=" + q;
    else if (q && filterable) path += "&" + name + "=" + encodeURIComponent("ilike.*" + q + "*");
    else if (q) {
      path = target.path + "?limit=500";
      local = true;
    }
    const entry = await call("GET", path);
    if (mine !== seq) return;
    let rows = entry.ok ? entry.json.data : [];
    if (local) rows = rows.filter((r) => String(r[name] ?? "").toLowerCase().includes(q.toLowerCase())).slice(0, 20);
    fill(rows);
    // The row already chosen keeps its name even when it is not among the first rows.
    if (!q && select.value && !rows.some((r) => String(r.id) === select.value)) {
      const one = await call("GET", target.path + "/" + select.value);
      if (one.ok && mine === seq) fill([one.json.data, ...rows]);
    }
    status.textContent = entry.ok ? rows.length + " found" : "search refused";
  };
  search.addEventListener("input", debounce(() => find(search.value.trim()), 300));
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      find(search.value.trim());
    }
  });
  find("");
  select.box = el("div", { className: "lookup" }, [select, search, status]);
  return select;
}
