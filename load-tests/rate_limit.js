// rate_limit.js: many VUs on one token. In every window observed, exactly the token's rate
// of requests succeed and the rest get 429 with Retry-After ≥ 1 and X-RateLimit-Remaining: 0.
//
//   load-tests/run.sh rate_limit.js
//   RL_RATE=250 RL_WINDOW=20 VUS=100 load-tests/run.sh rate_limit.js
//
// Windows are fixed and aligned (index = floor(unix_ms / window_ms)), so a run that crossed a
// boundary would legitimately see 2 × rate successes. To keep the count exact:
//   setup()     checks the token (one request, in the window before the measured one), then
//               sleeps until START_MARGIN_MS after the next window boundary;
//   hammer      VUS constant VUs send requests as fast as they can for ACTIVE seconds (default
//               half a window), and send nothing in the last END_GUARD_MS of the window; a
//               response that arrives after the window end is counted in rl_outside_window
//               (threshold 0), so a run that could not stay inside its window fails instead
//               of passing by luck;
//   teardown()  waits for the next window and fires 2 × rate requests at once (http.batch):
//               exactly `rate` must pass, their X-RateLimit-Remaining values being exactly
//               rate-1 … 0, each once.
// Counts are tagged by window (first = hammer, second = teardown burst) and asserted per window
// with thresholds on rl_ok{window:…} and rl_limited{window:…}.
//
// Environment: RL_RATE (default 100), RL_WINDOW (seconds, default 10), VUS (default 50),
// ACTIVE (hammer duration, default RL_WINDOW/2 seconds), P95_MS / P99_MS (default 100 / 200:
// the VUs send back to back, so latency here is mostly queueing, about VUS / throughput).
//
// @token LIMITED --scope clients:r --rate {RL_RATE:100} --window {RL_WINDOW:10}

import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  latencyThresholds,
  header,
  errorCode,
  hasSecurityHeaders,
  limitedLogger,
  describe,
} from './lib.js';

const RATE = envInt('RL_RATE', 100);
const WINDOW_S = envInt('RL_WINDOW', 10);
const WINDOW_MS = WINDOW_S * 1000;
const VUS = envInt('VUS', 50);
const ACTIVE = envDuration('ACTIVE', `${Math.max(1, WINDOW_S / 2)}s`);
const START_MARGIN_MS = 200;
const END_GUARD_MS = 1000;
if (!(RATE >= 1 && Number.isInteger(RATE))) fail(`RL_RATE must be a positive integer, got ${RATE}`);
if (ACTIVE.secs * 1000 + START_MARGIN_MS + END_GUARD_MS + 1000 > WINDOW_MS) {
  fail(`ACTIVE (${ACTIVE.text}) must leave at least 2.2 s of the ${WINDOW_S} s window; raise RL_WINDOW`);
}
const BURST = 2 * RATE;

export const options = {
  scenarios: {
    hammer: { executor: 'constant-vus', vus: VUS, duration: ACTIVE.text, gracefulStop: '2s' },
  },
  setupTimeout: `${WINDOW_S + 30}s`,
  teardownTimeout: `${WINDOW_S + 30}s`,
  batch: Math.min(BURST, 200),
  batchPerHost: Math.min(BURST, 200),
  thresholds: {
    // The first window (the hammer) and the second (the teardown burst), each exact.
    'rl_ok{window:first}': [`count==${RATE}`],
    'rl_limited{window:first}': ['count>0'],
    'rl_ok{window:second}': [`count==${RATE}`],
    'rl_limited{window:second}': [`count==${BURST - RATE}`],
    rl_other_status: ['count==0'],
    rl_outside_window: ['count==0'],
    // Only 200 and 429 are expected answers; every header check must hold.
    http_req_failed: ['rate==0'],
    checks: ['rate>=0.999'],
    rl_header_checks: ['rate==1'],
    http_req_duration: latencyThresholds('', 100, 200),
  },
};

http.setResponseCallback(http.expectedStatuses(200, 429));

const BASE = baseUrl();
const URL = `${BASE}/api/v1/clients/1`;
const ok = new Counter('rl_ok');
const limited = new Counter('rl_limited');
const other = new Counter('rl_other_status');
const outside = new Counter('rl_outside_window');
const headerChecks = new Rate('rl_header_checks');
const log = limitedLogger(5);

