// The GraphQL tab: a plain textarea with a completion list (typing a name, or Ctrl+Space,
// opens it; arrows move, Enter or Tab inserts, Escape closes; Ctrl+Enter runs the query), and
// the answer beside the editor on wide screens, under it on narrow ones, scrolled into view.
import { $, el } from "./dom.js";
import { call, renderExchange } from "./api.js";
import { context, suggestions, fromIntrospection, fromModel, introspectionQuery } from "./gqlschema.js";

let schema = { types: new Map(), query: null, mutation: null };
let items = [];
let active = 0;
let ctx = null;

// Introspection when the token has it, else the OpenAPI model (no error shown for that).
export async function loadSchema(model) {
  schema = fromModel(model);
  $("completion-source").textContent = "Completion from the token's OpenAPI document.";
  const entry = await call("POST", "/graphql", JSON.stringify({ query: introspectionQuery }));
  if (entry.ok && entry.json && entry.json.data && entry.json.data.__schema) {
    schema = fromIntrospection(entry.json.data.__schema);
    $("completion-source").textContent = "Completion from the GraphQL schema (introspection).";
  }
}

function close() {
  const list = $("completions");
  list.hidden = true;
  list.replaceChildren();
  $("query").setAttribute("aria-expanded", "false");
  $("query").removeAttribute("aria-activedescendant");
  items = [];
}

function render() {
  const list = $("completions");
  list.replaceChildren(...items.map((item, i) => {
    const li = el("li", { role: "option", id: "completion-" + i, "aria-selected": String(i === active),
      className: i === active ? "active" : "" }, [item.label, el("span", { className: "type", textContent: item.detail })]);
    // mousedown, not click: the textarea must keep focus (and its cursor).
    li.addEventListener("mousedown", (e) => {
      e.preventDefault();
      accept(i);
    });
    return li;
  }));
  list.hidden = false;
  $("query").setAttribute("aria-expanded", "true");
  $("query").setAttribute("aria-activedescendant", "completion-" + active);
  const current = $("completion-" + active);
  if (current) current.scrollIntoView({ block: "nearest" });
}

function update(force) {
  const ta = $("query");
  ctx = ta.selectionStart === ta.selectionEnd ? context(schema, ta.value, ta.selectionStart) : null;
  if (!ctx || (!force && !ctx.prefix)) return close();
  items = suggestions(schema, ctx);
  if (items.length === 0) return close();
  active = 0;
  render();
}

function accept(i) {
  const ta = $("query");
  const item = items[i];
  if (!item) return;
  const end = ta.selectionStart;
  ta.setRangeText(item.insert, end - ctx.prefix.length, end, "end");
  ta.focus();
  close();
}

async function run() {
  close();
  const entry = await call("POST", "/graphql", JSON.stringify({ query: $("query").value }));
  const box = $("graphql-exchange");
  renderExchange(box, entry);
  box.scrollIntoView({ block: "nearest" });
}

export function initGraphql() {
  const ta = $("query");
  ta.addEventListener("input", () => update(false));
  ta.addEventListener("click", close);
  ta.addEventListener("blur", close);
  ta.addEventListener("keydown", (e) => {
    if (e.key === " " && e.ctrlKey) {
      e.preventDefault();
      update(true);
      return;
    }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
      return;
    }
    if ($("completions").hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      accept(active);
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  });
  $("graphql").addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
}
