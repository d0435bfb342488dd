// graphql_abuse.js: hostile GraphQL (deep, wide, aliased, batched, introspection, …) refused
// cheaply by the guards while ordinary queries run alongside and keep their latency.
//
//   load-tests/run.sh graphql_abuse.js
//   ABUSE_RATE=600 NORMAL_RATE=100 DURATION=30s load-tests/run.sh graphql_abuse.js
//
// Scenarios:
//   normal  NORMAL_RATE/s (default 50) ordinary queries from LEGIT_IP (default 192.0.2.10)
//           for QUIET + DURATION (default 5s + 20s), some right at the limits (depth 5, 15
//           aliases): every one 200 with the rows asked for and no errors. Its requests are
//           tagged phase:alone for the first QUIET seconds and phase:under_abuse after, and both
//           phases have the same latency thresholds (NORMAL_P95_MS / NORMAL_P99_MS, default
//           30 / 60): the summary shows the two side by side.
//   abuse   from QUIET on, for DURATION: ABUSE_RATE/s (default 300) POST /graphql, each one
//           of the hostile requests in ABUSES below, from a random 203.0.113.x client
//           (X-Forwarded-For): every one must be a 400 in the GraphQL-over-HTTP shape with
//           exactly one error whose
//           extensions.code is the guard's (depth_exceeded, complexity_exceeded,
//           too_many_aliases, too_many_directives, fragment_cycle, too_many_tokens,
//           query_too_large, batching_not_allowed, introspection_disabled), no `data`, and a
//           message that names no type or field. Counted per code in gql_refused{code:…}.
// The token has no --introspection. Refusals must stay cheap: ABUSE_P95_MS / ABUSE_P99_MS
// (default 15 / 40) per request, though some bodies are 16 KiB.
//
// @token GQL --scope *:r

import http from 'k6/http';
import { fail } from 'k6';
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import {
  baseUrl,
  token,
  envInt,
  envDuration,
  arrivalScenario,
  latencyThresholds,
  isJson,
  json,
  hasSecurityHeaders,
  expecting,
  verify,
  randInt,
  limitedLogger,
  describe,
} from './lib.js';

const ABUSE_RATE = envInt('ABUSE_RATE', 300);
const NORMAL_RATE = envInt('NORMAL_RATE', 50);
const DURATION = envDuration('DURATION', '20s');
const QUIET = envDuration('QUIET', '5s');
const LEGIT_IP = __ENV.LEGIT_IP || '192.0.2.10';
const MAX_DROPPED = Math.floor((ABUSE_RATE * DURATION.secs + NORMAL_RATE * (QUIET.secs + DURATION.secs)) * 0.001);

// --- the hostile requests: [name, expected code, body (object, array or raw string)] ---------

const nest = (levels, leaf) => {
  // clients → invoices → client → invoices → …, `levels` field levels in all (leaf included).
  let q = leaf;
  for (let i = levels - 1; i >= 1; i--) {
    const field = i === 1 ? 'clients(limit: 1)' : i % 2 === 0 ? 'invoices(limit: 1)' : 'client';
    q = `${field} { ${q} }`;
  }
  return `{ ${q} }`;
};
const repeat = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join(' ');
// Fragments F1 … Fn, each spreading the next one field level down: fragments add no level of
// their own, so the depth is the fields' (n + 1 here).
const fragmentChain = (n) => {
  const frags = [];
  for (let i = 1; i <= n; i++) {
    const on = i % 2 === 1 ? 'Clients' : 'Invoices';
    const inner = i === n ? 'id' : `...F${i + 1}`;
    const field = i % 2 === 1 ? 'invoices(limit: 1)' : 'client';
    frags.push(`fragment F${i} on ${on} { ${field} { ${inner} } }`);
  }
  return `{ clients(limit: 1) { ...F1 } } ${frags.join(' ')}`;
};
const NORMAL_QUERY = '{ clients(limit: 5) { company invoices(limit: 3) { number total } } }';

