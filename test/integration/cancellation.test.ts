import type { FakeModelServer } from '../helpers/fake-model-server';
import { createHarnessWithFakeModel, eventually, type Harness } from '../helpers/harness';

let h: Harness;
let fake: FakeModelServer;

beforeAll(async () => {
  ({ h, fake } = await createHarnessWithFakeModel());
});
afterAll(() => h?.close());

describe('an event cancelled from the Temporal UI', () => {
  it('gives back the credits reserved for it and charges nothing', async () => {
    const acct = await h.seedAccount({ credits: 100 });
    fake.enqueue({ kind: 'hang' });
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, payload: 'Cancel me.' });
    expect(res.status).toBe(202);
    await fake.waitForRequests(1);
    const handle = h.workflowHandle(acct.accountId, res.body.message_id);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();

    const postings = await eventually('reservation released', async () => {
      const all = await h.ledger.postings(acct.accountId);
      return all.some((p) => p.kind === 'release' && p.messageId === res.body.message_id) ? all : undefined;
    });
    expect(postings.filter((p) => p.messageId === res.body.message_id).map((p) => p.kind)).toEqual(['reserve', 'release']);
    expect(await h.ledger.balance(acct.accountId)).toBe(100);
  });
});
