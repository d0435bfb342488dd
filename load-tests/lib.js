// Shared helpers for the Palisade k6 scripts (imported, never run on its own).

import { fail } from 'k6';

// The contract's security headers: every response, rejections included, carries them.
export const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'X-XSS-Protection': '0',
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
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
