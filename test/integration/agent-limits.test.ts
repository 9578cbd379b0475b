import { randomUUID } from 'node:crypto';
import type { EventStep } from '../../src/domain/events';
import type { WebhookEventResult } from '../../workflows/contract';
import { addEndpoint, eventStatus, resetAgentStack, startAgentStack, workflowFailure } from '../helpers/agent-stack';
import { turnOf, type FakeModelServer } from '../helpers/fake-model-server';
import { eventually, type Harness, type Seeded } from '../helpers/harness';
import { verifyLedger } from '../helpers/ledger-checks';
import type { WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * Every event ends: each limit (STEP_LIMIT, CREDIT_CAP, EVENT_DEADLINE, max tokens) as the status API
 * and the workflow failure report it, with the reservation released and the billing rule for a
 * failed event — the model turns that completed are charged, failed attempts are not.
 *
 * Prices make the credits exact: one credit per token (prompt and completion), runtime free. The
 * fake model's tool turns use 20 prompt and 8 completion tokens, so each costs 28 credits.
 */
const TURN_CREDITS = 28;
let h: Harness;
let fake: FakeModelServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  ({ h, fake, receiver } = await startAgentStack({
    MODEL_PRICES: JSON.stringify({ 'gpt-4o-mini': { prompt_per_1k: 1000, completion_per_1k: 1000 } }),
    CREDITS_PER_1K_PROMPT_TOKENS: '1000',
    CREDITS_PER_1K_COMPLETION_TOKENS: '1000',
    CREDITS_PER_RUNTIME_SECOND: '0',
    AGENT_MAX_STEPS: '4',
    AGENT_MAX_TOKENS: '333',
    AGENT_MAX_CREDITS: '100000',
  }));
});
afterAll(() => h?.close());
beforeEach(() => resetAgentStack({ fake, receiver }));

async function employee(): Promise<Seeded> {
  const acct = await h.seedAccount({ credits: 10_000 });
  await h.employees.setTools(acct.employeeId, { enable: ['send_webhook', 'remember', 'reply'] });
  return acct;
}

async function post(e: Seeded): Promise<string> {
  const res = await h.http
    .post('/api/webhook/')
    .set(e.auth)
    .send({ employee_id: e.employeeId, event: 'order.completed', payload: `Order #${randomUUID()}` });
  expect(res.status).toBe(202);
  return (res.body as { message_id: string }).message_id;
}

/** The workflow's failure, as the Temporal UI shows it: its type, message and (in its details) the steps. */
async function failureOf(e: Seeded, messageId: string): Promise<{ type: string | null; message: string; steps: EventStep[] }> {
  const failure = await workflowFailure(h.workflowHandle(e.accountId, messageId));
  expect(failure.nonRetryable).toBe(true);
  return { type: failure.type ?? null, message: failure.message, steps: (failure.details?.[0] as { steps: EventStep[] }).steps };
}

const status = (e: Seeded, messageId: string) => eventStatus(h, e, messageId);

const stepsOf = (steps: EventStep[]) => steps.map((x) => `${x.kind}:${x.name}:${x.status}`);

/** After a failed event: nothing held, the charge as the billing rule says, the ledger audits clean. */
async function expectSettledFailed(e: Seeded, messageId: string, expected: { modelTurns: number; toolCalls: number; credits: number } | undefined) {
  expect(await h.ledger.reserved(e.accountId)).toBe(0);
  expect(await h.ledger.isReserved(e.accountId, messageId)).toBe(false);
  const charge = await h.ledger.chargeFor(e.accountId, messageId);
  if (expected) {
    expect(charge).toMatchObject({ modelTurns: expected.modelTurns, toolCalls: expected.toolCalls, credits: -expected.credits, runtimeCredits: 0 });
  } else {
    expect(charge).toBeUndefined();
  }
  expect(await h.ledger.balance(e.accountId)).toBe(10_000 - (expected?.credits ?? 0));
  const { result } = await verifyLedger(h.ledger, e.accountId);
  expect(result.problems).toEqual([]);
  return charge;
}