const ABUSES = [
  // depth
  ['depth 6', 'depth_exceeded', { query: nest(6, 'id') }],
  ['depth 40', 'depth_exceeded', { query: nest(40, 'id') }],
  ['depth 300', 'depth_exceeded', { query: nest(300, 'id') }],
  ['depth 7 through fragments', 'depth_exceeded', { query: fragmentChain(6) }],
  ['depth 7 through inline fragments', 'depth_exceeded', {
    query: '{ clients(limit: 1) { ... on Clients { invoices(limit: 1) { ... { client { invoices(limit: 1) { client { invoices(limit: 1) { id } } } } } } } } }',
  }],
  [
    'fragment cycle',
    'fragment_cycle',
    { query: '{ clients(limit: 1) { ...A } } fragment A on Clients { invoices(limit: 1) { ...B } } fragment B on Invoices { client { ...A } }' },
  ],
  // width / complexity
  ['wide: 500 × 500 rows', 'complexity_exceeded', { query: '{ clients(limit: 500) { invoices(limit: 500) { total } } }' }],
  ['wide: default pages nested', 'complexity_exceeded', { query: '{ clients { invoices { total } } }' }],
  ['wide: 25 sibling lists', 'complexity_exceeded', { query: `{ ${repeat(25, () => 'clients { id }')} }` }],
  [
    'wide: limit from a variable',
    'complexity_exceeded',
    {
      query: 'query Q($n: Int) { invoice_items(limit: $n) { invoice { client { company } } } }',
      variables: { n: 500 },
    },
  ],
  // aliases, directives
  ['16 aliases', 'too_many_aliases', { query: `{ ${repeat(16, (i) => `a${i}: clients_by_id(id: ${i + 1}) { company }`)} }` }],
  ['300 __typename aliases', 'too_many_aliases', { query: `{ ${repeat(300, (i) => `t${i}: __typename`)} }` }],
  [
    '11 directives',
    'too_many_directives',
    { query: `{ clients(limit: 1) { ${repeat(11, () => 'company @include(if: true)')} } }` },
  ],
  // size
  ['2100 tokens', 'too_many_tokens', { query: `{ clients(limit: 1) { ${repeat(2100, () => 'id')} } }` }],
  ['17 KB query', 'query_too_large', { query: `${NORMAL_QUERY}${' '.repeat(17000)}` }],
  // batching
  ['batch of 2', 'batching_not_allowed', [{ query: NORMAL_QUERY }, { query: NORMAL_QUERY }]],
  ['batch of 100', 'batching_not_allowed', Array.from({ length: 100 }, () => ({ query: NORMAL_QUERY }))],
  ['empty batch', 'batching_not_allowed', []],
  // introspection (the token has no --introspection)
  ['__schema', 'introspection_disabled', { query: '{ __schema { types { name fields { name } } } }' }],
  ['__type', 'introspection_disabled', { query: '{ __type(name: "Clients") { name fields { name type { name } } } }' }],
  [
    '__schema in a fragment',
    'introspection_disabled',
    { query: 'query { ...Meta } fragment Meta on Query { __schema { queryType { name } } }' },
  ],
  [
    '__schema beside a normal field',
    'introspection_disabled',
    { query: '{ clients(limit: 1) { id } __schema { types { name } } }' },
  ],
].map(([name, code, body]) => ({ name, code, body: JSON.stringify(body) }));

// Type and field names the refusals must not mention.
const NAMES = /\b(Clients|Invoices|InvoiceItems|clients|invoices|invoice_items|company|total|__schema|__type)\b/;

// --- the ordinary queries: [name, body, check(data)] ------------------------------------------

const NORMALS = [
  [
    'clients with invoices',
    { query: NORMAL_QUERY },
    (d) =>
      d.clients.length === 5 &&
      d.clients.every((c) => typeof c.company === 'string' && Array.isArray(c.invoices) && c.invoices.length <= 3),
  ],
  ['one invoice and its client', { query: '{ invoices_by_id(id: 7) { total client { company } } }' }, (d) =>
    typeof d.invoices_by_id.total === 'number' && typeof d.invoices_by_id.client.company === 'string'],
  ['a view', { query: '{ overdue_invoices(limit: 10) { number due_date } }' }, (d) =>
    Array.isArray(d.overdue_invoices) && d.overdue_invoices.length > 0],
  [
    'depth 5 (the limit)',
    { query: nest(5, 'number') },
    (d) => d.clients.length === 1 && Array.isArray(d.clients[0].invoices),
  ],
  [
    '15 aliases (the limit)',
    { query: `{ ${repeat(15, (i) => `c${i + 1}: clients_by_id(id: ${i + 1}) { company }`)} }` },
    (d) => Object.keys(d).length === 15 && typeof d.c15.company === 'string',
  ],
  [
    'variables',
    { query: 'query One($id: Int!) { clients_by_id(id: $id) { id company } }', variables: { id: 42 } },
    (d) => d.clients_by_id.id === 42,
  ],
].map(([name, body, ok]) => ({ name, body: JSON.stringify(body), ok }));

