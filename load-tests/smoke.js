// smoke.js: every route once (and the main refusals), checking status codes, the error
// body shape and the security headers on every response. One VU, one iteration, ~1 s.
//
//   load-tests/run.sh smoke.js
//
// Tokens (created by run.sh, see its header):
// @token FULL --scope *:rcud --scope staff:r --scope contacts:r --scope options:r --allow-sensitive
// @token READONLY --scope clients:r

import http from 'k6/http';
import { fail } from 'k6';
import {
  baseUrl,
  requireEnv,
  header,
  isJson,
  json,
  errorCode,
  hasSecurityHeaders,
  securityHeaderProblems,
  expecting,
  verify,
  describe,
} from './lib.js';

export const options = {
  scenarios: {
    smoke: { executor: 'shared-iterations', vus: 1, iterations: 1, maxDuration: '30s' },
  },
  thresholds: {
    // Every check must hold (a single failure out of the ~400 checks drops below 99.9 %).
    checks: ['rate>=0.999'],
    // Every request is declared with the status it must get; anything else is a failure.
    http_req_failed: ['rate<0.001'],
    http_req_duration: ['p(95)<50', 'p(99)<100'],
  },
};

const BASE = baseUrl();
const FULL = requireEnv('FULL');
const READONLY = requireEnv('READONLY');

const TABLES = ['clients', 'contacts', 'invoice_items', 'invoices', 'leads', 'options', 'services', 'staff', 'tickets'];
const VIEWS = ['active_clients', 'hot_leads', 'open_tickets', 'overdue_invoices', 'service_list'];
// Seeded row counts given by the demo data (the other tables only need rows).
const TOTALS = { clients: 60, invoices: 220, invoice_items: 600, leads: 90, tickets: 120 };

// One request with the status it must get, plus extra named checks `(r, body) => bool`.
function call(method, path, o) {
  const label = o.label || `${method} ${path}`;
  const headers = Object.assign({}, o.headers || {});
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  let body = null;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['Content-Type'] = 'application/json';
  } else if (o.body !== undefined) {
    body = o.body;
  }
  const r = http.request(method, BASE + path, body, expecting(o.status, label, headers));
  const parsed = json(r);
  const checks = {};
  checks[`${label}: status ${o.status}`] = () => r.status === o.status;
  checks[`${label}: security headers`] = () => hasSecurityHeaders(r);
  checks[`${label}: X-Request-Id`] = () => /^\S+$/.test(header(r, 'X-Request-Id') || '');
  if (o.status >= 400) {
    checks[`${label}: JSON error body${o.code ? ` ${o.code}` : ''}`] = () =>
      isJson(r) &&
      (o.code ? errorCode(r) === o.code : /^[a-z_]+$/.test(errorCode(r) || '')) &&
      typeof parsed.error.message === 'string';
  }
  for (const name in o.checks || {}) {
    checks[`${label}: ${name}`] = () => o.checks[name](r, parsed);
  }
  verify(r, checks, (failed) =>
    console.error(`FAILED ${failed.join('; ')}\n  ${describe(r)}\n  headers: ${securityHeaderProblems(r).join(', ') || 'ok'}`),
  );
  return { r, body: parsed };
}

// Key order is not part of JSON (and k6's object rest reorders keys): compare sorted.
const sortedJson = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
const sameObject = (a, b) => sortedJson(a) === sortedJson(b);
const isEnvelope = (b, limit) =>
  Array.isArray(b.data) && Number.isInteger(b.total) && b.limit === limit && b.offset === 0 && b.data.length <= limit;
const rateLimitHeaders = (r) => {
  const limit = Number(header(r, 'X-RateLimit-Limit'));
  const remaining = Number(header(r, 'X-RateLimit-Remaining'));
  return Number.isInteger(limit) && limit > 0 && Number.isInteger(remaining) && remaining >= 0 && remaining < limit;
};

export function setup() {
  const r = http.get(`${BASE}/health`, { tags: { name: 'setup health' } });
  if (r.status !== 200) fail(`server not healthy at ${BASE}: ${r.status}`);
}

