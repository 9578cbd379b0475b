import { randomUUID } from 'node:crypto';
import { secretKeys } from '../../src/secrets/secret-box';
import { EndpointStore } from '../../src/stores/endpoints';
import type { WebhookEventResult } from '../../workflows/contract';
import { turnOf } from '../helpers/fake-model-server';
import { expectSettledExactly, ledgerState, useDrillStack } from '../helpers/drill-stack';
import { eventually } from '../helpers/harness';
import { debitedMessageIds, reportDrill } from '../helpers/ledger-checks';
import type { ServiceProcess } from '../helpers/processes';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const stack = useDrillStack('agent-worker-kill', { fakeModel: true });
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await receiver?.stop();
});

/**
 * A worker process SIGKILLed twice in one event's agent loop: first while a webhook delivery is in
 * flight (the receiver has it, the worker dies before reading the answer), then between the tool
 * calls and the next model turn (the turn hangs until the worker is dead). Each time a new worker
 * resumes the loop from the history.
 */
describe('drill: worker SIGKILL inside the agent loop', () => {
  it('delivers each webhook-id to the handler once, never gives a call a second id, never asks a finished turn again', async () => {
    const { h, acct, fake } = stack;
    await h.employees.setTools(acct.employeeId, { enable: ['send_webhook'] });
    const store = new EndpointStore(h.appDb, secretKeys(h.config));
    const paths: Record<string, string> = {};
    for (const name of ['crm', 'erp']) {
      paths[name] = `/hooks/${randomUUID()}`;
      const { secret } = await store.add({ employeeId: acct.employeeId, name, url: `${receiver.origin}${paths[name]}`, allowPrivate: true });
      receiver.addSecret(paths[name], secret);
    }
    // erp's first attempt is received (its handler runs) but not answered until long after the kill.
    receiver.scriptPath(paths.erp, { status: 200, body: '{"erp":"ok"}', delayMs: 120_000 });
    let turn2Asked = 0;
    fake.setResponder((req) => {
      if (turnOf(req) === 1) {
        return {
          kind: 'tools',
          calls: [
            { id: 'call_crm', name: 'send_webhook', arguments: { endpoint: 'crm', body: { order: 1 } } },
            { id: 'call_erp', name: 'send_webhook', arguments: { endpoint: 'erp', body: { order: 1 } } },
          ],
        };
      }
      // Turn 2: the first ask hangs until the worker is killed; a resumed loop gets the answer.
      return ++turn2Asked === 1 ? { kind: 'hang' } : { kind: 'ok', reply: 'Both systems have order 1.' };
    });

    const workers: ServiceProcess[] = [await stack.startWorker()];
    const res = await h.http.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #1' });
    expect(res.status).toBe(202);
    const messageId = (res.body as { message_id: string }).message_id;

    // Kill 1: both deliveries reached the receiver, erp's answer is still pending.
    await eventually('both deliveries at the receiver', async () => (new Set(receiver.deliveries.map((d) => d.path)).size === 2 ? true : undefined), 60_000);
    await workers[0].stop('SIGKILL');
    const erpFirst = receiver.deliveries.find((d) => d.path === paths.erp)!;
    expect(erpFirst.answeredAt).toBeUndefined();
    expect(erpFirst.handled).toBe(true);
    workers.push(await stack.startWorker());

    // The erp call times out on the dead worker (start-to-close) and is retried by the new one.
    await eventually('erp delivery retried', async () => (receiver.deliveries.filter((d) => d.path === paths.erp).length >= 2 ? true : undefined), 120_000);
    // Kill 2: the tool calls are done and turn 2 is hanging.
    await eventually('turn 2 asked', async () => (fake.requests.some((r) => turnOf(r) === 2) ? true : undefined), 60_000);
    await workers[1].stop('SIGKILL');
    workers.push(await stack.startWorker());

    const result = (await h.workflowHandle(acct.accountId, messageId).result()) as WebhookEventResult;
    expect(result.status).toBe('completed');

    const attempts = receiver.attemptsById();
    const handled = receiver.handledById();
    const ids = [...attempts.keys()];
    const requestsPerTurn = new Map<number, number>();
    const answeredPerTurn = new Map<number, number>();
    for (const r of fake.requests) {
      requestsPerTurn.set(turnOf(r), (requestsPerTurn.get(turnOf(r)) ?? 0) + 1);
      if (r.abandonedAt === undefined) answeredPerTurn.set(turnOf(r), (answeredPerTurn.get(turnOf(r)) ?? 0) + 1);
    }
    const debited = await debitedMessageIds(h.ledger, acct.accountId);
    reportDrill('agent worker SIGKILL', {
      kills: 2,
      tool_calls: 2,
      deliveries: receiver.deliveries.length,
      distinct_webhook_ids: ids.length,
      handled_after_dedup: [...handled.values()].reduce((a, b) => a + b, 0),
      unverified: receiver.deliveries.filter((d) => !d.verified).length,
      turn1_requests: requestsPerTurn.get(1) ?? 0,
      turn2_requests: requestsPerTurn.get(2) ?? 0,
      turn2_answered: answeredPerTurn.get(2) ?? 0,
      charged: debited.length,
    });

    // One id per tool call, the same on every attempt; each reached the handler exactly once.
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true);
    expect(ids).toHaveLength(2);
    for (const name of ['crm', 'erp']) expect(new Set(receiver.deliveries.filter((d) => d.path === paths[name]).map((d) => d.id)).size).toBe(1);
    expect(attempts.get(erpFirst.id)).toBeGreaterThanOrEqual(2);
    expect([...handled.entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort());
    // Turn 1 finished before the first kill and was never asked again; turn 2 was answered once.
    expect(requestsPerTurn.get(1)).toBe(1);
    expect(answeredPerTurn.get(2)).toBe(1);
    expect(requestsPerTurn.get(2)).toBe(2);
    expect(fake.requests.filter((r) => turnOf(r) === 2)[0].abandonedAt).toBeDefined();
    // The model got both results, erp's from the retried delivery.
    const last = fake.requests[fake.requests.length - 1].body.messages.filter((m) => m.role === 'tool');
    expect(last.map((m) => [m.tool_call_id, (JSON.parse(m.content!) as { status: number }).status])).toEqual([
      ['call_crm', 200],
      ['call_erp', 200],
    ]);
    // Completed and charged once, for both turns and both calls.
    expectSettledExactly(await ledgerState(h, acct.accountId), [messageId]);
    expect(await h.ledger.chargeFor(acct.accountId, messageId)).toMatchObject({ modelTurns: 2, toolCalls: 2 });
    const status = await h.http.get(`/api/webhook/${messageId}`).set(acct.auth);
    const steps = (status.body as { steps: Array<{ kind: string; name: string; status: string }> }).steps;
    expect(steps.map((s) => `${s.kind}:${s.name}:${s.status}`)).toEqual([
      'model:turn 1:completed',
      'tool:send_webhook:completed',
      'tool:send_webhook:completed',
      'model:turn 2:completed',
    ]);
    await workers[2].stop();
  }, 240_000);
});
