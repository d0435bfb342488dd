// What the GraphQL editor completes: the schema's types and their fields (with argument
// names), from introspection when the token may introspect, else rebuilt from the token's
// OpenAPI document by the same naming rules the server uses (README, "GraphQL"). `context`
// reads the query up to the cursor to say which type's fields, or which field's arguments,
// belong there.

const INTROSPECTION = "{ __schema { queryType { name } mutationType { name } types { name kind fields { name "
  + "args { name } type { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } }";

export const introspectionQuery = INTROSPECTION;

function named(type) {
  while (type && !type.name) type = type.ofType;
  return type ? type.name : null;
}

// `{types: Map(name → [{name, args, type}]), query, mutation}` from an introspection answer.
export function fromIntrospection(schema) {
  const types = new Map();
  for (const t of schema.types) {
    if (t.kind !== "OBJECT" || t.name.startsWith("__")) continue;
    types.set(t.name, (t.fields || []).map((f) => ({ name: f.name, args: f.args.map((a) => a.name), type: named(f.type) })));
  }
  return { types, query: schema.queryType && schema.queryType.name, mutation: schema.mutationType && schema.mutationType.name };
}

const pascal = (s) => s.split("_").map((w) => (w ? w[0].toUpperCase() + w.slice(1) : "")).join("");

// The same from the OpenAPI model (doc.js): one type per table, `X` / reverse list fields
// for a column `X_id` that references a table, list, `_by_id` and view fields, mutations.
export function fromModel(model) {
  const types = new Map();
  const query = [];
  const mutation = [];
  const fieldsOf = (t) => t.columns.map((c) => ({ name: c.name, args: [], type: c.kind }));
  for (const t of model.tables.filter((t) => t.may.list)) {
    types.set(pascal(t.name), fieldsOf(t));
    query.push({ name: t.name, args: ["limit", "offset", ...t.columns.filter((c) => c.filterable).map((c) => c.name)], type: pascal(t.name) });
    query.push({ name: t.name + "_by_id", args: ["id"], type: pascal(t.name) });
  }
  for (const t of model.tables) {
    for (const c of t.columns) {
      const from = types.get(pascal(t.name));
      const to = c.references && types.get(pascal(c.references));
      if (!from || !to || !c.name.endsWith("_id")) continue;
      from.push({ name: c.name.slice(0, -3), args: [], type: pascal(c.references) });
      to.push({ name: t.name, args: ["limit", "offset"], type: pascal(t.name) });
    }
  }
  for (const v of model.views) {
    if (!types.has(pascal(v.base))) types.set(pascal(v.base), fieldsOf(v));
    query.push({ name: v.name, args: ["limit", "offset"], type: pascal(v.base) });
  }
  for (const t of model.tables) {
    const columns = t.writable.map((c) => c.name);
    if (t.may.create) mutation.push({ name: "create_" + t.name, args: columns, type: pascal(t.name) });
    if (t.may.update) mutation.push({ name: "update_" + t.name, args: ["id", ...columns], type: pascal(t.name) });
    if (t.may.delete) mutation.push({ name: "delete_" + t.name, args: ["id"], type: "Boolean" });
  }
  types.set("Query", query);
  types.set("Mutation", mutation);
  return { types, query: "Query", mutation: mutation.length ? "Mutation" : null };
}

const TOKEN = /"""[\s\S]*?(?:"""|$)|"(?:\\.|[^"\\\n])*(?:"|$)|#[^\n\r]*|\.\.\.|[_A-Za-z][_0-9A-Za-z]*|\$[_A-Za-z][_0-9A-Za-z]*|-?\d[\d.eE+-]*|[{}()[\]:,=!@|&]|\s+|./g;

// Where the cursor is: `{mode: "field", type, prefix}` or `{mode: "arg", type, field, prefix}`,
// or null where nothing completes (a value, a string, outside any selection).
export function context(schema, text, pos) {
  const before = text.slice(0, pos);
  const prefix = (/[_A-Za-z][_0-9A-Za-z]*$/.exec(before) || [""])[0];
  const head = before.slice(0, before.length - prefix.length);
  const fieldOf = (type, name) => (schema.types.get(type) || []).find((f) => f.name === name);
  const stack = [];
  let operation = "query";
  let last = null;
  let prev = null;
  let onType = null;
  let parens = 0;
  let argField = null;
  let argType = null;
  let valueBraces = 0;
  let expectValue = false;
  let open = null; // an unfinished string or comment at the cursor
  for (const [tk] of head.matchAll(TOKEN)) {
    open = null;
    if (/^\s/.test(tk)) continue;
    if (tk[0] === "#") { open = "comment"; continue; }
    if (tk[0] === "\"") {
      if (tk.length === 1 || !tk.endsWith("\"") || (tk.startsWith("\"\"\"") && tk.length < 6)) open = "string";
      expectValue = false;
      continue;
    }
    if (parens > 0) {
      if (tk === "(") parens++;
      else if (tk === ")") {
        parens--;
        if (parens === 0) argField = null;
      } else if (tk === "{" || tk === "[") valueBraces++;
      else if (tk === "}" || tk === "]") valueBraces--;
      else if (tk === ":") expectValue = valueBraces === 0;
      else if (tk !== ",") expectValue = false;
      prev = tk;
      continue;
    }
    if (tk === "(") {
      parens = 1;
      argField = stack.length ? last : null;
      argType = stack[stack.length - 1];
      expectValue = false;
    } else if (tk === "{") {
      let type = null;
      if (onType) type = onType;
      else if (stack.length === 0) type = operation === "mutation" ? schema.mutation : schema.query;
      else {
        const f = fieldOf(stack[stack.length - 1], last);
        type = f ? f.type : null;
      }
      stack.push(type);
      last = null;
      onType = null;
    } else if (tk === "}") {
      stack.pop();
      last = null;
    } else if (/^[_A-Za-z]/.test(tk)) {
      if (prev === "on") onType = tk;
      else if (stack.length === 0 && ["query", "mutation", "subscription"].includes(tk)) operation = tk;
      else if (stack.length > 0 && !(tk === "on" && prev === "...")) last = tk;
    }
    prev = tk;
  }
  if (open) return null;
  if (parens > 0) {
    if (!argField || expectValue || valueBraces > 0) return null;
    return { mode: "arg", type: argType, field: argField, prefix };
  }
  if (stack.length === 0 || !stack[stack.length - 1] || prev === "on") return null;
  return { mode: "field", type: stack[stack.length - 1], prefix };
}

// The completions at a context: `[{label, detail, insert}]`, prefix matches first.
export function suggestions(schema, ctx) {
  const p = ctx.prefix.toLowerCase();
  let items;
  if (ctx.mode === "arg") {
    const f = (schema.types.get(ctx.type) || []).find((x) => x.name === ctx.field);
    items = (f ? f.args : []).map((a) => ({ label: a, detail: "argument", insert: a + ": " }));
  } else {
    items = (schema.types.get(ctx.type) || []).map((f) => ({ label: f.name, detail: f.type || "", insert: f.name }));
    items.push({ label: "__typename", detail: "String", insert: "__typename" });
  }
  // Shorter names first among prefix matches: `invo` offers `invoices` before `invoice_items`.
  const starts = items.filter((i) => i.label.toLowerCase().startsWith(p)).sort((a, b) => a.label.length - b.label.length);
  const within = items.filter((i) => !i.label.toLowerCase().startsWith(p) && i.label.toLowerCase().includes(p));
  return [...starts, ...within].slice(0, 50);
}
