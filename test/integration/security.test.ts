import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { buildApi } from '../../src/api';
import { createServer } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
import { ApiKeyStore, hashApiKey } from '../../src/stores/api-keys';
import { connectRedis } from '../../src/stores/redis/client';
import { captureLogs } from '../helpers/captured-logs';
import { createHarness, eventually, testConfig, type Harness, type Seeded } from '../helpers/harness';
import { findInPostgres } from '../helpers/postgres-dump';
import { dumpRedis } from '../helpers/redis-dump';
import { listen } from '../helpers/raw-http';
import { sendRaw } from '../helpers/raw-socket';
import { statementLog } from '../helpers/statement-log';

/**
 * The front door's security properties: one account's key never reaches another account's data on
 * any route; keys rest only as hashes; neither keys nor payloads reach the logs; responses name no
 * framework; and checking a key does the same work however much of it matches.
 */
let h: Harness;
const party: Record<'A' | 'B', Seeded & { messageId: string; idempotencyKey: string }> = {} as never;

/** Sends a valid event; with `charged`, waits until the worker has settled it, so the ledger is still. */
async function accept(acct: Seeded, payload: string, options: { idempotencyKey?: string; charged?: boolean } = {}): Promise<string> {
  const req = h.http.post('/api/webhook/').set(acct.auth);
  const res = await (options.idempotencyKey ? req.set('Idempotency-Key', options.idempotencyKey) : req).send({
    employee_id: acct.employeeId,
    event: 'order.completed',
    payload,
  });
  expect(res.status).toBe(202);
  if (options.charged) await eventually('the event charged', async () => h.ledger.chargeFor(acct.accountId, res.body.message_id));
  return res.body.message_id;
}

beforeAll(async () => {
  h = await createHarness();
  for (const name of ['A', 'B'] as const) {
    const acct = await h.seedAccount();
    // Charged, so each account has usage for the billing route to (not) show to the other.
    const messageId = await accept(acct, `An event of ${name}.`, { charged: true });
    party[name] = { ...acct, messageId, idempotencyKey: `order-${randomUUID()}` };
  }
  // B uses an Idempotency-Key first; A then sends the same one.
  await accept(party.B, 'B keyed.', { idempotencyKey: party.B.idempotencyKey, charged: true });
}, 60_000);
afterAll(() => h?.close());

/** What the ledger holds for an account: its counters and every posting, in order. */
const ledgerState = async (accountId: string) => ({ counters: await h.ledger.counters(accountId), postings: await h.ledger.postings(accountId) });

/** A response without what changes on every request, to compare two answers. */
const sameAnswer = (res: Pick<request.Response, 'status' | 'body'>) => ({ status: res.status, body: { ...res.body, request_id: undefined } });

