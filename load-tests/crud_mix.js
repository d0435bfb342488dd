// crud_mix.js: reads, writes and deletes at once, each at a fixed arrival rate.
//
//   load-tests/run.sh crud_mix.js
//   READ_RATE=800 WRITE_RATE=100 DURATION=30s load-tests/run.sh crud_mix.js
//
// Scenarios (both run for DURATION, default 20s):
//   reads   READ_RATE/s (default 400): single rows, filtered lists and a view.
//   writes  WRITE_RATE/s (default 50) iterations, each the life of a client of its own:
//           POST (201, Location) → PATCH (200, merges) → GET (sees the change) →
//           PUT (200, replaces) → DELETE (204) → GET (404).
//           Every 4th also gives the client an invoice first: DELETE client → 409 conflict,
//           DELETE invoice → 204, then the client goes. Every 10th also sends an invalid
//           POST (422 validation_failed). Every 5th PATCHes a seeded lead (shared rows).
// Rows are only ever deleted by the iteration that created them; teardown checks that the
// seeded totals are back (clients 60, invoices 220): nothing leaked, nothing lost.
//
// Environment: READ_RATE, WRITE_RATE, DURATION, READ_P95_MS/READ_P99_MS (default 30/60),
// WRITE_P95_MS/WRITE_P99_MS (per request, default 50/100).
//
// @token CRUD --scope *:rcud

import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  arrivalScenario,
  latencyThresholds,
  expecting,
  header,
  json,
  errorCode,
  hasSecurityHeaders,
  randInt,
  limitedLogger,
  describe,
} from './lib.js';

const READ_RATE = envInt('READ_RATE', 400);
const WRITE_RATE = envInt('WRITE_RATE', 50);
const DURATION = envDuration('DURATION', '20s');
const MAX_DROPPED = Math.floor((READ_RATE + WRITE_RATE) * DURATION.secs * 0.001);

