// injection_flood.js: SQL-injection attempts from many client IPs (through the trusted proxy)
// while a clean client keeps reading, with business text that merely looks like SQL.
//
//   load-tests/run.sh injection_flood.js
//   ATTACK_IPS=100 LEGIT_RATE=400 DURATION=30s load-tests/run.sh injection_flood.js
//
// bench.toml trusts 127.0.0.1 as a proxy, so each request names its client in
// X-Forwarded-For; [checks] lock_secs is the default 24 h.
//
// Scenarios (both run for DURATION, default 20s):
//   attack  ATTACK_IPS/s (default 50) iterations, each a fresh attacker IP (10.x.y.z) holding a
//           valid token that may read, create and update clients and delete leads — so only
//           the checks stand in the way. It sends one payload (PAYLOADS below, from the
//           detector's own list) in one of many places (PLACES): a query value or key (encoded
//           once or twice) on a list, a row or a view, a JSON value, key, nested array or array
//           body on POST / PATCH / PUT, a form body, a DELETE's query, a GraphQL variable or
//           block-string literal. Every payload × place pair comes up (25 × 17 = 425 < 1000
//           IPs). That must be 403 injection_detected; then the same IP is locked: a harmless
//           GET with the same valid token and one more attack must both be 403 locked. No
//           attack request may ever get a 2xx (inj_attack_passed).
//   legit   LEGIT_RATE/s (default 200) reads from LEGIT_IP (default 192.0.2.10) with a
//           read-only token: rows, lists, and filters on text that only looks like SQL
//           (O'Brien, "Union Pacific", "please update the order, then delete the old draft",
//           …): every one 200 — a false alarm would lock the legitimate IP and fail everything
//           after it. Own latency thresholds: LEGIT_P95_MS / LEGIT_P99_MS (default 20 / 50).
// setup() snapshots every client and lead; teardown() reads them again and requires them
// byte-identical (no row created, changed or deleted by an attack: inj_rows_changed == 0),
// and checks that the legitimate client still reads (via the proxy and directly), that an
// unseen IP is not locked, and that the first attacker IP still is.
//
// Environment: ATTACK_IPS, LEGIT_RATE, DURATION, LEGIT_IP, LEGIT_P95_MS / LEGIT_P99_MS,
// ATTACK_P95_MS / ATTACK_P99_MS (per request, default 20 / 50), GRAPHQL_ESCAPES=1 (also put
// payloads in ordinary GraphQL string literals with escaped quotes — a known detection gap,
// see PLACES; fails today).
//
// @token ATTACKER --scope clients:rcu --scope leads:rd
// @token READER --scope *:r

import http from 'k6/http';
import { check, fail } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  arrivalScenario,
  latencyThresholds,
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

const ATTACK_IPS = envInt('ATTACK_IPS', 50);
const LEGIT_RATE = envInt('LEGIT_RATE', 200);
const DURATION = envDuration('DURATION', '20s');
const LEGIT_IP = __ENV.LEGIT_IP || '192.0.2.10';
const MAX_DROPPED = Math.floor((ATTACK_IPS + LEGIT_RATE) * DURATION.secs * 0.001);
const EXPECTED_IPS = Math.floor(ATTACK_IPS * DURATION.secs);

// Attack shapes the detector is documented to catch (see src/checks/injection).
const PAYLOADS = [
  "' OR '1'='1",
  "' or 1=1--",
  '1 OR 1=1',
  "admin'--",
  "') or ('a'='a",
  '" or ""="',
  '1 UNION SELECT username, password FROM users',
  "' UNION ALL SELECT NULL,NULL--",
  'UN/**/ION SEL/**/ECT 1,2',
  '/*!50000UNION*/ /*!50000SELECT*/ 1',
  '1; DROP TABLE users',
  "x'; INSERT INTO users VALUES ('a')--",
  '1;UPDATE users SET admin=1',
  "'; DELETE FROM clients--",
  "1; EXEC xp_cmdshell('dir')",
  '1 AND SLEEP(5)',
  "1' AND BENCHMARK(5000000,MD5(1))--",
  "'; WAITFOR DELAY '0:0:5'--",
  '1 AND pg_sleep(5)',
  '1 AND extractvalue(1,concat(0x7e,version()))',
  "' AND updatexml(1,concat(0x7e,user()),1)--",
  "' AND 1=CONVERT(int,@@version)--",
  'CHAR(83,69,76,69,67,84)',
  '1 AND 1=2',
  "' ORDER BY 3--",
];

