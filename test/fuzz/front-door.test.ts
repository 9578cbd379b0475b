import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Connection } from '@temporalio/client';
import fc from 'fast-check';
import pino from 'pino';
import { buildApi } from '../../src/api';
import { createServer } from '../../src/http/server';
import { MAX_BODY_BYTES } from '../../src/http/webhook-request';
import { connectTemporal } from '../../src/temporal/connect';
import { createHarness, eventually, type Harness } from '../helpers/harness';
import { describeHttp, describeRaw, httpRequests, rawRequests, render, type FuzzTarget, type HttpSpec } from '../helpers/bad-requests';
import { sendHttp, sendRaw, type WireResponse } from '../helpers/raw-socket';

/**
 * The front door under generated abuse, over real sockets to the real server (PostgreSQL, Redis and
 * Temporal real too; no worker: nothing here needs an event processed). Seeded: a failure prints its
 * seed and its shrunk counterexample, and FUZZ_SEED=<seed> replays the same run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_250_601);
const TIMEOUT_MS = 500;
/** Requests in flight at once: that many property runs go side by side, each seeded from SEED. */
const LANES = 16;

/** Every status a caller can get, with the codes each may carry (README, "Errors"). */
const DOCUMENTED: Record<number, readonly string[]> = {
  400: ['INVALID_REQUEST', 'MALFORMED_JSON', 'INVALID_IDEMPOTENCY_KEY'],
  401: ['MISSING_API_KEY', 'INVALID_API_KEY'],
  402: ['INSUFFICIENT_CREDITS'],
  403: ['CHANNEL_DISABLED', 'EMAIL_NOT_VERIFIED'],
  404: ['EMPLOYEE_NOT_FOUND', 'MESSAGE_NOT_FOUND', 'BULK_NOT_FOUND', 'NOT_FOUND'],
  405: ['METHOD_NOT_ALLOWED'],
  408: ['REQUEST_TIMEOUT'],
  409: ['EVENT_RUNNING', 'BULK_COUNT_CHANGED'],
  410: ['REPLAY_EXPIRED'],
  413: ['PAYLOAD_TOO_LARGE'],
  415: ['UNSUPPORTED_MEDIA_TYPE'],
  // A key the generator repeats (e.g. "call") with another payload within its window.
  422: ['IDEMPOTENCY_KEY_REUSED'],
  429: ['RATE_LIMITED'],
  431: ['HEADERS_TOO_LARGE'],
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;
let server: http.Server;
let port: number;
let agent: http.Agent;
let target: FuzzTarget;
let connection: Connection;
/** Whatever the app logs as a 5xx ('error' events): there must be none. */
const appErrors: unknown[] = [];
/** Requests handed to the app, and access-log lines it wrote when it was done with one. */
const app = { entered: 0, finished: 0 };
const tally = { requests: 0, statuses: new Map<number, number>() };
const started = Date.now();

beforeAll(async () => {
  h = await createHarness({ BODY_TIMEOUT_MS: String(TIMEOUT_MS), RATE_LIMIT_PER_MINUTE: '1000000' }, { worker: false });
  const main = await h.seedAccount({ credits: 1_000_000 });
  const disabled = await h.seedAccount({ credits: 0, webhookEnabled: false });
  const other = await h.seedAccount({ credits: 0 });
  target = { key: main.key, employeeId: main.employeeId, disabledKey: disabled.key, foreignEmployeeId: other.employeeId };

  // The real app, logging to a counter: every request must reach its access-log line, none may hang.
  const accessLog = new Writable({
    write(line: Buffer, _encoding, done) {
      if (JSON.parse(line.toString()).msg === 'request') app.finished += 1;
      done();
    },
  });
  const logger = pino({ level: 'info' }, accessLog);
  connection = await connectTemporal(h.config);
  const koa = buildApi(h.config, { db: h.appDb, redis: h.redis, connection }, logger);
  koa.on('error', (err) => appErrors.push(err));
  server = createServer(koa, { timeoutMs: TIMEOUT_MS, logger });
  server.on('request', () => (app.entered += 1));
  server.on('checkExpectation', () => (app.entered += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  agent = new http.Agent({ keepAlive: true, maxSockets: LANES });
  console.log(`front-door fuzz: seed ${SEED}, lanes seeded ${SEED}..${SEED + LANES - 1} (replay with FUZZ_SEED=${SEED})`);
});

afterAll(async () => {
  const statuses = [...tally.statuses]
    .sort(([a], [b]) => a - b)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  console.log(`front-door fuzz: seed ${SEED}, ${tally.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${statuses}`);
  agent?.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await connection?.close();
  await h?.close();
});

const inFlight = () => app.entered - app.finished;
/** Requests of the malformed-HTTP property the app never finished (reported, see the known defect). */

/** Every request the app took since `before` has finished (its access-log line is written): none hangs on a client. */
async function expectNoneLeftInFlight(before: number, timeoutMs = 5_000): Promise<void> {
  await eventually(`the app to finish its requests (${inFlight() - before} in flight)`, async () => (inFlight() <= before ? true : undefined), timeoutMs);
}

function count(responses: WireResponse[]): void {
  tally.requests += 1;
  for (const r of responses) tally.statuses.set(r.status, (tally.statuses.get(r.status) ?? 0) + 1);
}

/** Throws unless the response is one the README documents: a known 4xx with the JSON error body, or a real success. */
function expectDocumented(res: WireResponse, sent: { method: string; path?: string }): void {
  // Node's client upper-cases a method it sends, so "post" went out as POST.
  const request = { ...sent, method: sent.method.toUpperCase() };
  const what = `${request.method} ${request.path ?? ''} → ${res.status} ${res.body.toString('utf8').slice(0, 300)}`;
  const fail = (problem: string) => {
    throw new Error(`${problem}: ${what}`);
  };
  if (res.headers['x-powered-by'] !== undefined || res.headers.server !== undefined) fail('framework banner');
  if (res.status === 100) return; // "100 Continue" before the real answer to an Expect header
  if (res.status >= 200 && res.status < 300) return expectRealSuccess(res, request, fail);
  const codes = DOCUMENTED[res.status];
  if (!codes) fail('undocumented status');
  if (!/^application\/json/.test(res.headers['content-type'] ?? '')) fail('error without a JSON content type');
  if (request.method === 'HEAD') return;
  let body: ReturnType<typeof JSON.parse>;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    fail('error body is not JSON');
  }
  const { error, request_id, ...rest } = body ?? {};
  if (Object.keys(rest).length > 0) fail('unexpected top-level fields');
  if (!codes.includes(error?.code)) fail(`code ${error?.code} is not documented for ${res.status}`);
  if (typeof error.message !== 'string' || error.message.length === 0) fail('error without a message');
  if (Object.keys(error).some((k) => !['code', 'message', 'field'].includes(k))) fail('unexpected error fields');
  if (typeof request_id !== 'string' || res.headers['x-request-id'] !== request_id) fail('request_id missing or not echoed in X-Request-Id');
}

/** A 2xx only where the service really succeeds: an accepted or duplicate event, a probe, an OPTIONS, the console's first page. */
function expectRealSuccess(res: WireResponse, request: { method: string; path?: string }, fail: (problem: string) => never): void {
  if (request.method === 'OPTIONS') {
    if (res.status !== 200 || !res.headers.allow) fail('OPTIONS without Allow');
    return;
  }
  if (request.method === 'POST') {
    const body = JSON.parse(res.body.toString('utf8'));
    const expected = res.status === 202 ? 'accepted' : 'duplicate';
    if (![200, 202].includes(res.status) || body.status !== expected || !UUID.test(body.message_id) || body.employee_id !== target.employeeId)
      fail('not an accepted event');
    return;
  }
  // `/` is the console's sign-in page (src/console/), served to anyone.
  if (!['GET', 'HEAD'].includes(request.method) || !/^\/(healthz|metrics|api\/billing\/usage)?(\?|$)/.test(request.path ?? ''))
    fail('success for a request that should fail');
}

/**
 * Checks `requests` generated values over LANES concurrent fast-check runs (fast-check runs one async
 * property at a time), lane i seeded SEED + i. Each lane shrinks its own failure to a single request;
 * every lane finishes before the first failure is reported, so nothing outlives the test.
 */
async function fuzz<T>(arbitrary: fc.Arbitrary<T>, requests: number, check: (value: T) => Promise<void>): Promise<void> {
  const numRuns = Math.ceil(requests / LANES);
  const lanes = await Promise.allSettled(
    Array.from({ length: LANES }, (_, lane) => fc.assert(fc.asyncProperty(arbitrary, check), { seed: SEED + lane, numRuns })),
  );
  const failure = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
  if (failure) throw failure.reason;
}

describe('the front door under generated bad requests', () => {
  it('answers well-formed requests with hostile headers and bodies only with documented statuses', async () => {
    const before = inFlight();
    await fuzz(httpRequests(target), 6_400, async (spec) => {
      const outcome = await sendHttp(port, agent, spec);
      count(outcome.response ? [outcome.response] : []);
      if (!outcome.response) throw new Error(`no response (${outcome.error}) to ${describeHttp(spec)}`);
      expectDocumented(outcome.response, spec);
    });
    expect(appErrors).toEqual([]);
    await expectNoneLeftInFlight(before);
  }, 120_000);

  it('answers malformed HTTP with a documented JSON error, and closes the connections it says it closes', async () => {
    const before = inFlight();
    await fuzz(rawRequests(target), 3_400, async (raw) => {
      const exchange = await sendRaw(port, [raw.bytes], { timeoutMs: 4_000 });
      count(exchange.responses);
      const label = describeRaw(raw);
      if (exchange.responses.length === 0) throw new Error(`no response (${exchange.socketError ?? 'silence'}) to ${label}`);
      if (exchange.trailing.length > 0) throw new Error(`a truncated or unframed response to ${label}: ${exchange.trailing.toString('latin1').slice(0, 200)}`);
      for (const res of exchange.responses) expectDocumented(res, raw);
      const last = exchange.responses[exchange.responses.length - 1];
      if (last.headers.connection === 'close' && !exchange.closedByServer) throw new Error(`said "Connection: close" but kept the connection to ${label}`);
    });
    expect(appErrors).toEqual([]);
    await expectNoneLeftInFlight(before, 4 * TIMEOUT_MS);
  }, 120_000);

  it('accepts every body up to 65,536 bytes and refuses every longer one with 413, declared or chunked', async () => {
    const before = inFlight();
    const sizes = fc.integer({ min: MAX_BODY_BYTES - 6, max: MAX_BODY_BYTES + 6 });
    const units = fc.constantFrom('x', 'é', '€', '😀', '\n', '\u0000');
    const spec = fc.record({ size: sizes, unit: units, chunked: fc.boolean() });
    await fuzz(spec, 320, async ({ size, unit, chunked }) => {
      const body = exactly(size, unit);
      const outcome = await sendHttp(port, agent, {
        method: 'POST',
        path: '/api/webhook/',
        headers: [
          ['Authorization', `Bearer ${target.key}`],
          ['Content-Type', 'application/json'],
        ],
        body,
        chunked,
      });
      count(outcome.response ? [outcome.response] : []);
      const expected = size <= MAX_BODY_BYTES ? 202 : 413;
      if (outcome.response?.status !== expected) {
        throw new Error(
          `${size} bytes of ${JSON.stringify(unit)}${chunked ? ' chunked' : ''}: expected ${expected}, got ${outcome.response?.status ?? outcome.error} ${outcome.response?.body.toString().slice(0, 300)}`,
        );
      }
      expectDocumented(outcome.response, { method: 'POST', path: '/api/webhook/' });
    });
    await expectNoneLeftInFlight(before);
  }, 60_000);

  it('answers stalled and trickling requests with 408 about the timeout later, and closes their connections', async () => {
    const before = inFlight();
    const kinds = fc.constantFrom('stall-body', 'trickle-body', 'stall-chunked', 'stall-headers', 'idle', 'unread-body');
    await fuzz(fc.tuple(kinds, fc.nat()), 64, async ([kind, cut]) => {
      const exchange = await slowRequest(kind, cut);
      count(exchange.responses);
      const [res] = exchange.responses;
      if (!res) throw new Error(`${kind}: no answer within 8× the ${TIMEOUT_MS} ms timeout (${exchange.socketError ?? 'silence'})`);
      expectDocumented(res, { method: kind === 'unread-body' ? 'GET' : 'POST', path: '/healthz' });
      if (kind !== 'unread-body' && res.status !== 408) throw new Error(`${kind}: expected 408, got ${res.status}`);
      if (res.headers.connection !== 'close' || !exchange.closedByServer) throw new Error(`${kind}: the server kept the connection open after answering`);
    });
    expect(appErrors).toEqual([]);
    await expectNoneLeftInFlight(before);
  }, 60_000);
});

/**
 * Compressed bodies and invalid UTF-8, found by the properties above: the route now refuses any
 * Content-Encoding with 415 before reading a byte, and checks the bytes it read are UTF-8.
 */
describe('compressed and mis-encoded bodies', () => {
  const headers = (encoding: string, length: number) =>
    Buffer.from(
      `POST /api/webhook/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${target.key}\r\nContent-Type: application/json\r\nContent-Encoding: ${encoding}\r\nContent-Length: ${length}\r\n\r\n`,
      'latin1',
    );

  it('answers a compressed body that stalls with 415 at once and holds nothing', async () => {
    const before = inFlight();
    const gzipped = gzipSync(JSON.stringify({ employee_id: target.employeeId, payload: 'Stalled, compressed.' }));
    const exchange = await sendRaw(port, [Buffer.concat([headers('gzip', gzipped.length), gzipped.subarray(0, 10)])], { timeoutMs: 8 * TIMEOUT_MS });
    expect(exchange.responses.map((r) => r.status)).toEqual([415]);
    await expectNoneLeftInFlight(before, 2_000);
  });

  it('refuses a body that is not valid UTF-8 as MALFORMED_JSON', async () => {
    const body = Buffer.concat([Buffer.from(`{"employee_id":"${target.employeeId}","payload":"caf`), Buffer.from([0xe9]), Buffer.from('"}')]);
    const exchange = await sendRaw(port, [Buffer.concat([headers('identity', body.length), body])]);
    expect(exchange.responses.map((r) => r.status)).toEqual([400]);
    expect(JSON.parse(exchange.responses[0].body.toString()).error.code).toBe('MALFORMED_JSON');
  });

  it('refuses a cut-off compression bomb with 415, and the process stays up', async () => {
    const bomb = gzipSync(JSON.stringify({ employee_id: target.employeeId, payload: 'z'.repeat(4 * MAX_BODY_BYTES) }));
    const cut = bomb.subarray(0, bomb.length >> 1);
    const exchange = await sendRaw(port, [Buffer.concat([headers('gzip', cut.length), cut])]);
    expect(exchange.responses.map((r) => r.status)).toEqual([415]);
    expect((await sendHttp(port, agent, { method: 'GET', path: '/healthz', headers: [], body: Buffer.alloc(0), chunked: false })).response?.status).toBe(200);
  });
});

/** A client that sends part of a request and then nothing (or a byte at a time, too slowly). */
function slowRequest(kind: string, cut: number) {
  const body = Buffer.from(JSON.stringify({ employee_id: target.employeeId, payload: 'Stalled on the wire.' }));
  const auth: [string, string] = ['Authorization', `Bearer ${target.key}`];
  const spec: HttpSpec = {
    shape: kind,
    method: 'POST',
    path: '/api/webhook/',
    headers: [auth, ['Content-Type', 'application/json']],
    body,
    chunked: kind === 'stall-chunked',
  };
  const { head, body: framed } = render(spec);
  const headBytes = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  const partial = framed.subarray(0, 1 + (cut % (framed.length - 8)));
  const options = { timeoutMs: 8 * TIMEOUT_MS, settleMs: 50 };
  switch (kind) {
    case 'stall-body':
    case 'stall-chunked':
      return sendRaw(port, [Buffer.concat([headBytes, partial])], options);
    case 'trickle-body':
      // One byte every 100 ms: always arriving, never finishing in time.
      return sendRaw(port, [headBytes, ...Array.from(framed, (b) => Buffer.from([b]))], { ...options, chunkDelayMs: 100 });
    case 'stall-headers':
      return sendRaw(port, [headBytes.subarray(0, 1 + (cut % (headBytes.length - 4)))], options);
    case 'idle':
      return sendRaw(port, [], options);
    default: {
      // A route that never reads a body answers at once; the rest of the body must not hold the socket.
      const probe = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1');
      return sendRaw(port, [Buffer.concat([probe, partial])], options);
    }
  }
}

/** A body of exactly `size` bytes: a valid request padded in the payload with `unit`, then spaces. */
function exactly(size: number, unit: string): Buffer {
  const base = Buffer.byteLength(JSON.stringify({ employee_id: target.employeeId, payload: '' }));
  const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
  const json = Buffer.from(JSON.stringify({ employee_id: target.employeeId, payload: `p${unit.repeat(Math.floor((size - base - 1) / unitBytes))}` }));
  const body = Buffer.concat([json, Buffer.alloc(size - json.length, ' ')]);
  expect(body.length).toBe(size);
  return body;
}