describe.each([
  ['A', 'B'],
  ['B', 'A'],
] as const)("a key of %s against %s's data, on every route", (callerName, victimName) => {
  const caller = () => party[callerName];
  const victim = () => party[victimName];

  it("POST /api/webhook/ naming the other's employee: the 404 of an unknown employee, and nothing reserved on its account", async () => {
    const before = await ledgerState(victim().accountId);
    const unknownId = randomUUID();
    const foreign = await h.http.post('/api/webhook/').set(caller().auth).send({ employee_id: victim().employeeId, payload: 'Not yours.' });
    const unknown = await h.http.post('/api/webhook/').set(caller().auth).send({ employee_id: unknownId, payload: 'Not yours.' });
    // The message repeats the id it was given; apart from that, the two answers are one.
    const masked = (res: Pick<request.Response, 'status' | 'body'>, id: string) => JSON.stringify(sameAnswer(res)).replaceAll(id, '<employee_id>');
    expect(masked(foreign, victim().employeeId)).toBe(masked(unknown, unknownId));
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('EMPLOYEE_NOT_FOUND');
    expect(await ledgerState(victim().accountId)).toEqual(before);
  });

  it("GET /api/webhook/:message_id of the other's event: the 404 of an unknown message", async () => {
    const foreign = await h.http.get(`/api/webhook/${victim().messageId}`).set(caller().auth);
    const unknown = await h.http.get(`/api/webhook/${randomUUID()}`).set(caller().auth);
    expect(sameAnswer(foreign)).toEqual(sameAnswer(unknown));
    expect(foreign.body.error.code).toBe('MESSAGE_NOT_FOUND');
  });

  it("GET /api/billing/usage: only the caller's account, whatever the query names", async () => {
    const query = { group_by: 'message', account_id: victim().accountId, account: victim().accountId, employee_id: victim().employeeId };
    const res = await h.http.get('/api/billing/usage').set(caller().auth).query(query);
    expect(res.status).toBe(200);
    expect(res.body.account_id).toBe(caller().accountId);
    expect(res.body.rows.map((r: { group: string }) => r.group)).toContain(caller().messageId);
    const text = JSON.stringify(res.body);
    for (const secret of [victim().accountId, victim().employeeId, victim().messageId]) expect(text).not.toContain(secret);
  });

  it("POST /api/webhook/ with the other's Idempotency-Key: a new event of the caller's, never the other's as a duplicate", async () => {
    // A's key is B's key on the second pass: send it under the name that has not used it yet.
    const key = callerName === 'A' ? party.B.idempotencyKey : party.A.idempotencyKey;
    const original = callerName === 'A' ? undefined : await accept(party.A, 'A keyed.', { idempotencyKey: key, charged: true });
    const res = await h.http
      .post('/api/webhook/')
      .set(caller().auth)
      .set('Idempotency-Key', key)
      .send({ employee_id: caller().employeeId, payload: 'Same key, other account.' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'accepted', employee_id: caller().employeeId });
    expect(res.body.message_id).not.toBe(original);
    await eventually('the event charged', async () => h.ledger.chargeFor(caller().accountId, res.body.message_id));
  });

  it('GET /metrics: no account, employee, message or key in the exposition', async () => {
    const res = await h.http.get('/metrics');
    expect(res.status).toBe(200);
    for (const secret of [victim().accountId, victim().employeeId, victim().messageId, victim().key, hashApiKey(victim().key)])
      expect(res.text).not.toContain(secret);
  });
});

describe('API keys at rest', () => {
  it('are in PostgreSQL only as their SHA-256 and in Redis not at all, after being created, used, refused, rate-counted and revoked', async () => {
    const acct = await h.seedAccount();
    const spare = await h.keys.createApiKey(acct.accountId, 'spare');
    const messageId = await accept(acct, 'Key at rest.', { idempotencyKey: `rest-${randomUUID()}` });
    expect((await h.http.get(`/api/webhook/${messageId}`).set(acct.auth)).status).toBe(200);
    expect((await h.http.get('/api/billing/usage').set({ Authorization: `Bearer ${spare.key}` })).status).toBe(200);
    await h.http
      .post('/api/webhook/')
      .set({ Authorization: `Bearer ${acct.key}x` })
      .send({});
    await h.keys.revokeApiKey(acct.accountId, spare.info.id);
    // The use of each key is recorded (last_used_at, written off the request's path) before the search.
    await eventually('last_used_at of both keys', async () => {
      const used = await Promise.all([acct.keyId, spare.info.id].map(async (id) => (await h.keys.getApiKey(id))?.lastUsedAt));
      return used.every(Boolean) ? true : undefined;
    });

    const raws = [acct.key, spare.key];
    const secrets = raws.map((raw) => raw.slice('sk-'.length));
    const hashes = raws.map(hashApiKey);
    // Every column of every table, searched for the secrets; the hashes are found where they belong,
    // so the search itself is shown to see the keys' rows.
    const inPostgres = await findInPostgres(h.db, [...secrets, ...hashes]);
    for (const secret of secrets) expect({ secret, columns: inPostgres.get(secret) }).toEqual({ secret, columns: [] });
    for (const hash of hashes) expect({ hash, columns: inPostgres.get(hash) }).toEqual({ hash, columns: ['api_keys.key_hash'] });

    // Redis keeps only rate-limit counters and idempotency windows, by account id: no key material at all.
    const dump = await dumpRedis(h.redis);
    for (const needle of [...secrets, ...hashes]) expect(dump.filter((entry) => entry.includes(needle))).toEqual([]);
    expect(dump.some((entry) => entry.startsWith('sv:rl:') && entry.includes(acct.accountId))).toBe(true);

    // Revoked: the row keeps only the hash and the display prefix, and no process resolves the key any more.
    const { rows } = await h.db.query('SELECT key_hash, prefix, revoked_at FROM api_keys WHERE id = $1', [spare.info.id]);
    expect(rows).toEqual([{ key_hash: hashApiKey(spare.key), prefix: spare.key.slice(0, 7), revoked_at: expect.any(Date) }]);
    expect(await new ApiKeyStore(h.db).resolveKey(spare.key)).toBeUndefined();
  });

  it("never reach Temporal: the event's workflow history holds neither the key nor its hash", async () => {
    const acct = await h.seedAccount();
    const idempotencyKey = `history-${randomUUID()}`;
    const messageId = await accept(acct, 'Key not in history.', { idempotencyKey });
    const history = await h.workflowHandle(acct.accountId, messageId, idempotencyKey).fetchHistory();
    // Payload data comes base64-encoded (or as bytes): decode it, so a key inside a payload would show.
    const decode = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64') : v instanceof Uint8Array ? Buffer.from(v) : undefined)?.toString('utf8');
    const text = JSON.stringify(history, (k, v) => (k === 'data' ? (decode(v) ?? v) : v));
    expect(text).toContain(messageId);
    expect(text).not.toContain(acct.key.slice('sk-'.length));
    expect(text).not.toContain(hashApiKey(acct.key));
  });
});