// Values that look a little like SQL but are business text: they must pass.
const BENIGN = [
  "O'Brien",
  "D'Angelo & Sons",
  'Union Pacific',
  'Select Comfort',
  'Drop Zone Ltd',
  'please update the order, then delete the old draft',
  "It's 5 or 6 items, not 7",
  'Great service -- thanks!',
  "Apt #4, O'Neil-Smith",
  'We met; it went well',
  'I need more sleep before the benchmark',
  'Where is my order from last week?',
  'Rock \'n\' roll',
  'Café Union Square',
];

const enc = encodeURIComponent;
const twice = (s) => enc(enc(s));
// A GraphQL block string needs no escaping (no payload contains three double quotes).
const block = (s) => `"""${s}"""`;
// GraphQL string literals with escapes: JSON-style (`\"`), and every quote as \u0027 / \u0022.
const escaped = (s) => JSON.stringify(s);
const unicodeEscaped = (s) => `"${s.replace(/\\/g, '\\\\').replace(/'/g, '\\u0027').replace(/"/g, '\\u0022')}"`;
const createMutation = (literal) => ({
  query: `mutation { create_clients(company: ${literal}, status: "active") { id } }`,
});

// Where a payload goes: [name, (payload, ctx) => [method, path, body, contentType]].
const PLACES = [
  ['query value', (p) => ['GET', `/api/v1/clients?company=${enc(p)}`]],
  ['query value, encoded twice', (p) => ['GET', `/api/v1/clients?status=active&city=${twice(p)}`]],
  ['query key', (p) => ['GET', `/api/v1/clients?${enc(p)}=1`]],
  ['row read with a query', (p, c) => ['GET', `/api/v1/clients/${c.row}?fields=${enc(p)}`]],
  ['view query', (p) => ['GET', `/api/v1/views/active_clients?city=${enc(p)}`]],
  ['JSON value on create', (p) => ['POST', '/api/v1/clients', { company: p, status: 'active' }]],
  ['JSON key on create', (p) => ['POST', '/api/v1/clients', { company: 'Acme Ltd', status: 'active', [p]: 'x' }]],
  [
    'nested JSON on create',
    (p) => ['POST', '/api/v1/clients', { company: 'Acme Ltd', status: 'active', meta: { tags: ['vip', { note: p }] } }],
  ],
  ['JSON array body', (p) => ['POST', '/api/v1/clients', [p]]],
  ['JSON value on PATCH', (p, c) => ['PATCH', `/api/v1/clients/${c.row}`, { city: p }]],
  ['JSON value on PUT', (p, c) => ['PUT', `/api/v1/clients/${c.row}`, { company: p, status: 'active' }]],
  [
    'form body on create',
    (p) => ['POST', '/api/v1/clients', `company=${enc(p)}&status=active`, 'application/x-www-form-urlencoded'],
  ],
  ['DELETE with a query', (p, c) => ['DELETE', `/api/v1/leads/${c.lead}?reason=${enc(p)}`]],
  [
    'GraphQL variable',
    (p) => [
      'POST',
      '/graphql',
      { query: 'mutation M($c: String!) { create_clients(company: $c, status: "active") { id } }', variables: { c: p } },
    ],
  ],
  [
    'GraphQL filter variable',
    (p) => ['POST', '/graphql', { query: 'query Q($c: String) { clients(company: $c) { id } }', variables: { c: p } }],
  ],
  ['GraphQL literal (block string)', (p) => ['POST', '/graphql', createMutation(block(p))]],
  ['GraphQL filter literal (block string)', (p) => ['POST', '/graphql', { query: `{ clients(company: ${block(p)}) { id } }` }]],
];
// Opt-in (GRAPHQL_ESCAPES=1): payloads inside ordinary GraphQL string literals, quotes escaped.
// Known gap: the detector reads the GraphQL query text without undoing GraphQL's string
// escapes (\" and \uXXXX), so payloads whose only SQL is the quote break — `' OR '1'='1`,
// `admin'--`, `') or ('a'='a` with \u0027, `" or ""="` with \" or \u0022 — get through
// (200, a row created) although the same values are refused in a variable or a REST body;
// these places fail until that is fixed.
if (__ENV.GRAPHQL_ESCAPES === '1') {
  PLACES.push(['GraphQL literal (\\" escapes)', (p) => ['POST', '/graphql', createMutation(escaped(p))]]);
  PLACES.push(['GraphQL literal (\\u escapes)', (p) => ['POST', '/graphql', createMutation(unicodeEscaped(p))]]);
}

