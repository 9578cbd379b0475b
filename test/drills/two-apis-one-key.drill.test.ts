import { randomUUID } from 'node:crypto';
import { postWebhook } from '../helpers/burst';
import { ledgerState, useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, reportDrill } from '../helpers/ledger-checks';

const stack = useDrillStack('two-apis', { worker: true, credits: 1_000 });

describe('drill: 200 concurrent requests with one Idempotency-Key across two API processes', () => {
  it('accepts exactly one; the other 199 are duplicates of it', async () => {
    const { h, acct } = stack;
    const apis = [await stack.startApi(), await stack.startApi()];
    const key = `drill-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        postWebhook(
          h,
          acct,
          { employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #1 paid.' },
          { to: apis[i % 2].url, idempotencyKey: key },
        ),
      ),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const duplicates = answers.filter((a) => a.status === 200 && a.body.status === 'duplicate');
    const others = answers
      .filter((a) => a.status !== 202 && a.body.status !== 'duplicate')
      .map((a) => `${a.status} ${(a.body as { error?: { code?: string } }).error?.code ?? ''}`);
    reportDrill('two APIs, one key', { sent: 200, accepted: accepted.length, duplicates: duplicates.length, other: others.length });
    expect(others).toEqual([]);
    expect(accepted).toHaveLength(1);
    expect(duplicates).toHaveLength(199);
    expect(new Set(duplicates.map((d) => d.body.message_id))).toEqual(new Set([accepted[0].body.message_id]));

    const messageId = accepted[0].body.message_id!;
    await eventually('charged', async () => ((await debitedMessageIds(h.ledger, acct.accountId)).length ? true : undefined));
    expect(await debitedMessageIds(h.ledger, acct.accountId)).toEqual([messageId]);
    // The duplicates held credits for a moment at most: each gave its reservation back and left no
    // message record, so the account knows one event, charged once, and holds nothing.
    const state = await ledgerState(h, acct.accountId);
    expect(state.messages).toEqual([messageId]);
    expect(state.charged).toEqual([messageId]);
    expect(state.openReservations).toEqual([]);
    expect(state.verify.problems).toEqual([]);
    await Promise.all(apis.map((a) => a.api.stop()));
  }, 120_000);
});
