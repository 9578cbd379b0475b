import http from 'node:http';
import { Connection } from '@temporalio/client';
import request from 'supertest';
import { buildApi } from '../../src/api';
import { createServer } from '../../src/http/server';
import { createLogger } from '../../src/observability/logger';
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
