// Small DOM helpers. Elements are built with properties, never from HTML strings, so row
// values can never become markup; and no inline styles, which the page's CSP refuses.

export const $ = (id) => document.getElementById(id);

// An element with properties (`className`, `textContent`, `hidden`, …) and children.
export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("aria-") || key.startsWith("data-") || key === "for" || key === "role") {
      node.setAttribute(key, value);
    } else {
      node[key] = value;
    }
  }
  node.append(...children);
  return node;
}

// Runs `f` once typing pauses.
export function debounce(f, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), ms);
  };
}
