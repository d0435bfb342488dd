// cluster.js: the production layout under load. nginx spreads the requests over two
// instances that count on one Redis; one token's quota holds across both (never a 200 over
// it), while reads from another token go on at a steady rate within their p95/p99.
//
//   load-tests/run.sh cluster
//   LIMITED_RATE=200 READ_RATE=600 load-tests/run.sh cluster -e CL_RATE=1000
//
// run.sh starts the layout for it (@layout cluster below): redis-server, two instances on
// copies of one data dir, nginx with systemd/nginx-palisade.conf in front (BASE_URL); nginx
// names the instance that answered in X-Upstream, and UPSTREAMS lists the two.
//
// Scenarios, both for DURATION (default 20s) and both through nginx:
// - limited: LIMITED_RATE (default 100) GET /api/v1/clients/1 a second with the LIMITED token
//   (CL_RATE, default 500, requests per CL_WINDOW, default 60 s). The load is at least twice
//   the quota, and setup waits for a fresh window if the run would not fit in this one, so
//   exactly CL_RATE are served, by both instances, and the rest refused 429 rate_limited.
// - reads: READ_RATE (default 300) reads a second with the READER token: 80 %
//   GET /api/v1/clients/{1..60}, 20 % GET /api/v1/clients?limit=20&offset=N.
//
// Environment: the rates above, DURATION, VUS / MAX_VUS (default 50 / 300),
// READ_P95_MS / READ_P99_MS (default 50 / 100), LIMITED_P95_MS / LIMITED_P99_MS (same).
//
// @layout cluster
// @token LIMITED --scope clients:r --rate {CL_RATE:500} --window {CL_WINDOW:60}
// @token READER --scope *:r

import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  requireEnv,
  arrivalScenario,
  latencyThresholds,
  header,
  json,
  errorCode,
  hasSecurityHeaders,
  randInt,
  limitedLogger,
  describe,
} from './lib.js';

const QUOTA = envInt('CL_RATE', 500);
const WINDOW_MS = envInt('CL_WINDOW', 60) * 1000;
const LIMITED_RATE = envInt('LIMITED_RATE', 100);
const READ_RATE = envInt('READ_RATE', 300);
const DURATION = envDuration('DURATION', '20s');
const VUS = envInt('VUS', 50);
const MAX_VUS = envInt('MAX_VUS', 300);
const MARGIN_MS = 2000;
if (LIMITED_RATE * DURATION.secs < 2 * QUOTA) {
  fail(`LIMITED_RATE × DURATION (${LIMITED_RATE * DURATION.secs}) must be at least twice CL_RATE (${QUOTA})`);
}
if (DURATION.secs * 1000 + 2 * MARGIN_MS > WINDOW_MS) {
  fail(`DURATION (${DURATION.text}) must fit in one CL_WINDOW with ${(2 * MARGIN_MS) / 1000} s to spare`);
}
const INSTANCES = requireEnv('UPSTREAMS').split(',');
if (INSTANCES.length !== 2) fail(`UPSTREAMS must name two instances, got ${__ENV.UPSTREAMS}`);
const MAX_DROPPED = Math.floor((LIMITED_RATE + READ_RATE) * DURATION.secs * 0.001);

