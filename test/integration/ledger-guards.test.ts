import { randomUUID } from 'node:crypto';
import { TopUpReferenceConflictError } from '../../src/stores/ledger';
import { createHarness, type Harness } from '../helpers/harness';
import { verifyLedger } from '../helpers/ledger-checks';
import { runCli } from '../helpers/run-cli';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({}, { worker: false });
});
afterAll(() => h?.close());

/** Inserts one posting as raw SQL (as a forged or mistaken statement would), bypassing the ledger's own statements. */
function insertPosting(accountId: string, kind: string, credits: number, reserved: number) {
  const messageId = kind === 'topup' ? null : randomUUID();
  return h.db.query('INSERT INTO postings (id, account_id, kind, at, credits, reserved, message_id) VALUES ($1, $2, $3, now(), $4, $5, $6)', [
    randomUUID(),
    accountId,
    kind,
    credits,
    reserved,
    messageId,
  ]);
}

describe('the sign of each posting kind, checked by the database', () => {
  const refused = { code: '23514', constraint: 'postings_sign_by_kind' };

  it.each([
    ['a negative top-up', 'topup', -50, 0],
    ['a top-up of nothing', 'topup', 0, 0],
    ['a top-up that reserves', 'topup', 50, 10],
    ['a charge that adds credits', 'charge', 1_000_000, 0],
    ['a charge that reserves', 'charge', -5, 5],
    ['a reserve that moves the balance', 'reserve', -10, 10],
    ['a reserve that lets go', 'reserve', 0, -10],
    ['a release that holds more', 'release', 0, 10],
    ['a release that moves the balance', 'release', 10, -10],
  ])('refuses %s, and the account keeps its postings', async (_what, kind, credits, reserved) => {
    const acct = await h.seedAccount({ credits: 100 });
    await expect(insertPosting(acct.accountId, kind, credits, reserved)).rejects.toMatchObject(refused);
    expect((await h.ledger.postings(acct.accountId)).map((p) => [p.kind, p.credits])).toEqual([['topup', 100]]);
  });

  it('accepts each kind with its own sign', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    for (const [kind, credits, reserved] of [
      ['topup', 5, 0],
      ['reserve', 0, 10],
      ['charge', -3, 0],
      ['charge', 0, 0],
      ['release', 0, -10],
    ] as const) {
      await expect(insertPosting(acct.accountId, kind, credits, reserved)).resolves.toMatchObject({ rowCount: 1 });
    }
  });
});

describe('a top-up reference reused for another amount', () => {
  it('is refused by the ledger, and nothing is added', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    const reference = `INVOICE-${randomUUID()}`;
    const first = await h.ledger.topUp(acct.accountId, 50, reference);
    const conflict = h.ledger.topUp(acct.accountId, 500, reference);
    await expect(conflict).rejects.toBeInstanceOf(TopUpReferenceConflictError);
    await expect(conflict).rejects.toMatchObject({ reference, amount: 500, existing: { id: first.posting.id, credits: 50 } });
    expect(await h.ledger.balance(acct.accountId)).toBe(50);
    // The same amount again is still a plain duplicate.
    await expect(h.ledger.topUp(acct.accountId, 50, reference)).resolves.toMatchObject({ added: false, balance: 50 });
    expect((await verifyLedger(h.ledger, acct.accountId)).result).toMatchObject({ ok: true, problems: [] });
  });

  it('is refused by `credits add --reference` with REFERENCE_CONFLICT and exit 1, not answered as a duplicate', async () => {
    const acct = await h.seedAccount({ credits: 0 });
    const reference = `INVOICE-${randomUUID()}`;
    const add = (amount: number) => runCli(['credits', 'add', '--account', acct.accountId, '--amount', String(amount), '--reference', reference, '--json']);
    expect(await add(50)).toMatchObject({ code: 0, json: { added: 50, duplicate: false } });
    const conflict = await add(70);
    expect(conflict.code).toBe(1);
    expect(conflict.json).toMatchObject({
      error: { code: 'REFERENCE_CONFLICT', message: expect.stringContaining(`already used on account ${acct.accountId} for 50 credits`) },
    });
    expect(await h.ledger.balance(acct.accountId)).toBe(50);
    expect((await h.ledger.postings(acct.accountId)).map((p) => p.credits)).toEqual([50]);
  }, 60_000);
});
