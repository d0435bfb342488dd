// What the token may do, read from its OpenAPI document (GET /api/v1/openapi.json): the
// tables and views, their columns with a kind each (what input edits and filters them), the
// writable columns and which are required, the filters it may use and the methods it has.
// The document is the server's own account of the token, so the page never offers a column,
// a filter or a button the server would refuse.

// int | float | bool | date | datetime | string | json
function kindOf(schema) {
  const types = [].concat(schema.type || []).filter((t) => t !== "null");
  if (types.length === 0) return "json";
  switch (types[0]) {
    case "integer": return "int";
    case "number": return "float";
    case "boolean": return "bool";
    case "string":
      if (schema.format === "date") return "date";
      if (schema.format === "date-time") return "datetime";
      return "string";
    default: return "json";
  }
}

function referenceOf(schema) {
  if (schema["x-references"]) return schema["x-references"];
  const m = /the id of a row of ([a-z][a-z0-9_]*)/.exec(schema.description || "");
  return m ? m[1] : null;
}

function column(name, schema) {
  return {
    name,
    kind: kindOf(schema),
    nullable: [].concat(schema.type || []).includes("null"),
    readOnly: Boolean(schema.readOnly),
    references: referenceOf(schema),
  };
}

// The model of a document: `{tables: [...], views: [...], byName}`.
export function model(doc) {
  const resolve = (node) => {
    while (node && node.$ref) {
      node = node.$ref.slice(2).split("/").reduce((at, key) => (at ? at[key] : undefined), doc);
    }
    return node;
  };
  const target = (name, path, isView) => {
    const ops = doc.paths[path] || {};
    const single = doc.paths[path + "/{id}"] || {};
    const row = resolve(doc.components.schemas[(isView ? "view_" : "") + name + "_row"]) || {};
    const params = ((ops.get && ops.get.parameters) || []).map(resolve).filter((p) => p && p.in === "query");
    const filterable = new Set(params.map((p) => p.name));
    // The document's properties are in name order; `id` leads the grid, required fields the form.
    const columns = Object.entries(row.properties || {}).map(([n, s]) => ({ ...column(n, s), filterable: filterable.has(n) }))
      .sort((a, b) => (b.name === "id") - (a.name === "id"));
    const write = (!isView && resolve(doc.components.schemas[name + "_write"])) || { properties: {} };
    const required = new Set(write.required || []);
    const writable = Object.entries(write.properties || {}).map(([n, s]) => ({ ...column(n, s), required: required.has(n) }))
      .sort((a, b) => b.required - a.required);
    return {
      name, path, isView, columns, writable,
      base: row.title || name,
      may: {
        list: Boolean(ops.get), create: !isView && Boolean(ops.post),
        update: !isView && Boolean(single.patch), delete: !isView && Boolean(single.delete),
      },
    };
  };
  const tables = [];
  const views = [];
  for (const path of Object.keys(doc.paths)) {
    let m = /^\/api\/v1\/views\/([a-z][a-z0-9_]*)$/.exec(path);
    if (m && doc.paths[path].get) {
      views.push(target(m[1], path, true));
      continue;
    }
    m = /^\/api\/v1\/([a-z][a-z0-9_]*)$/.exec(path);
    if (m && doc.components.schemas[m[1] + "_row"]) tables.push(target(m[1], path, false));
  }
  const byName = new Map(tables.map((t) => [t.name, t]));
  return { tables, views, byName, sandbox: Boolean(doc["x-palisade"] && doc["x-palisade"].sandbox) };
}

// The column that names a row of `table` in a lookup (its first text column, preferring
// the usual naming ones).
export function labelColumn(table) {
  const text = table.columns.filter((c) => c.kind === "string");
  for (const name of ["name", "company", "number", "subject", "title", "description"]) {
    const c = text.find((t) => t.name === name);
    if (c) return c.name;
  }
  return text.length ? text[0].name : null;
}

// `2025-01-08T10:22` (a datetime-local value, read as UTC) → `2025-01-08T10:22:00Z`.
export function toApiDatetime(v) {
  if (!v) return v;
  return (v.length === 16 ? v + ":00" : v) + "Z";
}

// An RFC 3339 datetime → a datetime-local value in UTC.
export function fromApiDatetime(v) {
  const d = new Date(v);
  return v && !isNaN(d) ? d.toISOString().slice(0, 19) : "";
}