describe('logs', () => {
  it('carry the payload only when LOG_PAYLOADS asks for it, and the key never', async () => {
    const logs = captureLogs();
    const config = testConfig({ LOG_LEVEL: 'info', LOG_PAYLOADS: 'true' });
    const logger = createLogger(config, 'api', logs.stream);
    const acct = await h.seedAccount();
    const payload = `Debug payload ${randomUUID()}`;
    const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS! });
    try {
      const app = buildApi(config, { db: h.appDb, redis: h.redis, connection }, logger);
      const res = await request(app.callback()).post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload });
      expect(res.status).toBe(202);
      expect(logs.lines.find((l) => l.msg === 'webhook payload')).toMatchObject({ message_id: res.body.message_id, payload });
      expect(logs.text()).not.toContain(acct.key.slice('sk-'.length));
    } finally {
      await connection.close();
    }
  });

  it('never carry the raw key or the payload, on any path, at trace level', async () => {
    const logs = captureLogs();
    const config = testConfig({ LOG_LEVEL: 'trace', BODY_TIMEOUT_MS: '300' });
    const logger = createLogger(config, 'api', logs.stream);
    const acct = await h.seedAccount();
    const secret = acct.key.slice('sk-'.length);
    const payload = `Payload ${randomUUID()} for the eyes of the employee only`;
    const body = (employeeId = acct.employeeId) => JSON.stringify({ employee_id: employeeId, payload });

    const deadConfig = testConfig({ LOG_LEVEL: 'trace', BODY_TIMEOUT_MS: '300', TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_START_TIMEOUT_MS: '500' });
    const live = Connection.lazy({ address: config.TEMPORAL_ADDRESS! });
    const deadTemporal = Connection.lazy({ address: '127.0.0.1:1' });
    const deadRedis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    deadRedis.on('error', () => undefined);
    const servers = await Promise.all([
      listen(createServer(buildApi(config, { db: h.appDb, redis: h.redis, connection: live }, logger), { timeoutMs: 300, logger })),
      listen(createServer(buildApi(deadConfig, { db: h.appDb, redis: h.redis, connection: deadTemporal }, logger), { timeoutMs: 300, logger })),
      listen(createServer(buildApi(config, { db: h.appDb, redis: deadRedis, connection: live }, logger), { timeoutMs: 300, logger })),
    ]);
    const [ok, noTemporal, noRedis] = servers.map((s) => s.port);
    const request = (port: number, head: string, bytes: string | Buffer = '') =>
      sendRaw(port, [Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(bytes)])], { timeoutMs: 8_000 });
    const post = (auth: string, extra = '', text = body(), contentType = 'application/json') =>
      `POST /api/webhook/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n`;
    const statuses: number[] = [];
    const send = async (port: number, head: string, bytes?: string) => statuses.push(...(await request(port, head, bytes)).responses.map((r) => r.status));
    try {
      const bearer = `Bearer ${acct.key}`;
      const idempotency = `Idempotency-Key: log-${randomUUID()}\r\n`;
      await send(ok, post(bearer, idempotency), body()); // 202
      await send(ok, post(bearer, idempotency), body()); // 200 duplicate
      for (const auth of [`Bearer ${acct.key}x`, acct.key, `Basic ${Buffer.from(`u:${acct.key}`).toString('base64')}`]) await send(ok, post(auth), body()); // 401s
      await send(ok, post(bearer, '', body().slice(0, -2)), body().slice(0, -2)); // 400 malformed JSON
      await send(ok, post(bearer, '', body('nope')), body('nope')); // 400 invalid
      await send(ok, post(bearer, '', body(randomUUID())), body(randomUUID())); // 404
      await send(ok, post(bearer, '', body(), 'text/plain'), body()); // 415
      const huge = JSON.stringify({ employee_id: acct.employeeId, payload: `${payload} `.repeat(2_000) });
      await send(ok, post(bearer, '', huge), huge); // 413
      await send(ok, post(bearer).replace(/Content-Length: \d+/, 'Content-Length: 500'), body()); // 408: the body stalls
      await send(ok, `${post(bearer)}`.replace('Authorization', 'X-Bad\u0000: 1\r\nAuthorization'), body()); // 400 from the HTTP parser
      await send(ok, `GET /api/webhook/${randomUUID()} HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\n\r\n`); // 404
      await send(ok, `GET /api/billing/usage HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer}\r\n\r\n`); // 200
      await send(noTemporal, post(bearer), body()); // 502, logged as an error
      await send(noRedis, post(bearer), body()); // 502, logged as an error
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all([live.close(), deadTemporal.close().catch(() => undefined)]);
      deadRedis.disconnect();
    }

    expect(statuses).toEqual([202, 200, 401, 401, 401, 400, 400, 404, 415, 413, 408, 400, 404, 200, 502, 502]);
    // The logs did see all of it: one access line per request the app handled, the 5xx logged with its cause.
    expect(logs.lines.filter((l) => l.msg === 'request').length).toBe(15);
    expect(logs.lines.filter((l) => l.msg === 'request failed').length).toBe(2);
    expect(logs.lines.some((l) => l.msg === 'request refused by the HTTP parser')).toBe(true);
    const text = logs.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain(payload);
    expect(text).not.toContain(payload.split(' ')[1]); // the UUID inside it, alone
  }, 60_000);
});

