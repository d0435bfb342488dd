// read_throughput.js: authenticated reads at a fixed arrival rate (constant-arrival-rate),
// mostly single rows plus the list and view endpoints.
//
//   load-tests/run.sh read_throughput.js
//   RATE=3000 DURATION=30s load-tests/run.sh read_throughput.js
//
// Environment: RATE (requests/s, default 2000), DURATION (default 20s), VUS (pre-allocated,
// default 100), MAX_VUS (default 400), P95_MS / P99_MS (latency thresholds, default 20 / 50).
//
// Mix: 70 % GET /api/v1/clients/{1..60}, 10 % GET /api/v1/clients?limit=20&offset=N,
// 10 % GET /api/v1/invoices?client_id=N, 5 % GET /api/v1/views/active_clients?limit=10,
// 5 % GET /api/v1/invoice_items/{1..600}.
//
// Tokens (created by run.sh): the default per-token rate in bench.toml is out of reach.
// @token READER --scope *:r

import http from 'k6/http';
import { check } from 'k6';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  arrivalScenario,
  latencyThresholds,
  header,
  json,
  randInt,
  limitedLogger,
  describe,
} from './lib.js';

const RATE = envInt('RATE', 2000);
const DURATION = envDuration('DURATION', '20s');
// The arrival-rate executor drops iterations when no VU is free; allow 0.1 % of them.
const MAX_DROPPED = Math.floor(RATE * DURATION.secs * 0.001);

export const options = {
  scenarios: {
    reads: arrivalScenario(null, RATE, DURATION.text, envInt('VUS', 100), envInt('MAX_VUS', 400)),
  },
  thresholds: {
    http_req_duration: latencyThresholds('', 20, 50),
    'http_req_duration{name:GET /api/v1/clients/{id}}': latencyThresholds('', 20, 50),
    http_req_failed: ['rate<0.001'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
};

const BASE = baseUrl();
const PARAMS_BY_NAME = {};
const log = limitedLogger(5);

function params(name) {
  if (!PARAMS_BY_NAME[name]) {
    PARAMS_BY_NAME[name] = { headers: { Authorization: `Bearer ${token('READER')}` }, tags: { name } };
  }
  return PARAMS_BY_NAME[name];
}

export function setup() {
  const r = http.get(`${BASE}/api/v1/clients/1`, params('setup'));
  if (r.status !== 200) throw new Error(`token check failed: ${describe(r)}`);
}

function verify(r, okBody) {
  const ok = check(r, {
    'status 200': (x) => x.status === 200,
    'body as expected': (x) => x.status === 200 && okBody(json(x)),
    'nosniff header': (x) => header(x, 'X-Content-Type-Options') === 'nosniff',
  });
  if (!ok) log(`unexpected: ${describe(r)}`);
}

export default function () {
  const p = Math.random();
  if (p < 0.7) {
    const id = randInt(1, 60);
    const r = http.get(`${BASE}/api/v1/clients/${id}`, params('GET /api/v1/clients/{id}'));
    verify(r, (b) => b.data.id === id);
  } else if (p < 0.8) {
    const offset = randInt(0, 40);
    const r = http.get(`${BASE}/api/v1/clients?limit=20&offset=${offset}`, params('GET /api/v1/clients?limit=20'));
    verify(r, (b) => b.total === 60 && b.data.length === 20 && b.data[0].id === offset + 1);
  } else if (p < 0.9) {
    const client = randInt(1, 60);
    const r = http.get(`${BASE}/api/v1/invoices?client_id=${client}`, params('GET /api/v1/invoices?client_id='));
    verify(r, (b) => Array.isArray(b.data) && b.data.every((row) => row.client_id === client));
  } else if (p < 0.95) {
    const r = http.get(`${BASE}/api/v1/views/active_clients?limit=10`, params('GET /api/v1/views/active_clients'));
    verify(r, (b) => b.data.length === 10 && b.total > 0);
  } else {
    const id = randInt(1, 600);
    const r = http.get(`${BASE}/api/v1/invoice_items/${id}`, params('GET /api/v1/invoice_items/{id}'));
    verify(r, (b) => b.data.id === id);
  }
}