function auth(name) {
  return { headers: { Authorization: `Bearer ${token('LIMITED')}` }, tags: { name } };
}

// Checks one answer and counts it in `window`; t0/t1 bracket the request (ms since epoch).
function account(r, window, windowEnd, t0, t1) {
  const tags = { window };
  if (t0 < windowEnd - WINDOW_MS || t1 >= windowEnd) outside.add(1, tags);
  const limit = header(r, 'X-RateLimit-Limit');
  const remaining = header(r, 'X-RateLimit-Remaining');
  let passed;
  if (r.status === 200) {
    ok.add(1, tags);
    passed = check(r, {
      '200: X-RateLimit-Limit is the rate': () => limit === String(RATE),
      '200: X-RateLimit-Remaining in 0..rate-1': () => /^\d+$/.test(remaining) && Number(remaining) < RATE,
      '200: security headers': () => hasSecurityHeaders(r),
    });
  } else if (r.status === 429) {
    limited.add(1, tags);
    const ra = header(r, 'Retry-After');
    // Whole seconds to the window end, rounded up, at least 1: bracketed by t0 and t1.
    const lo = Math.max(1, Math.ceil((windowEnd - t1) / 1000));
    const hi = Math.max(1, Math.ceil((windowEnd - t0) / 1000));
    passed = check(r, {
      '429: Retry-After >= 1': () => /^\d+$/.test(ra || '') && Number(ra) >= 1,
      '429: Retry-After = seconds to the window end': () => Number(ra) >= lo && Number(ra) <= hi,
      '429: X-RateLimit-Remaining: 0': () => remaining === '0',
      '429: X-RateLimit-Limit is the rate': () => limit === String(RATE),
      '429: rate_limited error body': () => errorCode(r) === 'rate_limited',
      '429: security headers': () => hasSecurityHeaders(r),
    });
  } else {
    other.add(1, tags);
    passed = false;
  }
  headerChecks.add(passed, tags);
  if (!passed) log(`${window} window: ${describe(r)} Retry-After=${header(r, 'Retry-After')} Remaining=${remaining}`);
}

export function setup() {
  // Zero samples, so that every per-window threshold has a metric to judge.
  for (const window of ['first', 'second']) {
    for (const m of [ok, limited, other, outside]) m.add(0, { window });
  }
  const r = http.get(URL, auth('setup probe'));
  if (r.status !== 200 || header(r, 'X-RateLimit-Limit') !== String(RATE)) {
    fail(`the LIMITED token should allow ${RATE} requests per window: ${describe(r)} X-RateLimit-Limit=${header(r, 'X-RateLimit-Limit')}`);
  }
  // Start right after the next boundary: the probe stays in the window before.
  const now = Date.now();
  const start = (Math.floor(now / WINDOW_MS) + 1) * WINDOW_MS;
  sleep((start + START_MARGIN_MS - now) / 1000);
  return { windowEnd: start + WINDOW_MS };
}

export default function (data) {
  const t0 = Date.now();
  if (t0 >= data.windowEnd - END_GUARD_MS) {
    sleep(0.05);
    return;
  }
  const r = http.get(URL, auth('GET /api/v1/clients/1'));
  account(r, 'first', data.windowEnd, t0, Date.now());
}

export function teardown(data) {
  // The second window: 2 × rate at once, right after its start.
  const now = Date.now();
  sleep(Math.max(0, data.windowEnd + START_MARGIN_MS - now) / 1000);
  const windowEnd = data.windowEnd + WINDOW_MS;
  const requests = [];
  for (let i = 0; i < BURST; i++) requests.push(['GET', URL, null, auth('burst GET /api/v1/clients/1')]);
  const t0 = Date.now();
  const responses = http.batch(requests);
  const t1 = Date.now();
  const remaining = [];
  for (const r of responses) {
    account(r, 'second', windowEnd, t0, t1);
    if (r.status === 200) remaining.push(Number(header(r, 'X-RateLimit-Remaining')));
  }
  remaining.sort((a, b) => a - b);
  const countdown = remaining.length === RATE && remaining.every((v, i) => v === i);
  headerChecks.add(countdown, { window: 'second' });
  check(null, { 'burst: X-RateLimit-Remaining counted down rate-1..0, each once': () => countdown });
  if (!countdown) console.error(`burst remaining values: ${remaining.join(',')}`);
}
