import { randomUUID } from 'node:crypto';
import { secretKeys } from '../../src/secrets/secret-box';
import { EndpointStore } from '../../src/stores/endpoints';
import type { WebhookEventResult } from '../../workflows/contract';
import { expectSettledExactly, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, reportDrill } from '../helpers/ledger-checks';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const stack = useDrillStack('receiver-outage', { fakeModel: true, worker: true });
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.stop();
});

/** How long the receiver stays down: connections to its port are refused meanwhile. */
const OUTAGE_MS = 60_000;

describe('drill: webhook receiver down for a minute, then back', () => {
  it('keeps retrying the delivery with backoff, delivers it once the receiver is back, and charges the event once', async () => {
    const { h, acct, fake } = stack;
    await h.employees.setTools(acct.employeeId, { enable: ['send_webhook'] });
    const path = `/hooks/${randomUUID()}`;
    const { secret } = await new EndpointStore(h.appDb, secretKeys(h.config)).add({
      employeeId: acct.employeeId,
      name: 'crm',
      url: `${receiver.origin}${path}`,
      allowPrivate: true,
    });
    receiver.addSecret(path, secret);
    fake.enqueue(
      { kind: 'tools', calls: [{ id: 'call_crm', name: 'send_webhook', arguments: { endpoint: 'crm', body: { order: 42 } } }] },
      { kind: 'ok', reply: 'Order 42 is in the CRM.' },
    );

    await receiver.stop();
    const downAt = Date.now();
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #42' });
    expect(res.status).toBe(202);
    const messageId = (res.body as { message_id: string }).message_id;
    const handle = h.workflowHandle(acct.accountId, messageId);

    // While it is down: the delivery's attempts fail and back off; the event waits, its credits held, nothing charged.
    const pendingAttempt = async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      return pending.find((a) => a.activityType?.name === 'sendWebhook')?.attempt ?? 0;
    };
    await eventually('the delivery to fail a few times', async () => ((await pendingAttempt()) >= 4 ? true : undefined), OUTAGE_MS);
    const during = await h.http.get(`/api/webhook/${messageId}`).set(acct.auth);
    expect(during.body as object).toMatchObject({ status: 'processing', credits: null });
    const waiting = await ledgerState(h, acct.accountId);
    expect(waiting.charged).toEqual([]);
    expect(waiting.openReservations).toEqual([messageId]);
    expect(fake.requests).toHaveLength(1);

    await new Promise((r) => setTimeout(r, Math.max(0, downAt + OUTAGE_MS - Date.now())));
    const attemptsWhileDown = await pendingAttempt();
    await receiver.start();
    const backAt = Date.now();

    const result = (await handle.result()) as WebhookEventResult;
    const deliveredAfterMs = receiver.deliveries[0] ? receiver.deliveries[0].at - backAt : -1;
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('receiver outage', {
      outage_s: Math.round((backAt - downAt) / 1000),
      attempts_while_down: attemptsWhileDown,
      deliveries: receiver.deliveries.length,
      distinct_webhook_ids: receiver.attemptsById().size,
      verified: receiver.deliveries.filter((d) => d.verified).length,
      delivered_s_after_back: Math.round(deliveredAfterMs / 1000),
      charged: debited.length,
    });

    expect(result.status).toBe('completed');
    expect(attemptsWhileDown).toBeGreaterThanOrEqual(5);
    // Delivered once, verified, after the receiver came back; nothing reached it while it was down.
    expect(receiver.deliveries).toHaveLength(1);
    expect(receiver.deliveries[0]).toMatchObject({ path, verified: true, status: 200, handled: true, body: { order: 42 } });
    expect(receiver.deliveries[0].at).toBeGreaterThanOrEqual(backAt);
    // The model asked once per turn and saw the delivery succeed.
    expect(fake.requests).toHaveLength(2);
    const tool = fake.requests[1].body.messages.find((m) => m.role === 'tool');
    expect(JSON.parse(tool!.content!)).toEqual({ endpoint: 'crm', status: 200, answer: '{"ok":true}' });
    const status = await h.http.get(`/api/webhook/${messageId}`).set(acct.auth);
    const steps = (status.body as { steps: Array<{ kind: string; name: string; status: string }> }).steps;
    expect(steps.map((s) => `${s.kind}:${s.name}:${s.status}`)).toEqual(['model:turn 1:completed', 'tool:send_webhook:completed', 'model:turn 2:completed']);
    // Charged once, the reservation released, the ledger clean.
    expectSettledExactly(await ledgerState(h, acct.accountId), [messageId]);
    expect(await h.ledger.chargeFor(acct.accountId, messageId)).toMatchObject({ modelTurns: 2, toolCalls: 1 });
  }, 180_000);
});