export const options = {
  scenarios: {
    attack: arrivalScenario('attack', ATTACK_IPS, DURATION.text, 20, 200),
    legit: arrivalScenario('legit', LEGIT_RATE, DURATION.text, 20, 200),
  },
  setupTimeout: '60s',
  teardownTimeout: '60s',
  thresholds: {
    // The clean client does not notice the flood, and is never mistaken for an attacker.
    'http_req_duration{scenario:legit}': latencyThresholds('LEGIT', 20, 50),
    inj_legit_ok: ['count>0'],
    inj_legit_refused: ['count==0'],
    // Refusing an attack stays cheap.
    'http_req_duration{scenario:attack}': latencyThresholds('ATTACK', 20, 50),
    // Every attack detected, every attacker IP locked at once, nothing ever let through.
    inj_detected: [`count>=${Math.floor(EXPECTED_IPS * 0.99)}`],
    inj_refused_locked: [`count>=${2 * Math.floor(EXPECTED_IPS * 0.99)}`],
    inj_ips_locked: [`count>=${Math.floor(EXPECTED_IPS * 0.99)}`],
    inj_ips_wrong: ['count==0'],
    inj_attack_passed: ['count==0'],
    inj_rows_changed: ['count==0'],
    http_req_failed: ['rate==0'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
  },
};

const BASE = baseUrl();
const legitOk = new Counter('inj_legit_ok');
const legitRefused = new Counter('inj_legit_refused');
const detected = new Counter('inj_detected');
const refusedLocked = new Counter('inj_refused_locked');
const ipsLocked = new Counter('inj_ips_locked');
const ipsWrong = new Counter('inj_ips_wrong');
const attackPassed = new Counter('inj_attack_passed');
const rowsChanged = new Counter('inj_rows_changed');
const log = limitedLogger(5);

function request(method, path, body, contentType, o) {
  const headers = { Authorization: `Bearer ${token(o.token)}` };
  if (o.ip) headers['X-Forwarded-For'] = o.ip;
  let payload = null;
  if (body !== undefined && body !== null) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['Content-Type'] = contentType || 'application/json';
  }
  return http.request(method, BASE + path, payload, expecting(o.status, o.name, headers));
}

// Every client and lead, as the reader sees them (the tables the attacker may write).
function snapshot(name) {
  const out = {};
  for (const table of ['clients', 'leads']) {
    const r = request('GET', `/api/v1/${table}?limit=500`, null, null, { token: 'READER', ip: LEGIT_IP, name, status: 200 });
    if (r.status !== 200) fail(`${name}: cannot read ${table}: ${describe(r)}`);
    out[table] = r.body;
  }
  return out;
}

export function setup() {
  for (const m of [legitOk, legitRefused, detected, refusedLocked, ipsLocked, ipsWrong, attackPassed, rowsChanged]) {
    m.add(0);
  }
  const r = request('GET', '/api/v1/clients/1', null, null, { token: 'ATTACKER', ip: '198.51.100.1', name: 'setup', status: 200 });
  if (r.status !== 200) fail(`ATTACKER token check failed: ${describe(r)}`);
  return snapshot('setup snapshot');
}

