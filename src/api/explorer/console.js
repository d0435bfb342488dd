// The raw request console: any method, path and body, for what the grid and forms do not
// cover (HEAD-free, but everything else the API serves, errors included).
import { $ } from "./dom.js";
import { call, renderExchange } from "./api.js";

export function initConsole() {
  $("rest").addEventListener("submit", async (event) => {
    event.preventDefault();
    const method = $("method").value;
    const body = ["POST", "PUT", "PATCH"].includes(method) ? $("rest-body").value : undefined;
    const entry = await call(method, $("path").value, body);
    renderExchange($("console-exchange"), entry);
  });
}

// Puts a path in the console (the nav does, so the console follows the grid).
export function setPath(path) {
  $("path").value = path;
}
