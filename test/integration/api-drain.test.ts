import http from 'node:http';
import { freePort } from '../../src/dev/services';
import { createHarness, eventually, type Harness } from '../helpers/harness';
import { killAllServices, startService } from '../helpers/processes';

/**
 * Graceful shutdown in order: on SIGTERM /readyz fails first while requests are still served (so a
 * load balancer stops sending), then the server stops accepting and drains, and a request still in
 * flight at the drain deadline is cut rather than holding the process.
 */
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await killAllServices();
  await h?.close();
});

it('on SIGTERM answers /readyz 503 (draining) while still serving, then exits 0 at the drain deadline despite a stalled request', async () => {
  const acct = await h.seedAccount();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = startService('src/api.ts', {
    PORT: String(port),
    HOST: '127.0.0.1',
    SHUTDOWN_DELAY_MS: '2000',
    SHUTDOWN_DRAIN_MS: '1000',
    BODY_TIMEOUT_MS: '60000',
  });
  await eventually('API ready', async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok ? true : undefined), 30_000);

  // A request whose body never completes: it would hold the server for BODY_TIMEOUT_MS (a minute).
  const stalled = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/api/webhook/',
    agent: false,
    headers: { Authorization: `Bearer ${acct.key}`, 'Content-Type': 'application/json', 'Content-Length': '100' },
  });
  const cut = new Promise<string>((resolve) => {
    stalled.on('error', (err) => resolve(err.message));
    stalled.on('response', (res) => resolve(`status ${res.statusCode}`));
  });
  stalled.write('{"employee_id": "');

  api.child.kill('SIGTERM');
  const draining = await eventually('readyz draining', async () => {
    const res = await fetch(`${url}/readyz`);
    return res.status === 503 ? ((await res.json()) as { status: string }) : undefined;
  });
  expect(draining).toEqual({ status: 'draining' });
  // Still serving meanwhile: new requests are answered.
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect((await fetch(`${url}/api/billing/usage`, { headers: { Authorization: `Bearer ${acct.key}` } })).status).toBe(200);

  expect(await api.exited).toBe(0);
  expect(await cut).toMatch(/socket hang up|ECONNRESET/);
  expect(api.output.join('')).toContain('requests still in flight at the drain deadline');
}, 60_000);