export default function () {
  // --- open and index routes ---
  call('GET', '/health', {
    status: 200,
    checks: {
      'body {"status":"ok"}': (r, b) => b.status === 'ok' && Object.keys(b).length === 1,
    },
  });
  call('GET', '/api/v1', {
    token: FULL,
    status: 200,
    checks: {
      'lists every table': (r, b) => JSON.stringify(b.tables) === JSON.stringify(TABLES),
      'lists every view': (r, b) => JSON.stringify(b.views) === JSON.stringify(VIEWS),
      'rate-limit headers': rateLimitHeaders,
    },
  });
  call('GET', '/api/v1', {
    label: 'GET /api/v1 (clients:r token)',
    token: READONLY,
    status: 200,
    checks: {
      // The contract fixes `tables` and `views`; other keys (e.g. `sandbox`) may be added.
      'lists only what the token reads': (r, b) =>
        JSON.stringify([b.tables, b.views]) === JSON.stringify([['clients'], ['active_clients']]),
      'not a sandbox token': (r, b) => b.sandbox === undefined || b.sandbox === false,
    },
  });

  // --- every table: list and one row ---
  for (const t of TABLES) {
    call('GET', `/api/v1/${t}?limit=5`, {
      token: FULL,
      status: 200,
      checks: {
        envelope: (r, b) => isEnvelope(b, 5) && b.data.length === 5,
        'seeded total': (r, b) => (t in TOTALS ? b.total === TOTALS[t] : b.total >= 5),
        'rows carry integer ids': (r, b) => b.data.every((row) => Number.isInteger(row.id)),
        'rate-limit headers': rateLimitHeaders,
        'no secret column': (r) => !r.body.includes('password_hash') && !r.body.includes('$argon2'),
      },
    });
    call('GET', `/api/v1/${t}/1`, {
      token: FULL,
      status: 200,
      checks: {
        'row 1': (r, b) => b.data.id === 1 && Object.keys(b).length === 1,
        'no secret column': (r) => !r.body.includes('password_hash') && !r.body.includes('$argon2'),
      },
    });
  }
  call('GET', '/api/v1/invoices?client_id=3&limit=500', {
    token: FULL,
    status: 200,
    checks: { 'filter applies': (r, b) => b.data.every((row) => row.client_id === 3) && b.total === b.data.length },
  });

  // --- every view ---
  for (const v of VIEWS) {
    call('GET', `/api/v1/views/${v}?limit=5`, {
      token: FULL,
      status: 200,
      checks: { envelope: (r, b) => isEnvelope(b, 5) && b.total > 0 && b.data.length > 0 },
    });
  }

  // --- writes: a row of our own, through its whole life ---
  const created = call('POST', '/api/v1/clients', {
    token: FULL,
    json: { company: 'k6 Smoke AS', status: 'active', city: 'Oslo' },
    status: 201,
    checks: {
      'row echoed with an id': (r, b) => Number.isInteger(b.data.id) && b.data.company === 'k6 Smoke AS',
      'Location header': (r, b) => header(r, 'Location') === `/api/v1/clients/${b.data.id}`,
    },
  });
  const id = created.body && created.body.data ? created.body.data.id : 999999;
  const path = `/api/v1/clients/${id}`;
  const L = (m) => `${m} /api/v1/clients/{own}`;
  call('GET', path, { label: L('GET'), token: FULL, status: 200, checks: { 'the new row': (r, b) => b.data.id === id } });
  call('PATCH', path, {
    label: L('PATCH'),
    token: FULL,
    json: { city: 'Bergen' },
    status: 200,
    checks: { merges: (r, b) => b.data.city === 'Bergen' && b.data.company === 'k6 Smoke AS' },
  });
  call('PUT', path, {
    label: L('PUT'),
    token: FULL,
    json: { company: 'k6 Replaced AS', status: 'inactive' },
    status: 200,
    checks: {
      // What the client wrote, plus the server-stamped created_at (kept by PUT).
      replaces: (r, b) => {
        const { created_at: createdAt, ...rest } = b.data;
        return (
          typeof createdAt === 'string' &&
          sameObject(rest, { company: 'k6 Replaced AS', id, status: 'inactive' })
        );
      },
    },
  });
  call('PATCH', path, {
    label: `${L('PATCH')} invalid`,
    token: FULL,
    json: { status: null },
    status: 422,
    code: 'validation_failed',
  });
  call('DELETE', path, { label: L('DELETE'), token: FULL, status: 204, checks: { 'empty body': (r) => !r.body } });
  call('GET', path, { label: `${L('GET')} after delete`, token: FULL, status: 404, code: 'not_found' });
  call('DELETE', path, { label: `${L('DELETE')} again`, token: FULL, status: 404, code: 'not_found' });
  call('GET', '/api/v1/clients?limit=1', {
    label: 'GET /api/v1/clients (total back to 60)',
    token: FULL,
    status: 200,
    checks: { 'total 60': (r, b) => b.total === 60 },
  });

  // --- refusals ---
  const a = call('GET', '/api/v1/clients', { label: 'no token', status: 401, code: 'missing_token' });
  call('GET', '/api/v1/clients', {
    label: 'no token (again)',
    status: 401,
    code: 'missing_token',
    checks: {
      'byte-identical body': (r) => r.body === a.r.body,
      'distinct X-Request-Id': (r) => header(r, 'X-Request-Id') !== header(a.r, 'X-Request-Id'),
    },
  });
  call('GET', '/api/v1/clients', {
    label: 'invalid token',
    headers: { Authorization: 'Bearer pal_0000000000000000_00' },
    status: 401,
    code: 'invalid_token',
  });
  call('POST', '/api/v1/clients', {
    label: 'POST with a read-only token',
    token: READONLY,
    json: { company: 'Nope', status: 'active' },
    status: 403,
    code: 'forbidden',
  });
  call('GET', '/api/v1/invoices/1', { label: 'table out of scope', token: READONLY, status: 403, code: 'forbidden' });
  call('GET', '/api/v1/views/open_tickets', {
    label: 'view out of scope',
    token: READONLY,
    status: 403,
    code: 'forbidden',
  });
  call('GET', '/api/v1/no_such_table', { token: FULL, status: 404, code: 'not_found' });
  call('GET', '/api/v1/clients/999999', { token: FULL, status: 404, code: 'not_found' });
  call('GET', '/api/v1/views/no_such_view', { token: FULL, status: 404, code: 'not_found' });
  call('GET', '/no/such/path', { status: 404, code: 'not_found' });
  for (const [m, p, allow] of [
    ['PATCH', '/api/v1/clients', 'GET, HEAD, POST'],
    ['POST', '/api/v1/clients/1', 'GET, HEAD, PUT, PATCH, DELETE'],
    ['POST', '/health', 'GET, HEAD'],
    ['POST', '/api/v1', 'GET, HEAD'],
    ['DELETE', '/api/v1/views/active_clients', 'GET, HEAD'],
  ]) {
    call(m, p, {
      token: FULL,
      status: 405,
      code: 'method_not_allowed',
      checks: { [`Allow: ${allow}`]: (r) => header(r, 'Allow') === allow },
    });
  }
  call('POST', '/api/v1/clients', {
    label: 'POST missing a required column',
    token: FULL,
    json: { company: 'No Status Ltd' },
    status: 422,
    code: 'validation_failed',
    checks: { 'names the column': (r, b) => b.error.message.includes('status') },
  });
  call('POST', '/api/v1/invoices', {
    label: 'POST with a dangling reference',
    token: FULL,
    json: { client_id: 999999, number: 'K6-X', status: 'draft', issue_date: '2025-05-01', total: 1 },
    // A reference to a row that is not there conflicts with the stored data (as PostgREST's
    // foreign-key violations do); the body itself was well formed.
    status: 409,
    code: 'conflict',
  });
  call('DELETE', '/api/v1/clients/1', {
    label: 'DELETE a referenced row',
    token: FULL,
    status: 409,
    code: 'conflict',
  });
  call('POST', '/api/v1/clients', {
    label: 'POST text/plain',
    token: FULL,
    headers: { 'Content-Type': 'text/plain' },
    body: 'hi',
    status: 415,
    code: 'unsupported_media_type',
  });
  call('POST', '/api/v1/clients', {
    label: 'POST malformed JSON',
    token: FULL,
    headers: { 'Content-Type': 'application/json' },
    body: '{',
    status: 400,
  });
  call('GET', '/api/v1/invoices?nope=1', { label: 'unknown filter column', token: FULL, status: 400 });
  call('POST', '/api/v1/clients', {
    label: 'POST over max_body_bytes',
    token: FULL,
    headers: { 'Content-Type': 'application/json' },
    body: ' '.repeat(300000),
    status: 413,
    code: 'payload_too_large',
  });
  call('OPTIONS', '/api/v1/clients', {
    label: 'OPTIONS without Origin',
    status: 204,
    checks: { Allow: (r) => header(r, 'Allow') === 'GET, HEAD, POST' },
  });
  call('OPTIONS', '/api/v1/clients', {
    label: 'CORS preflight from an unknown origin',
    headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    status: 403,
    code: 'cors_rejected',
  });
}