export const options = {
  scenarios: {
    abuse: arrivalScenario('abuse', ABUSE_RATE, DURATION.text, 30, 300, { startTime: QUIET.text }),
    normal: arrivalScenario('normal', NORMAL_RATE, `${QUIET.secs + DURATION.secs}s`, 20, 200),
  },
  thresholds: {
    // Ordinary queries keep their latency while the abuse runs (same bounds as alone).
    'http_req_duration{phase:alone}': latencyThresholds('NORMAL', 30, 60),
    'http_req_duration{phase:under_abuse}': latencyThresholds('NORMAL', 30, 60),
    // Refusals are cheap.
    'http_req_duration{scenario:abuse}': latencyThresholds('ABUSE', 15, 40),
    gql_normal_ok: ['count>0'],
    gql_normal_failed: ['count==0'],
    gql_refused: ['count>0'],
    gql_abuse_answered: ['count==0'],
    gql_abuse_wrong: ['count==0'],
    // Every guard refused at least once (each code has its own sub-metric).
    ...Object.fromEntries(
      [...new Set(ABUSES.map((a) => a.code))].map((code) => [`gql_refused{code:${code}}`, ['count>0']]),
    ),
    http_req_failed: ['rate==0'],
    checks: ['rate>=0.999'],
    dropped_iterations: [`count<=${MAX_DROPPED}`],
  },
};

const BASE = baseUrl();
const normalOk = new Counter('gql_normal_ok');
const normalFailed = new Counter('gql_normal_failed');
const refused = new Counter('gql_refused');
const answered = new Counter('gql_abuse_answered');
const wrong = new Counter('gql_abuse_wrong');
const log = limitedLogger(5);

function post(body, name, status, ip, extraTags) {
  const headers = { Authorization: `Bearer ${token('GQL')}`, 'Content-Type': 'application/json', 'X-Forwarded-For': ip };
  return http.post(`${BASE}/graphql`, body, expecting(status, name, headers, extraTags));
}

export function setup() {
  for (const m of [normalOk, normalFailed, refused, answered, wrong]) m.add(0);
  for (const n of NORMALS) {
    const r = post(n.body, `setup: ${n.name}`, 200, LEGIT_IP);
    const b = json(r);
    if (r.status !== 200 || !b || b.errors || !n.ok(b.data)) fail(`normal query "${n.name}" does not work: ${describe(r)}`);
  }
}

export function abuse() {
  const a = ABUSES[randInt(0, ABUSES.length - 1)];
  const r = post(a.body, `abuse: ${a.name}`, 400, `203.0.113.${randInt(1, 254)}`);
  const body = json(r);
  const code = body && Array.isArray(body.errors) && body.errors[0] && body.errors[0].extensions
    ? body.errors[0].extensions.code
    : undefined;
  if (r.status >= 200 && r.status < 300) answered.add(1, { code: a.code });
  const ok = verify(r, {
    'abuse: 400': (x) => x.status === 400,
    'abuse: extensions.code is the guard\'s': () => code === a.code,
    'abuse: exactly one error, no data': () => body.errors.length === 1 && !('data' in body),
    'abuse: the message names no type or field': () =>
      typeof body.errors[0].message === 'string' && !NAMES.test(body.errors[0].message),
    'abuse: JSON and security headers': (x) => isJson(x) && hasSecurityHeaders(x),
  });
  if (ok) {
    refused.add(1, { code: a.code });
  } else {
    wrong.add(1, { code: a.code });
    log(`abuse "${a.name}" (want 400 ${a.code}): ${describe(r)}`);
  }
}

export function normal() {
  const n = NORMALS[randInt(0, NORMALS.length - 1)];
  const phase = Date.now() - exec.scenario.startTime < QUIET.secs * 1000 ? 'alone' : 'under_abuse';
  const r = post(n.body, `normal: ${n.name}`, 200, LEGIT_IP, { phase });
  const ok = verify(r, {
    'normal: 200': (x) => x.status === 200,
    'normal: data as asked, no errors': (x) => {
      const b = json(x);
      return !b.errors && n.ok(b.data);
    },
    'normal: security headers': hasSecurityHeaders,
  });
  if (ok) normalOk.add(1);
  else {
    normalFailed.add(1);
    log(`normal "${n.name}": ${describe(r)}`);
  }
}