export function attack() {
  const n = exec.scenario.iterationInTest;
  const ip = attackerIp(n);
  const payload = PAYLOADS[n % PAYLOADS.length];
  const [place, build] = PLACES[Math.floor(n / PAYLOADS.length) % PLACES.length];
  const ctx = { row: randInt(1, 60), lead: randInt(1, 90) };
  const [method, path, body, contentType] = build(payload, ctx);
  const o = { token: 'ATTACKER', ip };
  let exact = true;
  const passed = (r) => {
    if (r.status >= 200 && r.status < 300) {
      attackPassed.add(1);
      log(`ATTACK PASSED (${place}): ${payload}\n  ${describe(r)}`);
    }
  };

  // 1. The attack: detected and refused.
  let r = request(method, path, body, contentType, Object.assign({ name: `attack: ${place}`, status: 403 }, o));
  passed(r);
  if (r.status === 403 && errorCode(r) === 'injection_detected') detected.add(1);
  if (
    !verify(r, {
      'attack: 403 injection_detected': (x) => x.status === 403 && errorCode(x) === 'injection_detected',
      'attack: security headers': hasSecurityHeaders,
    })
  ) {
    exact = false;
    log(`attack from ${ip} (${place}, ${JSON.stringify(payload)}): ${describe(r)}`);
  }

  // 2. The same IP, now harmless and with the valid token: locked.
  r = request('GET', `/api/v1/clients/${ctx.row}`, null, null, Object.assign({ name: 'locked IP: harmless read', status: 403 }, o));
  passed(r);
  // 3. And attacking again: locked (the lock check runs before the injection scan).
  const again = request(method, path, body, contentType, Object.assign({ name: 'locked IP: attack again', status: 403 }, o));
  passed(again);
  for (const [what, x] of [['harmless read', r], ['attack again', again]]) {
    if (x.status === 403 && errorCode(x) === 'locked') refusedLocked.add(1);
    if (
      !verify(x, {
        'locked IP: 403 locked': (y) => y.status === 403 && errorCode(y) === 'locked',
        'locked IP: security headers': hasSecurityHeaders,
      })
    ) {
      exact = false;
      log(`attacker ${ip} after its attack (${what}): ${describe(x)}`);
    }
  }
  if (exact) ipsLocked.add(1);
  else ipsWrong.add(1);
}

export function legit() {
  const p = Math.random();
  let r;
  let ok;
  const o = { token: 'READER', ip: LEGIT_IP, status: 200 };
  if (p < 0.5) {
    const id = randInt(1, 60);
    r = request('GET', `/api/v1/clients/${id}`, null, null, Object.assign({ name: 'legit: GET /api/v1/clients/{id}' }, o));
    ok = (b) => b.data.id === id;
  } else if (p < 0.7) {
    const client = randInt(1, 60);
    r = request('GET', `/api/v1/invoices?client_id=${client}`, null, null, Object.assign({ name: 'legit: GET /api/v1/invoices?client_id=' }, o));
    ok = (b) => b.data.every((row) => row.client_id === client);
  } else {
    // A filter on text that only looks like SQL: answered (no row matches), never refused.
    const value = BENIGN[randInt(0, BENIGN.length - 1)];
    const column = ['company', 'city'][randInt(0, 1)];
    r = request('GET', `/api/v1/clients?${column}=${enc(value)}`, null, null, Object.assign({ name: 'legit: GET /api/v1/clients?{col}={text}' }, o));
    ok = (b) => Array.isArray(b.data) && Number.isInteger(b.total);
  }
  const good = verify(r, {
    'legit: 200': (x) => x.status === 200,
    'legit: body as expected': (x) => ok(json(x)),
  });
  if (r.status === 200) legitOk.add(1);
  else legitRefused.add(1);
  if (!good) log(`legit: ${describe(r)}`);
}

export function teardown(before) {
  const after = snapshot('teardown snapshot');
  for (const table of ['clients', 'leads']) {
    const same = before[table] === after[table];
    check(null, { [`teardown: ${table} unchanged (no row created, changed or deleted)`]: () => same });
    if (!same) {
      const total = (text) => {
        try {
          return JSON.parse(text).total;
        } catch (e) {
          return undefined;
        }
      };
      rowsChanged.add(Math.max(1, Math.abs(total(after[table]) - total(before[table])) || 0));
      console.error(`${table} changed during the flood: total ${total(before[table])} before, ${total(after[table])} after`);
    }
  }
  const o = (ip, status) => ({ token: 'READER', ip, name: 'teardown', status });
  const viaProxy = request('GET', '/api/v1/clients/2', null, null, o(LEGIT_IP, 200));
  const direct = request('GET', '/api/v1/clients/3', null, null, o(undefined, 200));
  const unseen = request('GET', "/api/v1/clients?company=O'Brien", null, null, o('198.51.100.77', 200));
  const first = request('GET', '/api/v1/clients/1', null, null, o(attackerIp(0), 403));
  const ok = check(null, {
    'teardown: the legitimate client still reads (via the proxy)': () => viaProxy.status === 200,
    'teardown: the legitimate client still reads (direct, no X-Forwarded-For)': () => direct.status === 200,
    'teardown: an unseen IP is not locked': () => unseen.status === 200,
    'teardown: the first attacker IP is still locked': () => first.status === 403 && errorCode(first) === 'locked',
  });
  if (!ok) {
    for (const r of [viaProxy, direct, unseen, first]) console.error(`teardown: ${describe(r)}`);
  }
}
