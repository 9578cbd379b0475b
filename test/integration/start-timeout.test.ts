import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';

let h: Harness;
let acct: Seeded;

beforeAll(async () => {
  // A start deadline so short that many starts reach Temporal but their answer does not reach us in time.
  h = await createHarness({ TEMPORAL_START_TIMEOUT_MS: '3' }, { worker: false });
  acct = await h.seedAccount({ credits: 10_000 });
  await h.accounts.updateAccount(acct.accountId, { rateLimitPerMinute: 100_000 });
});
afterAll(() => h.close());

describe('a workflow start whose answer is lost', () => {
  it('answers 202 when the workflow exists after all, and 502 only when nothing was started', async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        h.http
          .post('/api/webhook/')
          .set(acct.auth)
          .send({ employee_id: acct.employeeId, payload: `lost answer ${i}` }),
      ),
    );
    const accepted = answers.filter((r) => r.status === 202).map((r) => r.body.message_id as string);
    expect(answers.every((r) => r.status === 202 || r.status === 502)).toBe(true);

    // Every workflow of the account belongs to an event the caller was told was accepted, and vice versa.
    const started = await eventually('visibility of the started workflows', async () => {
      const ids: string[] = [];
      for await (const wf of h.client.workflow.list({ query: `AccountId="${acct.accountId}"` })) ids.push(wf.workflowId);
      return ids.length >= accepted.length ? ids : undefined;
    });
    expect(started.sort()).toEqual(accepted.map((id) => `webhook/${acct.accountId}/msg/${id}`).sort());
    // Nothing stays reserved for an event that was refused.
    const reservedFor = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'reserve').length;
    const released = (await h.ledger.postings(acct.accountId)).filter((p) => p.kind === 'release').length;
    expect(reservedFor - released).toBe(accepted.length);
  });
});