describe('framework banners', () => {
  it('no response names its server or framework, from the app or from the HTTP layer', async () => {
    const acct = await h.seedAccount();
    const server = await listen(createServer(h.app, { timeoutMs: 1_000, logger: createLogger(h.config, 'api') }));
    const requests = [
      `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n`,
      `DELETE /api/webhook/ HTTP/1.1\r\nHost: x\r\n\r\n`,
      `POST /api/webhook/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
      `POST /api/webhook/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${acct.key}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
      `GET /api/billing/usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${acct.key}\r\n\r\n`,
      `BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(20_000)}\r\n\r\n`,
    ];
    try {
      const exchanges = await Promise.all(requests.map((r) => sendRaw(server.port, [Buffer.from(r, 'latin1')])));
      const responses = exchanges.flatMap((e) => e.responses);
      expect(responses.map((r) => r.status)).toEqual([200, 200, 404, 405, 401, 400, 200, 400, 431]);
      for (const { headers } of responses) {
        expect(headers['x-powered-by']).toBeUndefined();
        expect(headers.server).toBeUndefined();
        expect(Object.values(headers).join('\n')).not.toMatch(/koa|express|node\.?js/i);
      }
    } finally {
      await server.close();
    }
  });
});

describe('key checks and timing', () => {
  /**
   * Why no stopwatch: a timing test either flakes or is too loose to catch anything. What makes the
   * check constant-time is structural: the presented key is hashed (SHA-256 costs the same for any
   * key of a given length) and looked up by that digest, an exact index lookup in PostgreSQL; the raw
   * key is never compared to anything. So this watches what the API sends its database, in the
   * server's own statement log (its sessions run with log_statement = all), and what it sends Redis
   * (MONITOR): for a key sharing nothing with a real one and for a key sharing all but its last
   * character, the same single statement, the prepared key lookup (it reads the key and its account
   * in one round trip) with the presented key's digest as its only parameter, nothing to Redis, and
   * the raw key nowhere at all.
   */
  it('looks a presented key up by its SHA-256 alone, with the same statement however much of a real key it matches', async () => {
    const acct = await h.seedAccount();
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const nearMiss = acct.key.slice(0, -1) + flip(acct.key.slice(-1));
    const farMiss = `sk-${Array.from(acct.key.slice(3), (c) => (c === 'Q' ? 'R' : 'Q')).join('')}`;
    expect(nearMiss.length).toBe(acct.key.length);
    expect(farMiss.length).toBe(acct.key.length);

    // An API of its own, on a pool whose statements the server logs and on a Redis connection of its own.
    const logged = statementLog(h.db);
    const redis = await connectRedis(h.config.REDIS_URL, { failFast: true });
    const connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
    const api = request(buildApi(h.config, { db: logged.pool, redis, connection }, createLogger(h.config, 'api')).callback());
    // A connection of its own in MONITOR mode: it sees every command any client sends, in the order Redis runs them.
    const monitor = await h.redis.monitor();
    const apiClient = `127.0.0.1:${(redis as unknown as { stream: { localPort: number } }).stream.localPort}`;
    const seen: Array<{ source: string; args: string[] }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ source, args }));
    let log = '';
    const sentFor = async (key: string) => {
      const from = seen.length;
      let status = 0;
      const { statements, log: text } = await logged.during(async () => {
        status = (
          await api
            .post('/api/webhook/')
            .set({ Authorization: `Bearer ${key}` })
            .send({ employee_id: acct.employeeId, payload: 'x' })
        ).status;
      });
      log += text;
      // MONITOR reports asynchronously: a PING on the API's connection marks the end of what it sent.
      const marker = `end-${randomUUID()}`;
      await redis.ping(marker);
      await eventually('the marker in MONITOR', async () => (seen.slice(from).some((c) => c.args.includes(marker)) ? true : undefined), 5_000);
      const commands = seen
        .slice(from)
        .filter((c) => c.source === apiClient && !c.args.includes(marker))
        .map((c) => c.args);
      return { status, statements, commands };
    };
    try {
      const near = await sentFor(nearMiss);
      const far = await sentFor(farMiss);
      expect([near.status, far.status]).toEqual([401, 401]);
      const lookup = (key: string) => [{ name: 'api_keys_resolve', sql: expect.stringContaining('key_hash'), parameters: `$1 = '${hashApiKey(key)}'` }];
      expect(near.statements).toEqual(lookup(nearMiss));
      expect(far.statements).toEqual(lookup(farMiss));
      expect(near.statements[0].sql).toBe(far.statements[0].sql);
      expect([near.commands, far.commands]).toEqual([[], []]);
      const everything = `${log}\n${JSON.stringify(seen)}`;
      for (const key of [acct.key, nearMiss, farMiss]) expect(everything).not.toContain(key.slice(3));
    } finally {
      monitor.disconnect();
      redis.disconnect();
      await connection.close().catch(() => undefined);
      await logged.end();
    }
  });
});
