import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Client } from 'pg';
import { Connection } from '@temporalio/client';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { createServer } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
import { createPool } from '../../src/stores/postgres/pool';
import { captureLogs } from '../helpers/captured-logs';
import { expectError } from '../helpers/error-body';
import { createHarness, eventually, testConfig, type Harness } from '../helpers/harness';
import { listen } from '../helpers/raw-http';

/**
 * The in-flight cap: one API process handles at most MAX_IN_FLIGHT_REQUESTS at once and answers the
 * rest at once with 503 OVERLOADED and Retry-After, instead of holding them (and their memory) while
 * a dependency or a slow client keeps the first ones waiting.
 */
let h: Harness;
let connection: Connection;

beforeAll(async () => {
  h = await createHarness();
  connection = Connection.lazy({ address: h.config.TEMPORAL_ADDRESS! });
});
afterAll(async () => {
  await connection?.close();
  await h?.close();
});

/** A webhook request whose body stops half-way: it stays in flight until the socket goes. */
function stalledRequest(port: number, key: string): http.ClientRequest {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/webhook/',
    agent: false,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': '100' },
  });
  req.on('error', () => undefined); // destroyed on purpose
  req.write('{"employee_id": "');
  return req;
}

describe('the in-flight cap', () => {
  it('sheds requests past the cap with 503 OVERLOADED and Retry-After: 1, keeps probes answering, and admits again once requests finish', async () => {
    const acct = await h.seedAccount();
    const config = testConfig({ MAX_IN_FLIGHT_REQUESTS: '2', BODY_TIMEOUT_MS: '30000' });
    const logger = createLogger(config, 'api');
    const app = buildApi(config, { db: h.db, redis: h.redis, connection }, logger);
    const server = await listen(createServer(app, { timeoutMs: 30_000, logger }));
    const http2 = request(`http://127.0.0.1:${server.port}`);
    const stalled: http.ClientRequest[] = [];
    try {
      // Two requests reach the body parser and wait there for the rest of their bodies.
      stalled.push(stalledRequest(server.port, acct.key), stalledRequest(server.port, acct.key));
      const shed = await eventually('the third request shed', async () => {
        const res = await http2.get('/api/billing/usage').set(acct.auth);
        return res.status === 503 ? res : undefined;
      });
      expectError(shed, 503, 'OVERLOADED');
      expect(shed.headers['retry-after']).toBe('1');
      for (const probe of ['/healthz', '/metrics']) expect((await http2.get(probe)).status).toBe(200);

      for (const req of stalled) req.destroy();
      await eventually('admitted again', async () => ((await http2.get('/api/billing/usage').set(acct.auth)).status === 200 ? true : undefined));
    } finally {
      for (const req of stalled) req.destroy();
      await server.close();
    }
  });

  it('is 1,000 requests per process unless configured', () => {
    expect(testConfig().MAX_IN_FLIGHT_REQUESTS).toBe(1_000);
  });
});

describe('a client that hangs up while its request waits', () => {
  it('costs no reservation and no workflow start: the request ends as 499 with nothing recorded', async () => {
    const acct = await h.seedAccount();
    const logs = captureLogs();
    const config = testConfig({ LOG_LEVEL: 'info' });
    const logger = createLogger(config, 'api', logs.stream);
    // A fresh app: its key cache is cold, so the request waits on the key lookup below. Its pool has a
    // name of its own, so the wait is told apart from any other backend queued on the same lock (other
    // suites run beside this one), and no deadline of its own: the lookup waits as long as the lock is
    // held, never ending on a statement timeout or pool wait before the hang-up is seen.
    const appName = `overload-hang-up-${randomUUID()}`;
    const db = createPool(process.env.TEST_DATABASE_URL!, { name: appName, statementTimeoutMs: 120_000, connectionTimeoutMs: 120_000 });
    const httpServer = createServer(buildApi(config, { db, redis: h.redis, connection }, logger), { timeoutMs: 10_000, logger });
    const server = await listen(httpServer);
    const locker = new Client({ connectionString: process.env.TEST_DATABASE_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      const { rows: lockerRows } = await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const body = JSON.stringify({ employee_id: acct.employeeId, event: 'gone', payload: 'nobody waits for this' });
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        `POST /api/webhook/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${acct.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      // The whole request arrived and waits on the locked key lookup; then the client gives up. Asked
      // on another connection than the locker's: a transaction sees pg_stat_activity as it was at its
      // first look, so polling inside the locker's would never see a wait that began after that.
      await eventually('the key lookup waiting on the lock', async () => {
        const { rows } = await h.db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid))`, [
          appName,
          lockerRows[0].pid,
        ]);
        return rows.length > 0 ? true : undefined;
      });
      socket.destroy();
      await eventually('the server to see the hang-up', async () => {
        const open = await new Promise<number>((resolve, reject) => httpServer.getConnections((err, count) => (err ? reject(err) : resolve(count))));
        return open === 0 ? true : undefined;
      });
      await locker.query('COMMIT');
      const line = await eventually('the access log line', async () => logs.lines.find((l) => l.msg === 'request' && l.path === '/api/webhook/'));
      expect(line.status).toBe(499);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await server.close();
      await db.end();
    }
    const recorded = await h.db.query('SELECT id FROM messages WHERE account_id = $1', [acct.accountId]);
    expect(recorded.rows).toEqual([]);
    expect((await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'reserve')).toEqual([]);
  });
});