describe('limits: every event ends', () => {
  it('STEP_LIMIT: the service default (AGENT_MAX_STEPS) ends an employee that never answers', async () => {
    const e = await employee();
    await addEndpoint({ h, receiver }, e.employeeId, 'crm');
    fake.setDefault({ kind: 'tools', calls: [{ name: 'send_webhook', arguments: { endpoint: 'crm', body: { again: true } } }] });
    const before = receiver.deliveries.length;
    const messageId = await post(e);

    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('STEP_LIMIT');
    expect(failure.message).toBe("The employee took 4 model turns without a final answer (the event's step limit).");
    const s = await status(e, messageId);
    expect(s.status).toBe('failed');
    expect(s.error).toEqual({ type: 'STEP_LIMIT', message: failure.message });
    const expectedSteps = [1, 2, 3, 4].flatMap((n) => [`model:turn ${n}:completed`, 'tool:send_webhook:completed']);
    expect(stepsOf(s.steps)).toEqual(expectedSteps);
    expect(stepsOf(failure.steps)).toEqual(expectedSteps);
    expect(fake.requests.map(turnOf)).toEqual([1, 2, 3, 4]);
    // Every call was delivered once, each with its own id.
    const got = receiver.deliveries.slice(before);
    expect(got).toHaveLength(4);
    expect(new Set(got.map((d) => d.id)).size).toBe(4);
    expect(got.every((d) => d.verified)).toBe(true);
    const charge = await expectSettledFailed(e, messageId, { modelTurns: 4, toolCalls: 4, credits: 4 * TURN_CREDITS });
    expect(s.credits).toBe(4 * TURN_CREDITS);
    expect(charge).toMatchObject({ tokensIn: 80, tokensOut: 32 });
  });

  it('CREDIT_CAP before a turn: a prompt that alone would take the event past its cap is never sent, and nothing is charged', async () => {
    const e = await employee();
    await h.employees.updateLimits(e.employeeId, { maxCredits: 1 });
    const messageId = await post(e);

    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('CREDIT_CAP');
    expect(failure.message).toMatch(/^The event has cost 0 credits; its next turn's prompt \(about \d+ tokens\) would take it past its cap of 1\.$/);
    expect(fake.requests).toEqual([]);
    await expectSettledFailed(e, messageId, undefined);
  });

  it('CREDIT_CAP after a turn: the turn that crosses it ends the event; its tool calls are not run', async () => {
    const e = await employee();
    // Each tool turn costs 520 credits (its reported tokens); each prompt is a few hundred tokens by
    // estimate: turn 2 may start (520 + its prompt is under 1,000) and crosses the cap when done.
    await h.employees.updateLimits(e.employeeId, { maxCredits: 1_000 });
    fake.setResponder((req) => ({
      kind: 'tools',
      calls: [{ name: 'remember', arguments: { note: `note from turn ${turnOf(req)}` } }],
      promptTokens: 20,
      completionTokens: 500,
    }));
    const messageId = await post(e);

    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('CREDIT_CAP');
    expect(failure.message).toBe('The event has cost 1040 credits, over its cap of 1000.');
    const s = await status(e, messageId);
    expect(s.error).toEqual({ type: 'CREDIT_CAP', message: failure.message });
    expect(fake.requests.map(turnOf)).toEqual([1, 2]);
    expect(stepsOf(s.steps)).toEqual(['model:turn 1:completed', 'tool:remember:completed', 'model:turn 2:completed']);
    expect((await h.memory.notes(e.employeeId)).map((n) => n.note)).toEqual(['note from turn 1']);
    // The completed turns are charged, the one that crossed the cap included: their usage is known.
    await expectSettledFailed(e, messageId, { modelTurns: 2, toolCalls: 1, credits: 1040 });
    expect(s.credits).toBe(1040);
  });

  it('EVENT_DEADLINE: a model that hangs past the deadline is cancelled; the completed turn is charged, the hung attempt is not', async () => {
    const e = await employee();
    await h.employees.updateLimits(e.employeeId, { deadlineMs: 3_000 });
    fake.enqueue({ kind: 'tools', calls: [{ name: 'remember', arguments: { note: 'before the hang' } }] }, { kind: 'hang', ms: 30_000 });
    const started = Date.now();
    const messageId = await post(e);

    const failure = await failureOf(e, messageId);
    const elapsed = Date.now() - started;
    expect(failure.type).toBe('EVENT_DEADLINE');
    expect(failure.message).toMatch(/^The event passed its deadline \(3 s\) before the employee finished\.$/);
    // Ended by the deadline, not by the model's 30 s hang or a timeout.
    expect(elapsed).toBeGreaterThanOrEqual(2_500);
    expect(elapsed).toBeLessThan(15_000);
    const s = await status(e, messageId);
    expect(s.error).toEqual({ type: 'EVENT_DEADLINE', message: failure.message });
    expect(stepsOf(s.steps)).toEqual(['model:turn 1:completed', 'tool:remember:completed', 'model:turn 2:failed']);
    expect(fake.requests.map(turnOf)).toEqual([1, 2]);
    // The running turn was cancelled: the worker hung up on the model instead of waiting out its 30 s.
    const abandonedAt = await eventually('the hung model call to be abandoned', async () => fake.requests[1].abandonedAt, 15_000);
    expect(abandonedAt - fake.requests[1].at).toBeLessThan(15_000);
    const charge = await expectSettledFailed(e, messageId, { modelTurns: 1, toolCalls: 1, credits: TURN_CREDITS });
    // Turn 2 hung for the rest of the deadline: none of that runtime is on the charge.
    expect(charge!.runtimeMs!).toBeLessThan(1_500);
  });

  it('EVENT_DEADLINE: a receiver that keeps failing is given up at the deadline', async () => {
    const e = await employee();
    await h.employees.updateLimits(e.employeeId, { deadlineMs: 4_000 });
    await addEndpoint({ h, receiver }, e.employeeId, 'down');
    receiver.setDefault({ status: 503, body: 'down for maintenance' });
    fake.enqueue({ kind: 'tools', calls: [{ name: 'send_webhook', arguments: { endpoint: 'down', body: { n: 1 } } }] });
    const before = receiver.deliveries.length;
    const messageId = await post(e);

    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('EVENT_DEADLINE');
    const s = await status(e, messageId);
    expect(s.error?.type).toBe('EVENT_DEADLINE');
    // The turn completed; the delivery was still retrying (no result) when the deadline came.
    expect(stepsOf(s.steps)).toEqual(['model:turn 1:completed']);
    const got = receiver.deliveries.slice(before);
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(new Set(got.map((d) => d.id)).size).toBe(1);
    expect(fake.requests).toHaveLength(1);
    // No attempt after the event ended.
    const attempts = got.length;
    await new Promise((r) => setTimeout(r, 5_000));
    expect(receiver.deliveries.slice(before)).toHaveLength(attempts);
    await expectSettledFailed(e, messageId, { modelTurns: 1, toolCalls: 0, credits: TURN_CREDITS });
  });

  it('max tokens: every model call carries the employee’s --max-tokens, else the service default', async () => {
    const own = await employee();
    await h.employees.updateLimits(own.employeeId, { maxTokens: 200 });
    const byDefault = await employee();
    for (const e of [own, byDefault]) {
      fake.enqueue({ kind: 'tools', calls: [{ name: 'remember', arguments: { note: 'x' } }] }, { kind: 'ok', reply: 'ok' });
      const messageId = await post(e);
      expect(((await h.workflowHandle(e.accountId, messageId).result()) as WebhookEventResult).status).toBe('completed');
    }
    expect(fake.requests.map((r) => r.body.max_tokens)).toEqual([200, 200, 333, 333]);
  });

  it('a model that rejects a later turn fails the event with its type; only the completed turn is charged', async () => {
    const e = await employee();
    fake.enqueue(
      { kind: 'tools', calls: [{ name: 'reply', arguments: { text: 'Working on it.' } }] },
      { kind: 'status', status: 503 }, // a failed attempt: retried, costs nothing
      { kind: 'status', status: 400, message: 'context too long' },
    );
    const messageId = await post(e);
    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('MODEL_REJECTED');
    expect(failure.message).toMatch(/context too long/);
    const s = await status(e, messageId);
    expect(s.error?.type).toBe('MODEL_REJECTED');
    expect(stepsOf(s.steps)).toEqual(['model:turn 1:completed', 'tool:reply:completed', 'model:turn 2:failed']);
    expect(fake.requests.map(turnOf)).toEqual([1, 2, 2]);
    await expectSettledFailed(e, messageId, { modelTurns: 1, toolCalls: 1, credits: TURN_CREDITS });
  });

  it('a model that rejects the first turn: nothing completed, nothing charged, the reservation released', async () => {
    const e = await employee();
    fake.enqueue({ kind: 'status', status: 400, message: 'provider says: your key sk-live-123 is wrong' });
    const messageId = await post(e);
    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('MODEL_REJECTED');
    expect(failure.message).toContain('provider says');
    const s = await status(e, messageId);
    // The tenant reads our message for the type, never the provider's own text (operators have it in the trace).
    expect(s).toMatchObject({
      status: 'failed',
      credits: null,
      error: { type: 'MODEL_REJECTED', message: expect.stringMatching(/^The model server refused the request/) },
    });
    expect(JSON.stringify(s)).not.toContain('provider says');
    expect(stepsOf(s.steps)).toEqual(['model:turn 1:failed']);
    await expectSettledFailed(e, messageId, undefined);
  });
});
