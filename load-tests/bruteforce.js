// bruteforce.js: token guessing from many client IPs behind a trusted proxy, while a
// legitimate client keeps reading.
//
//   load-tests/run.sh bruteforce.js
//   ATTACK_IPS=40 LEGIT_RATE=400 DURATION=30s load-tests/run.sh bruteforce.js
//
// bench.toml trusts 127.0.0.1 as a proxy, so every request names its client in
// X-Forwarded-For (the server takes the right-most untrusted entry), and sets
// [checks.brute_force] max_failures = 20 per window_secs = 300, lock_secs = 3600.
//
// Scenarios (both run for DURATION, default 20s):
//   attack  ATTACK_IPS/s (default 20) iterations, each a fresh attacker IP (10.x.y.z) that
//           presents wrong credentials one after another: unknown token ids, the legitimate
//           token's real id with a guessed secret, malformed tokens, a non-Bearer scheme.
//           The first MAX_FAILURES + 1 (21) answers must be 401 invalid_token — the 21st
//           failure is the one over the limit and locks the IP —, then LOCKED_PROBES (default
//           5) more must be 403 locked, the last of them presenting the legitimate token
//           itself (a locked IP is refused whatever it presents). Spoofed entries to the left
//           of the attacker's address in X-Forwarded-For change nothing (one of them is the
//           legitimate client's own address, which must stay unlocked).
//   legit   LEGIT_RATE/s (default 200) GET /api/v1/clients/{id} with the real token from
//           LEGIT_IP (default 192.0.2.10): every one must be 200, with its own latency
//           thresholds (LEGIT_P95_MS / LEGIT_P99_MS, default 20 / 50).
// teardown(): the legitimate client (from LEGIT_IP and with no X-Forwarded-For) still gets
// 200, an IP that never failed still gets a plain 401 (locks are per IP, nothing global), and
// the first attacker IP is still locked, even with the real token.
//
// The failure windows are fixed and aligned to the epoch (like the rate limiter's); an
// attacker that starts less than 2 s before a window boundary waits for the next window, so
// each IP's count is exact; bf_outside_window (threshold 0) counts sequences that still
// crossed a boundary.
//
// Environment: ATTACK_IPS, LEGIT_RATE, DURATION, LEGIT_IP, MAX_FAILURES (must equal
// bench.toml's, default 20), BF_WINDOW (seconds, default 300), LOCKED_PROBES,
// LEGIT_P95_MS / LEGIT_P99_MS, ATTACK_P95_MS / ATTACK_P99_MS (per request, default 20 / 50).
//
// @token LEGIT --scope clients:r

import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  arrivalScenario,
  latencyThresholds,
  header,
  json,
  errorCode,
  hasSecurityHeaders,
  expecting,
  verify,
  attackerIp,
  randInt,
  limitedLogger,
  describe,
} from './lib.js';

const ATTACK_IPS = envInt('ATTACK_IPS', 20);
const LEGIT_RATE = envInt('LEGIT_RATE', 200);
const DURATION = envDuration('DURATION', '20s');
const LEGIT_IP = __ENV.LEGIT_IP || '192.0.2.10';
const MAX_FAILURES = envInt('MAX_FAILURES', 20);
const WINDOW_MS = envInt('BF_WINDOW', 300) * 1000;
const LOCKED_PROBES = Math.max(1, envInt('LOCKED_PROBES', 5));
const GUARD_MS = 2000;
const MAX_DROPPED = Math.floor((ATTACK_IPS + LEGIT_RATE) * DURATION.secs * 0.001);
const EXPECTED_IPS = Math.floor(ATTACK_IPS * DURATION.secs);

