import { randomUUID } from 'node:crypto';
import { freePort } from '../../src/dev/services';
import { useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, reportDrill } from '../helpers/ledger-checks';
import { startService } from '../helpers/processes';

const stack = useDrillStack('two-apis', { worker: true, credits: 1_000 });

describe('drill: 200 concurrent requests with one Idempotency-Key across two API processes', () => {
  it('accepts exactly one; the other 199 are duplicates of it', async () => {
    const { h, acct, taskQueue: TASK_QUEUE } = stack;
    const ports = [await freePort(), await freePort()];
    const apis = ports.map((port) => startService('src/api.ts', { PORT: String(port), HOST: '127.0.0.1', TEMPORAL_TASK_QUEUE: TASK_QUEUE }));
    for (const port of ports) {
      await eventually(`API on ${port}`, async () => ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok ? true : undefined), 30_000);
    }
    const key = `drill-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`http://127.0.0.1:${ports[i % 2]}/api/webhook/`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${acct.key}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
          body: JSON.stringify({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #1 paid.' }),
        });
        return { status: res.status, body: (await res.json()) as { message_id: string; status: string } };
      }),
    );
    const accepted = answers.filter((a) => a.status === 202);
    const duplicates = answers.filter((a) => a.status === 200 && a.body.status === 'duplicate');
    reportDrill('two APIs, one key', { sent: 200, accepted: accepted.length, duplicates: duplicates.length, other: 200 - accepted.length - duplicates.length });
    expect(accepted).toHaveLength(1);
    expect(duplicates).toHaveLength(199);
    expect(new Set(duplicates.map((d) => d.body.message_id))).toEqual(new Set([accepted[0].body.message_id]));

    const messageId = accepted[0].body.message_id;
    await eventually('charged', async () => ((await debitedMessageIds(h.ledger, acct.accountId)).length ? true : undefined));
    expect(await debitedMessageIds(h.ledger, acct.accountId)).toEqual([messageId]);
    await Promise.all(apis.map((a) => a.stop()));
  }, 120_000);
});
