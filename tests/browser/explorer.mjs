// Loads the API Explorer from a running Palisade in headless Chromium, connects with a
// sandbox token, browses a table, runs a GraphQL query, checks what the page shows and
// saves a screenshot. Fails (exit 1) on any mismatch or CSP violation.
import { chromium } from "playwright-core";

const base = process.env.BASE_URL;
const token = process.env.TOKEN;
const shot = process.env.SCREENSHOT;
const fail = (msg) => { console.error("explorer test failed: " + msg); process.exit(1); };
// Polls from Node (page.waitForFunction would need eval, which the page's CSP forbids).
async function waitUntil(check, what) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  fail("timed out waiting for " + what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Chromium asks for /favicon.ico on its own; every other failed load is a problem.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 404/.test(m.text())) problems.push(m.text());
  });
  page.on("response", (r) => {
    if (r.status() === 404 && !r.url().endsWith("/favicon.ico")) problems.push("404 " + r.url());
  });
  page.on("pageerror", (e) => problems.push(String(e)));
  const response = await page.goto(base + "/explorer");
  if (!response.ok()) fail("page status " + response.status());
  if (!/script-src 'self'/.test(response.headers()["content-security-policy"] || "")) fail("no strict CSP");

  await page.fill("#token", token);
  await page.click("#connect button");
  await page.waitForSelector("#sandbox-banner:not([hidden])", { timeout: 10000 });
  await page.waitForSelector("#tables button", { timeout: 10000 });
  const tables = await page.locator("#tables button").allTextContents();
  if (!tables.includes("clients")) fail("tables listed: " + tables);

  await page.locator("#tables button", { hasText: /^clients$/ }).click();
  const isPage = (text) => { try { return Array.isArray(JSON.parse(text).data); } catch (_) { return false; } };
  await waitUntil(async () => (await page.textContent("#status")).startsWith("200")
    && isPage(await page.textContent("#body")), "the clients list");
  // Columns and filters come from the token's OpenAPI document (a sandbox token cannot
  // filter on personal data, so `email` is a column but not a filter).
  const columns = await page.locator("#columns td:first-child").allTextContents();
  if (!columns.includes("company") || !columns.includes("created_at")) fail("columns shown: " + columns);
  const filters = await page.textContent("#filters");
  if (!/\bstatus\b/.test(filters) || /\bemail\b/.test(filters)) fail("filters shown: " + filters);
  const headers = await page.textContent("#headers");
  if (!/x-ratelimit-remaining: \d+/.test(headers)) fail("no rate-limit headers shown: " + headers);
  const rest = await page.textContent("#body");
  const emails = [...rest.matchAll(/"email": "([^"]+)"/g)].map((m) => m[1]);
  if (emails.length === 0 || !emails.every((e) => e.endsWith("@example.com"))) fail("REST emails: " + emails);

  await page.fill("#query", "{ invoices(limit: 3) { total client { company email } } }");
  await page.click("#graphql-send");
  await waitUntil(async () => (await page.textContent("#body")).includes("invoices"), "the GraphQL answer");
  const gql = JSON.parse(await page.textContent("#body"));
  const clientEmails = gql.data.invoices.map((i) => i.client.email).filter(Boolean);
  if (!clientEmails.every((e) => e.endsWith("@example.com"))) fail("GraphQL emails: " + clientEmails);

  await page.screenshot({ path: shot, fullPage: true });
  if (problems.length) fail("console errors (CSP?): " + problems.join(" | "));
  console.log("explorer browser test passed; screenshot: " + shot);
} finally {
  await browser.close();
}