export const options = {
  scenarios: {
    attack: arrivalScenario('attack', ATTACK_IPS, DURATION.text, 20, 200),
    legit: arrivalScenario('legit', LEGIT_RATE, DURATION.text, 20, 200),
  },
  thresholds: {
    // The legitimate client does not notice the attack.
    'http_req_duration{scenario:legit}': latencyThresholds('LEGIT', 20, 50),
    bf_legit_ok: ['count>0'],
    bf_legit_refused: ['count==0'],
    // Refusing an attacker stays cheap.
    'http_req_duration{scenario:attack}': latencyThresholds('ATTACK', 20, 50),
    // Every attacker IP: exactly MAX_FAILURES + 1 answers 401, then locked; none otherwise.
    bf_ips_locked: [`count>=${Math.floor(EXPECTED_IPS * 0.99)}`],
    bf_ips_wrong: ['count==0'],
    bf_invalid_token: ['count>0'],
    bf_refused_locked: ['count>0'],
    bf_attack_succeeded: ['count==0'],
    bf_outside_window: ['count==0'],
    // Each request declares the statuses it may get; every check must hold.
    http_req_failed: ['rate==0'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
  },
};

const BASE = baseUrl();
const legitOk = new Counter('bf_legit_ok');
const legitRefused = new Counter('bf_legit_refused');
const ipsLocked = new Counter('bf_ips_locked');
const ipsWrong = new Counter('bf_ips_wrong');
const invalidToken = new Counter('bf_invalid_token');
const refusedLocked = new Counter('bf_refused_locked');
const attackSucceeded = new Counter('bf_attack_succeeded');
const outsideWindow = new Counter('bf_outside_window');
const log = limitedLogger(5);

function hex(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[randInt(0, 15)];
  return s;
}

// The id part of a `pal_<16 hex>_<64 hex>` token.
function tokenId(t) {
  const m = /^pal_([0-9a-f]{16})_[0-9a-f]{64}$/.exec(t);
  if (!m) fail(`LEGIT does not look like pal_<id>_<secret>: ${t.slice(0, 8)}…`);
  return m[1];
}

// The n-th wrong credential: four kinds, all answered 401 invalid_token and all counted as
// failed authentications.
function wrongAuthorization(n) {
  switch (n % 4) {
    case 0:
      return `Bearer pal_${hex(16)}_${hex(64)}`; // unknown id
    case 1:
      return `Bearer pal_${tokenId(token('LEGIT'))}_${hex(64)}`; // the real id, a guessed secret
    case 2:
      return `Bearer ${hex(24)}`; // not a Palisade token at all
    default:
      return `Basic ${hex(16)}`; // not a Bearer token
  }
}

// How the proxy reports the attacker: alone, after spoofed entries the client wrote itself,
// or before a hop that is a trusted proxy. The right-most untrusted entry is always `ip`.
function forwardedFor(ip, n) {
  switch (n % 3) {
    case 0:
      return ip;
    case 1:
      return `${LEGIT_IP}, 172.16.${randInt(0, 255)}.${randInt(1, 254)}, ${ip}`;
    default:
      return `${ip}, 127.0.0.1`;
  }
}

function get(path, name, status, headers) {
  return http.get(BASE + path, expecting(status, name, headers));
}

export function setup() {
  for (const m of [legitOk, legitRefused, ipsLocked, ipsWrong, attackSucceeded, outsideWindow]) m.add(0);
  tokenId(token('LEGIT'));
  const r = get('/api/v1/clients/1', 'setup', 200, { Authorization: `Bearer ${token('LEGIT')}`, 'X-Forwarded-For': LEGIT_IP });
  if (r.status !== 200) fail(`token check failed: ${describe(r)}`);
  // Without trusted_proxies every attacker would be 127.0.0.1: the second attacker and the
  // legitimate client would find it locked at once, so the per-IP counts fail loudly.
}

export function legit() {
  const id = randInt(1, 60);
  const r = get(`/api/v1/clients/${id}`, 'legit GET /api/v1/clients/{id}', 200, {
    Authorization: `Bearer ${token('LEGIT')}`,
    'X-Forwarded-For': LEGIT_IP,
  });
  const ok = verify(r, {
    'legit: 200': (x) => x.status === 200,
    'legit: the row asked for': (x) => json(x).data.id === id,
  });
  if (r.status === 200) legitOk.add(1);
  else legitRefused.add(1);
  if (!ok) log(`legit: ${describe(r)}`);
}

export function attack() {
  // Stay inside one failure window: start over after the boundary when it is near.
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < GUARD_MS) sleep((left + 100) / 1000);

  const n = exec.scenario.iterationInTest;
  const ip = attackerIp(n);
  const t0 = Date.now();
  let exact = true;
  let step = 0;
  const headersFor = (authorization) => ({ Authorization: authorization, 'X-Forwarded-For': forwardedFor(ip, step) });

  // 1 … MAX_FAILURES + 1: wrong credentials, each refused as such; the last one locks.
  for (let i = 1; i <= MAX_FAILURES + 1; i++, step++) {
    const r = get('/api/v1/clients/1', 'attack: wrong credential', 401, headersFor(wrongAuthorization(step)));
    if (r.status >= 200 && r.status < 300) attackSucceeded.add(1);
    if (r.status === 401) invalidToken.add(1);
    const ok = verify(r, {
      'attack: failures up to the limit are 401 invalid_token': (x) =>
        x.status === 401 && errorCode(x) === 'invalid_token',
      'attack: 401 carries WWW-Authenticate: Bearer': (x) => header(x, 'WWW-Authenticate') === 'Bearer',
      'attack: security headers': hasSecurityHeaders,
    });
    if (!ok) {
      exact = false;
      log(`attacker ${ip}, failure ${i} of ${MAX_FAILURES + 1}: ${describe(r)}`);
    }
  }

  // Then locked, whatever the credential; the last probe presents the legitimate token.
  for (let i = 1; i <= LOCKED_PROBES; i++, step++) {
    const real = i === LOCKED_PROBES;
    const authorization = real ? `Bearer ${token('LEGIT')}` : wrongAuthorization(step);
    const r = get(
      '/api/v1/clients/1',
      real ? 'attack: locked IP, real token' : 'attack: locked IP, wrong credential',
      403,
      headersFor(authorization),
    );
    if (r.status >= 200 && r.status < 300) attackSucceeded.add(1);
    if (r.status === 403 && errorCode(r) === 'locked') refusedLocked.add(1);
    const ok = verify(r, {
      'attack: after the limit the IP gets 403 locked': (x) => x.status === 403 && errorCode(x) === 'locked',
      'attack: security headers': hasSecurityHeaders,
    });
    if (!ok) {
      exact = false;
      log(`attacker ${ip}, probe ${i} after the limit${real ? ' (real token)' : ''}: ${describe(r)}`);
    }
  }

  const t1 = Date.now();
  if (Math.floor(t0 / WINDOW_MS) !== Math.floor(t1 / WINDOW_MS)) {
    outsideWindow.add(1);
    log(`attacker ${ip}: its sequence crossed a failure-window boundary (${t1 - t0} ms)`);
  }
  if (exact) ipsLocked.add(1);
  else ipsWrong.add(1);
}

