import { expectError } from '../helpers/error-body';
import { createHarness, type Harness } from '../helpers/harness';

/** GET /api/billing/usage?group_by=message has a row per event, so its period is bounded: 31 days. */
let h: Harness;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h?.close());

const DAY = 24 * 3600 * 1000;

describe('GET /api/billing/usage by message', () => {
  it('refuses a period over 31 days with a 400 that says the bound', async () => {
    const acct = await h.seedAccount();
    const to = new Date('2026-03-01T00:00:00Z');
    const from = new Date(to.getTime() - 31 * DAY - 1000);
    const res = await h.http.get('/api/billing/usage').set(acct.auth).query({ from: from.toISOString(), to: to.toISOString(), group_by: 'message' });
    expectError(res, 400, 'INVALID_REQUEST', 'from');
    expect(res.body.error.message).toContain('31 days');
  });

  it('answers a period of 31 days by message, and any period grouped otherwise', async () => {
    const acct = await h.seedAccount();
    const to = new Date('2026-03-01T00:00:00Z');
    const ask = (days: number, groupBy: string) =>
      h.http
        .get('/api/billing/usage')
        .set(acct.auth)
        .query({ from: new Date(to.getTime() - days * DAY).toISOString(), to: to.toISOString(), group_by: groupBy });
    expect((await ask(31, 'message')).status).toBe(200);
    expect((await ask(30, 'message')).status).toBe(200);
    for (const groupBy of ['day', 'employee', 'event']) expect([groupBy, (await ask(365, groupBy)).status]).toEqual([groupBy, 200]);
  });

  it('keeps the default period (30 days) valid by message', async () => {
    const acct = await h.seedAccount();
    expect((await h.http.get('/api/billing/usage').set(acct.auth).query({ group_by: 'message' })).status).toBe(200);
  });
});