export const options = {
  scenarios: {
    limited: arrivalScenario('limited', LIMITED_RATE, DURATION.text, VUS, MAX_VUS),
    reads: arrivalScenario('reads', READ_RATE, DURATION.text, VUS, MAX_VUS),
  },
  setupTimeout: `${WINDOW_MS / 1000 + 30}s`,
  thresholds: {
    // The quota across both instances: never a 200 more, and reached (the load was twice it).
    cl_quota_served: [`count<=${QUOTA}`, `count>=${QUOTA}`],
    'cl_quota_served{instance:a}': ['count>0'],
    'cl_quota_served{instance:b}': ['count>0'],
    cl_quota_refused: ['count>0'],
    'cl_reads{instance:a}': ['count>0'],
    'cl_reads{instance:b}': ['count>0'],
    cl_other_status: ['count==0'],
    cl_outside_window: ['count==0'],
    'http_req_duration{scenario:reads}': latencyThresholds('READ', 50, 100),
    'http_req_duration{scenario:limited}': latencyThresholds('LIMITED', 50, 100),
    http_req_failed: ['rate==0'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
  },
};

const BASE = baseUrl();
const served = new Counter('cl_quota_served');
const refused = new Counter('cl_quota_refused');
const readsBy = new Counter('cl_reads');
const other = new Counter('cl_other_status');
const outside = new Counter('cl_outside_window');
const log = limitedLogger(5);

// Which instance answered: the last address nginx tried, as a or b.
function instance(r) {
  const tried = (header(r, 'X-Upstream') || '').split(', ');
  const i = INSTANCES.indexOf(tried[tried.length - 1]);
  return i < 0 ? 'none' : 'ab'[i];
}

let limitedParams;
function limitedAs() {
  if (!limitedParams) {
    limitedParams = {
      headers: { Authorization: `Bearer ${token('LIMITED')}` },
      tags: { name: 'GET /api/v1/clients/1 (limited)' },
      responseCallback: http.expectedStatuses(200, 429),
    };
  }
  return limitedParams;
}
const readParams = {};
function readAs(name) {
  if (!readParams[name]) readParams[name] = { headers: { Authorization: `Bearer ${token('READER')}` }, tags: { name } };
  return readParams[name];
}

export function setup() {
  // Zero samples, so that every threshold on a tagged counter has a metric to judge.
  for (const m of [served, readsBy]) for (const i of ['a', 'b']) m.add(0, { instance: i });
  for (const m of [refused, other, outside]) m.add(0);
  const r = http.get(`${BASE}/api/v1/clients/1`, readAs('setup'));
  if (r.status !== 200 || instance(r) === 'none') fail(`the READER token should read through nginx: ${describe(r)}`);
  // Run inside one window of the LIMITED token: wait for the next one if this one is too short.
  const now = Date.now();
  let end = (Math.floor(now / WINDOW_MS) + 1) * WINDOW_MS;
  if (end - now < DURATION.secs * 1000 + MARGIN_MS) {
    sleep((end - now + 200) / 1000);
    end += WINDOW_MS;
  }
  return { windowEnd: end };
}

export function limited(data) {
  const t0 = Date.now();
  const r = http.get(`${BASE}/api/v1/clients/1`, limitedAs());
  if (t0 < data.windowEnd - WINDOW_MS || Date.now() >= data.windowEnd) outside.add(1);
  const tags = { instance: instance(r) };
  let ok;
  if (r.status === 200) {
    served.add(1, tags);
    ok = check(r, {
      '200: X-RateLimit-Limit is the quota': () => header(r, 'X-RateLimit-Limit') === String(QUOTA),
      '200: the row': () => (json(r) || { data: {} }).data.id === 1,
      '200: security headers': () => hasSecurityHeaders(r),
    });
  } else if (r.status === 429) {
    refused.add(1, tags);
    ok = check(r, {
      '429: rate_limited': () => errorCode(r) === 'rate_limited',
      '429: X-RateLimit-Remaining: 0': () => header(r, 'X-RateLimit-Remaining') === '0',
      '429: Retry-After': () => /^\d+$/.test(header(r, 'Retry-After') || ''),
    });
  } else {
    other.add(1, tags);
    ok = false;
  }
  if (!ok) log(`limited: ${describe(r)} X-Upstream=${header(r, 'X-Upstream')}`);
}

export function reads() {
  let r;
  let expected;
  if (Math.random() < 0.8) {
    const id = randInt(1, 60);
    r = http.get(`${BASE}/api/v1/clients/${id}`, readAs('GET /api/v1/clients/{id}'));
    expected = (b) => b.data.id === id;
  } else {
    const offset = randInt(0, 40);
    r = http.get(`${BASE}/api/v1/clients?limit=20&offset=${offset}`, readAs('GET /api/v1/clients?limit=20'));
    expected = (b) => b.data.length === 20 && b.data[0].id === offset + 1;
  }
  readsBy.add(1, { instance: instance(r) });
  const ok = check(r, {
    'read: 200': (x) => x.status === 200,
    'read: body as expected': (x) => x.status === 200 && expected(json(x)),
    'read: nosniff header': (x) => header(x, 'X-Content-Type-Options') === 'nosniff',
  });
  if (!ok) log(`read: ${describe(r)}`);
}