export const options = {
  scenarios: {
    reads: arrivalScenario('reads', READ_RATE, DURATION.text, 50, 200),
    writes: arrivalScenario('writes', WRITE_RATE, DURATION.text, 50, 200),
  },
  thresholds: {
    'http_req_duration{scenario:reads}': latencyThresholds('READ', 30, 60),
    'http_req_duration{scenario:writes}': latencyThresholds('WRITE', 50, 100),
    // Expected refusals (404 after delete, 409, 422) are declared per request, so they are
    // not failures; anything else is.
    http_req_failed: ['rate<0.001'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
    crud_lifecycles_completed: ['count>0'],
    crud_leaked_rows: ['count==0'],
  },
};

const BASE = baseUrl();
const completed = new Counter('crud_lifecycles_completed');
const leaked = new Counter('crud_leaked_rows');
const log = limitedLogger(5);

// One request expected to answer `status` (other statuses count as failed requests).
function req(method, path, name, status, body) {
  const headers = { Authorization: `Bearer ${token('CRUD')}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return http.request(method, BASE + path, body === undefined ? null : JSON.stringify(body), expecting(status, name, headers));
}

function verify(r, status, what, more) {
  const checks = {};
  checks[`${what}: ${status}`] = (x) => x.status === status;
  checks[`${what}: security headers`] = hasSecurityHeaders;
  if (more) checks[`${what}: body`] = (x) => x.status === status && more(json(x), x);
  const ok = check(r, checks);
  if (!ok) log(`${what}: ${describe(r)}`);
  return ok;
}

export function setup() {
  const r = req('GET', '/api/v1/clients?limit=1', 'setup', 200);
  if (r.status !== 200) throw new Error(`token check failed: ${describe(r)}`);
  const inv = req('GET', '/api/v1/invoices?limit=1', 'setup', 200);
  return { clients: json(r).total, invoices: json(inv).total };
}

export function reads() {
  const p = Math.random();
  if (p < 0.6) {
    const id = randInt(1, 60);
    const r = req('GET', `/api/v1/clients/${id}`, 'GET /api/v1/clients/{id}', 200);
    verify(r, 200, 'read client', (b) => b.data.id === id);
  } else if (p < 0.8) {
    const client = randInt(1, 60);
    const r = req('GET', `/api/v1/invoices?client_id=${client}`, 'GET /api/v1/invoices?client_id=', 200);
    verify(r, 200, 'list invoices', (b) => b.data.every((row) => row.client_id === client));
  } else if (p < 0.9) {
    const r = req('GET', `/api/v1/tickets/${randInt(1, 120)}`, 'GET /api/v1/tickets/{id}', 200);
    verify(r, 200, 'read ticket', (b) => Number.isInteger(b.data.id));
  } else {
    const r = req('GET', '/api/v1/views/open_tickets?limit=20', 'GET /api/v1/views/open_tickets', 200);
    verify(r, 200, 'read view', (b) => Array.isArray(b.data) && b.total >= b.data.length);
  }
}

export function writes() {
  const n = __ITER;
  const tag = `k6-${__VU}-${n}-${Date.now()}`;
  if (n % 10 === 9) {
    const bad = req('POST', '/api/v1/clients', 'POST /api/v1/clients (invalid)', 422, { company: tag });
    verify(bad, 422, 'invalid create', (b) => errorCode(bad) === 'validation_failed' && b.error.message.includes('status'));
  }
  if (n % 5 === 4) {
    const lead = randInt(1, 90);
    const r = req('PATCH', `/api/v1/leads/${lead}`, 'PATCH /api/v1/leads/{id}', 200, { source: `k6 ${tag}` });
    verify(r, 200, 'patch seeded lead', (b) => b.data.id === lead && b.data.source === `k6 ${tag}`);
  }

  const created = req('POST', '/api/v1/clients', 'POST /api/v1/clients', 201, {
    company: `Load Test ${tag}`,
    status: 'prospect',
    city: 'Oslo',
  });
  let id;
  const ok = verify(created, 201, 'create client', (b, x) => {
    id = b.data.id;
    return Number.isInteger(id) && header(x, 'Location') === `/api/v1/clients/${id}`;
  });
  if (!ok || !Number.isInteger(id)) return;
  const path = `/api/v1/clients/${id}`;

  let r = req('PATCH', path, 'PATCH /api/v1/clients/{id}', 200, { city: 'Bergen' });
  verify(r, 200, 'patch client', (b) => b.data.city === 'Bergen' && b.data.company === `Load Test ${tag}`);
  r = req('GET', path, 'GET /api/v1/clients/{own}', 200);
  verify(r, 200, 'read own client', (b) => b.data.city === 'Bergen');
  r = req('PUT', path, 'PUT /api/v1/clients/{id}', 200, { company: `Replaced ${tag}`, status: 'active' });
  verify(r, 200, 'put client', (b) => b.data.city === undefined && b.data.company === `Replaced ${tag}`);

  if (n % 4 === 3) {
    const inv = req('POST', '/api/v1/invoices', 'POST /api/v1/invoices', 201, {
      client_id: id,
      number: `INV-${tag}`,
      status: 'draft',
      issue_date: '2025-06-01',
      total: 99.5,
    });
    let invId;
    verify(inv, 201, 'create invoice', (b) => {
      invId = b.data.id;
      return Number.isInteger(invId) && b.data.client_id === id;
    });
    if (Number.isInteger(invId)) {
      r = req('DELETE', path, 'DELETE /api/v1/clients/{id} (referenced)', 409);
      verify(r, 409, 'delete referenced client', () => errorCode(r) === 'conflict');
      r = req('DELETE', `/api/v1/invoices/${invId}`, 'DELETE /api/v1/invoices/{id}', 204);
      if (!verify(r, 204, 'delete invoice')) leaked.add(1);
    }
  }

  r = req('DELETE', path, 'DELETE /api/v1/clients/{id}', 204);
  if (!verify(r, 204, 'delete client')) leaked.add(1);
  r = req('GET', path, 'GET /api/v1/clients/{deleted}', 404);
  verify(r, 404, 'deleted client is gone', () => errorCode(r) === 'not_found');
  completed.add(1);
}

export function teardown(seeded) {
  leaked.add(0);
  const c = req('GET', '/api/v1/clients?limit=1', 'teardown', 200);
  const i = req('GET', '/api/v1/invoices?limit=1', 'teardown', 200);
  const ok = check(null, {
    'teardown: clients back to the seeded total': () => json(c).total === seeded.clients,
    'teardown: invoices back to the seeded total': () => json(i).total === seeded.invoices,
  });
  if (!ok) {
    leaked.add(Math.abs(json(c).total - seeded.clients) + Math.abs(json(i).total - seeded.invoices));
    console.error(`rows leaked: clients ${json(c).total} (seeded ${seeded.clients}), invoices ${json(i).total} (seeded ${seeded.invoices})`);
  }
}