export function teardown() {
  const auth = { Authorization: `Bearer ${token('LEGIT')}` };
  const viaProxy = get('/api/v1/clients/2', 'teardown', 200, Object.assign({ 'X-Forwarded-For': LEGIT_IP }, auth));
  const direct = get('/api/v1/clients/3', 'teardown', 200, auth);
  const fresh = get('/api/v1/clients/1', 'teardown', 401, {
    Authorization: `Bearer pal_${hex(16)}_${hex(64)}`,
    'X-Forwarded-For': '198.51.100.77',
  });
  const first = get('/api/v1/clients/1', 'teardown', 403, Object.assign({ 'X-Forwarded-For': attackerIp(0) }, auth));
  const ok = check(null, {
    'teardown: the legitimate client still reads (via the proxy)': () => viaProxy.status === 200,
    'teardown: the legitimate client still reads (direct, no X-Forwarded-For)': () => direct.status === 200,
    'teardown: an IP that never failed gets a plain 401, not locked': () =>
      fresh.status === 401 && errorCode(fresh) === 'invalid_token',
    'teardown: the first attacker IP is still locked, even with the real token': () =>
      first.status === 403 && errorCode(first) === 'locked',
  });
  if (!ok) {
    for (const r of [viaProxy, direct, fresh, first]) console.error(`teardown: ${describe(r)}`);
  }
}
