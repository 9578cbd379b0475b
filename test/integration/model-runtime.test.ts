import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import { agentActivities } from '../../activities/agent';
import { createModelServer } from '../../activities/model-server';
import { EndpointStore } from '../../src/stores/endpoints';
import { EMPLOYEE_NOT_FOUND, MODEL_RATE_LIMITED, MODEL_REJECTED, MODEL_UNAVAILABLE, ZERO_USAGE } from '../../src/domain/events';
import { startFakeModelServer, type Behaviour, type FakeModelServer } from '../helpers/fake-model-server';
import { workflowFailure } from '../helpers/agent-stack';
import { createHarness, type Harness, type Seeded } from '../helpers/harness';

let fake: FakeModelServer;
let h: Harness;

const modelOverrides = () => ({ OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model', MODEL_TIMEOUT_MS: '1000' });

beforeAll(async () => {
  fake = await startFakeModelServer();
  h = await createHarness(modelOverrides());
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
});
beforeEach(() => fake.reset());

/** Posts one event without an Idempotency-Key (so no dedup window holds the workflow open). */
async function send(harness: Harness, acct: Seeded, body: { payload: string; event?: string; employee_id?: string }) {
  const res = await harness.http
    .post('/api/webhook/')
    .set(acct.auth)
    .send({ employee_id: acct.employeeId, ...body });
  expect(res.status).toBe(202);
  const messageId: string = res.body.message_id;
  return { messageId, handle: harness.workflowHandle(acct.accountId, messageId) };
}

/** The workflow's failure (see workflowFailure): a non-retryable ApplicationFailure of `type`. */
async function failureOfType(handle: WorkflowHandle, type: string): Promise<ApplicationFailure> {
  const failure = await workflowFailure(handle);
  expect(failure).toMatchObject({ type, nonRetryable: true });
  return failure;
}

/** The model turn's attempt that finished, with the failure of the attempt before it. */
async function lastEmployeeAttempt(handle: WorkflowHandle): Promise<temporal.api.history.v1.IActivityTaskStartedEventAttributes> {
  const history = await handle.fetchHistory();
  const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
  expect(started).toHaveLength(1);
  return started[0].activityTaskStartedEventAttributes!;
}

describe('driving an employee through an OpenAI-compatible model server', () => {
  it('sends the instructions and the exact formatted text, records the reply and charges the tokens used', async () => {
    const acct = await h.seedAccount({ credits: 1000 });
    fake.enqueue({ kind: 'ok', reply: 'Order #1234 noted.', promptTokens: 1500, completionTokens: 600 });
    const { messageId, handle } = await send(h, acct, { event: 'order.completed', payload: 'Customer John placed order #1234 for $99.' });

    const result = await handle.result();
    expect(result.status).toBe('completed');
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0].body.model).toBe('test-model');
    expect(fake.requests[0].body.messages).toEqual([
      { role: 'system', content: 'You handle shop events.' },
      { role: 'user', content: '[Webhook: order.completed] Customer John placed order #1234 for $99.' },
    ]);

    // 2,100 tokens are three started thousands; the runtime is at least one started second.
    expect(result.charge).toMatchObject({ posted: true, tokenCredits: 3 });
    expect(result.charge!.runtimeCredits).toBeGreaterThanOrEqual(1);
    expect(result.charge!.credits).toBe(3 + result.charge!.runtimeCredits);
    expect(await h.ledger.balance(acct.accountId)).toBe(1000 - result.charge!.credits);
    expect(await h.ledger.chargeFor(acct.accountId, messageId)).toMatchObject({ tokensIn: 1500, tokensOut: 600, tokenCredits: 3 });

    const inbox = await h.memory.inbox(acct.employeeId);
    expect(inbox.map(({ messageId: id, direction, text }) => ({ id, direction, text }))).toEqual([
      { id: messageId, direction: 'replied', text: 'Order #1234 noted.' },
      { id: messageId, direction: 'received', text: '[Webhook: order.completed] Customer John placed order #1234 for $99.' },
    ]);
  });

  it('sends the previous turns as memory with the next event', async () => {
    const acct = await h.seedAccount();
    fake.enqueue({ kind: 'ok', reply: 'First reply.' }, { kind: 'ok', reply: 'Second reply.' });
    await (await send(h, acct, { event: 'order.completed', payload: 'Order #1.' })).handle.result();
    await (await send(h, acct, { payload: 'Deploy finished.' })).handle.result();

    expect(fake.requests[1].body.messages).toEqual([
      { role: 'system', content: 'You handle shop events.' },
      { role: 'user', content: '[Webhook: order.completed] Order #1.' },
      { role: 'assistant', content: 'First reply.' },
      { role: 'user', content: '[Webhook] Deploy finished.' },
    ]);
    expect(await h.memory.recentTurns(acct.employeeId)).toEqual([
      { role: 'user', content: '[Webhook: order.completed] Order #1.' },
      { role: 'assistant', content: 'First reply.' },
      { role: 'user', content: '[Webhook] Deploy finished.' },
      { role: 'assistant', content: 'Second reply.' },
    ]);
  });

  it("sends the employee's own model when it has one", async () => {
    const acct = await h.seedAccount();
    const special = await h.employees.createEmployee({ accountId: acct.accountId, name: 'Bea', model: 'special' });
    await (await send(h, acct, { employee_id: special.id, payload: 'hello' })).handle.result();
    expect(fake.requests.map((r) => r.body.model)).toEqual(['special']);
  });

  it('honours Retry-After on a 429 and then completes', async () => {
    const acct = await h.seedAccount();
    // Two seconds, so honouring it is distinguishable from the workflow's own 1 s first backoff.
    fake.enqueue({ kind: 'status', status: 429, message: 'Rate limit reached for requests', code: 'rate_limit_exceeded', retryAfter: '2' });
    const { handle } = await send(h, acct, { payload: 'busy' });

    expect((await handle.result()).status).toBe('completed');
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1].at - fake.requests[0].at).toBeGreaterThanOrEqual(1_900);
    const attempt = await lastEmployeeAttempt(handle);
    expect(attempt.attempt).toBe(2);
    expect(attempt.lastFailure?.applicationFailureInfo).toMatchObject({ type: MODEL_RATE_LIMITED, nonRetryable: false });
    expect(Number(attempt.lastFailure?.applicationFailureInfo?.nextRetryDelay?.seconds)).toBe(2);
  });

  it.each<[string, Behaviour]>([
    ['a 500', { kind: 'status', status: 500, message: 'The server had an error while processing your request.' }],
    ['a 503', { kind: 'status', status: 503, message: 'The engine is currently overloaded.' }],
    ['a 408', { kind: 'status', status: 408, message: 'Request timed out.' }],
    ['a dropped connection', { kind: 'close' }],
    ['no answer within MODEL_TIMEOUT_MS', { kind: 'hang' }],
    ['a response body that stalls past MODEL_TIMEOUT_MS', { kind: 'stall-body' }],
  ])(
    'retries after %s and completes',
    async (_what, behaviour) => {
      const acct = await h.seedAccount();
      fake.enqueue(behaviour, { kind: 'ok', reply: 'done' });
      const { messageId, handle } = await send(h, acct, { payload: 'retry me' });

      expect((await handle.result()).status).toBe('completed');
      expect(fake.requests).toHaveLength(2);
      const attempt = await lastEmployeeAttempt(handle);
      expect(attempt.attempt).toBe(2);
      expect(attempt.lastFailure?.applicationFailureInfo?.type).toBe(MODEL_UNAVAILABLE);
      const received = (await h.memory.inbox(acct.employeeId)).filter((e) => e.messageId === messageId && e.direction === 'received');
      expect(received).toHaveLength(1);
    },
    15_000,
  );

  it.each([400, 401, 404, 422])('fails the event without retrying or charging when the model server answers %i', async (status) => {
    const acct = await h.seedAccount({ credits: 50 });
    fake.enqueue({ kind: 'status', status, message: 'Invalid value for messages.', code: 'invalid_value' });
    const { messageId, handle } = await send(h, acct, { payload: 'bad' });

    const failure = await failureOfType(handle, MODEL_REJECTED);
    expect(failure.cause).toBeInstanceOf(ActivityFailure);
    expect(failure.cause?.cause).toBeInstanceOf(ApplicationFailure);
    expect(failure.cause?.cause).toMatchObject({ type: MODEL_REJECTED, nonRetryable: true });
    expect(fake.requests).toHaveLength(1);
    // The workflow charges only for work the employee finished: a rejected event costs nothing.
    expect(await h.ledger.balance(acct.accountId)).toBe(50);
    expect(await h.ledger.chargeFor(acct.accountId, messageId)).toBeUndefined();
    expect(await h.memory.inbox(acct.employeeId)).toEqual([]);
    const description = await handle.describe();
    expect(description.searchAttributes.EventStatus).toEqual(['failed']);
  });

  it('fails with EMPLOYEE_NOT_FOUND when the employee is deleted before the event runs', async () => {
    const idle = await createHarness(modelOverrides(), { worker: false });
    try {
      const acct = await idle.seedAccount({ credits: 20 });
      const { messageId, handle } = await send(idle, acct, { payload: 'too late' });
      await idle.employees.deleteEmployee(acct.employeeId);
      await idle.startWorker();

      // Reading the employee is a local activity since the agent loop: its failure is the workflow's, typed.
      const failure = await failureOfType(handle, EMPLOYEE_NOT_FOUND);
      expect(failure).toMatchObject({ type: EMPLOYEE_NOT_FOUND, nonRetryable: true });
      expect(failure.message).toContain(acct.employeeId);
      expect(fake.requests).toHaveLength(0);
      expect(await idle.ledger.balance(acct.accountId)).toBe(20);
      expect(await idle.ledger.chargeFor(acct.accountId, messageId)).toBeUndefined();
    } finally {
      await idle.close();
    }
  });
});

describe('a model turn cancelled while it waits on the model', () => {
  it('reports the cancellation Temporal asked for and records nothing', async () => {
    const acct = await h.seedAccount();
    const { modelTurn } = agentActivities({
      employees: h.employees,
      memory: h.memory,
      endpoints: new EndpointStore(h.db),
      model: createModelServer({ baseURL: fake.baseURL, timeoutMs: 30_000 }),
      defaultModel: 'test-model',
      prices: { models: {}, defaultPromptPer1k: 1, defaultCompletionPer1k: 1, runtimePerSecond: 1 },
      defaultLimits: { maxSteps: 10, maxTokens: 100, deadlineMs: 60_000, maxCredits: 100 },
    });
    fake.enqueue({ kind: 'hang' });
    const env = new MockActivityEnvironment();
    const running = env.run(modelTurn, {
      employeeId: acct.employeeId,
      messageId: randomUUID(),
      turn: 1,
      model: 'test-model',
      maxTokens: 100,
      messages: [{ role: 'user' as const, content: 'never answered' }],
      tools: [],
      spent: { ...ZERO_USAGE },
    });
    await fake.waitForRequests(1);
    env.cancel('CANCELLED');

    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(await h.memory.inbox(acct.employeeId)).toEqual([]);
  });
});
