// Shared helpers for the Palisade k6 scripts (imported, never run on its own).

import http from 'k6/http';
import { check, fail } from 'k6';

// The contract's security headers: every response, rejections included, carries them.
export const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'X-XSS-Protection': '0',
  'Cache-Control': 'no-store, no-cache, must-revalidate, max-age=0',
  Pragma: 'no-cache',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export function requireEnv(name) {
  const v = __ENV[name];
  if (v === undefined || v === '') {
    fail(`${name} is not set; run this script through load-tests/run.sh`);
  }
  return v;
}

// BASE_URL, refusing anything but the loopback address: load is never sent elsewhere.
export function baseUrl() {
  const url = requireEnv('BASE_URL').replace(/\/+$/, '');
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?$/.test(url)) {
    fail(`BASE_URL must be a loopback URL like http://127.0.0.1:PORT, got ${url}`);
  }
  return url;
}

// A token run.sh created for an `@token NAME` line, read on first use and kept per VU.
const tokens = {};
export function token(name) {
  if (!tokens[name]) tokens[name] = requireEnv(name);
  return tokens[name];
}

export function envInt(name, dflt) {
  const v = __ENV[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) fail(`${name} must be a non-negative number, got ${v}`);
  return n;
}

// A k6 duration from the environment ("20s", "1m", "1m30s" or plain seconds) and its seconds.
export function envDuration(name, dflt) {
  const text = __ENV[name] || dflt;
  const s = durationSecs(text);
  if (!(s > 0)) fail(`${name} must be a duration like 20s or 1m, got ${text}`);
  return { text: /^\d+(\.\d+)?$/.test(text) ? `${text}s` : text, secs: s };
}

// A constant-arrival-rate scenario: `rate` iterations of `exec` a second for `duration`.
// `more` adds or overrides fields (startTime, …); exec null runs the default function.
export function arrivalScenario(exec, rate, duration, preAllocatedVUs, maxVUs, more) {
  const scenario = { executor: 'constant-arrival-rate', rate, timeUnit: '1s', duration, preAllocatedVUs, maxVUs };
  if (exec) scenario.exec = exec;
  return Object.assign(scenario, more);
}

// p(95) and p(99) latency thresholds in ms, overridable as PREFIX_P95_MS / PREFIX_P99_MS
// (P95_MS / P99_MS when the prefix is empty).
export function latencyThresholds(prefix, p95, p99) {
  const p = prefix ? `${prefix}_` : '';
  return [`p(95)<${envInt(`${p}P95_MS`, p95)}`, `p(99)<${envInt(`${p}P99_MS`, p99)}`];
}

export function durationSecs(text) {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    consumed += m[0].length;
  }
  return consumed === text.length ? total : NaN;
}

// Case-insensitive header lookup (k6 canonicalises names, e.g. X-Xss-Protection).
export function header(r, name) {
  const want = name.toLowerCase();
  for (const k in r.headers) {
    if (k.toLowerCase() === want) return r.headers[k];
  }
  return undefined;
}

// The security headers that are missing or wrong, as "Name: got" strings (empty = all good).
export function securityHeaderProblems(r) {
  const problems = [];
  for (const name in SECURITY_HEADERS) {
    const got = header(r, name);
    if (got !== SECURITY_HEADERS[name]) problems.push(`${name}: ${got === undefined ? '(missing)' : got}`);
  }
  return problems;
}

export function hasSecurityHeaders(r) {
  return securityHeaderProblems(r).length === 0;
}

export function isJson(r) {
  return /^application\/json/.test(header(r, 'Content-Type') || '');
}

export function json(r) {
  try {
    return r.json();
  } catch (e) {
    return undefined;
  }
}

// The error code of a contract error body, or undefined.
export function errorCode(r) {
  const body = json(r);
  return body && body.error && typeof body.error.code === 'string' ? body.error.code : undefined;
}

// Params for a request that must answer `status` (any other answer counts in
// http_req_failed), tagged with `name` and any `moreTags`.
export function expecting(status, name, headers, moreTags) {
  return { headers, tags: Object.assign({ name }, moreTags), responseCallback: http.expectedStatuses(status) };
}

// k6's check over `checks` (name → (r) => bool), each run guarded, so a malformed body fails
// its check instead of aborting the iteration. Returns whether all held; on failure,
// `onFailure` (optional) gets the names of those that did not.
export function verify(r, checks, onFailure) {
  const results = {};
  for (const name in checks) {
    let ok = false;
    try {
      ok = checks[name](r) === true;
    } catch (e) {
      ok = false;
    }
    results[name] = ok;
  }
  const all = {};
  for (const name in results) all[name] = () => results[name];
  const ok = check(r, all);
  if (!ok && onFailure) onFailure(Object.keys(results).filter((n) => !results[n]));
  return ok;
}

// The n-th attacker's own client address (10.x.y.z, n from 0), reported via X-Forwarded-For.
export function attackerIp(n) {
  const k = n + 1;
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

export function randInt(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

// Logs at most `max` messages per VU, so a failing run explains itself without flooding.
export function limitedLogger(max) {
  let n = 0;
  return (msg) => {
    if (n < max) {
      n += 1;
      console.error(msg);
    }
  };
}

export function describe(r) {
  const body = typeof r.body === 'string' ? r.body.slice(0, 200) : '';
  return `${r.request.method} ${r.request.url} -> ${r.status} ${body}`;
}
