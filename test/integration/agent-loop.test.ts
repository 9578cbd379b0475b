import type { ToolName } from '../../src/domain/agent';
import type { WebhookEventResult } from '../../workflows/contract';
import { addEndpoint, eventStatus, resetAgentStack, startAgentStack, workflowFailure } from '../helpers/agent-stack';
import { turnOf, type ChatCompletionRequest, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, type Harness, type Seeded } from '../helpers/harness';
import type { WebhookReceiver } from '../helpers/webhook-receiver';

/**
 * The agent loop end to end: the real API, a real worker on the suite's Temporal, PostgreSQL and
 * Redis, the fake model server speaking the Chat Completions tool-calling protocol, and a local
 * Standard Webhooks receiver that verifies every signature.
 */
let h: Harness;
let fake: FakeModelServer;
let receiver: WebhookReceiver;

beforeAll(async () => {
  ({ h, fake, receiver } = await startAgentStack({ WEBHOOK_TIMEOUT_MS: '20000' }));
});
afterAll(() => h?.close());
beforeEach(() => resetAgentStack({ fake, receiver }));

interface Employee extends Seeded {
  endpoint(name: string, opts?: { allowPrivate?: boolean; url?: (path: string) => string }): Promise<{ path: string; secret: string }>;
}

async function employee(tools: ToolName[]): Promise<Employee> {
  const acct = await h.seedAccount();
  if (tools.length) await h.employees.setTools(acct.employeeId, { enable: tools });
  return { ...acct, endpoint: (name, opts) => addEndpoint({ h, receiver }, acct.employeeId, name, opts) };
}

async function post(e: Seeded, payload = `Order #${Math.floor(Math.random() * 1e6)}`): Promise<string> {
  const res = await h.http.post('/api/webhook/').set(e.auth).send({ employee_id: e.employeeId, event: 'order.completed', payload });
  expect(res.status).toBe(202);
  return (res.body as { message_id: string }).message_id;
}

const result = (e: Seeded, messageId: string): Promise<WebhookEventResult> => h.workflowHandle(e.accountId, messageId).result();

const failureOf = (e: Seeded, messageId: string) => workflowFailure(h.workflowHandle(e.accountId, messageId));

const status = (e: Seeded, messageId: string) => eventStatus(h, e, messageId);

/** The `role: "tool"` messages a request carries after the last assistant message, by call id. */
function toolResults(request: ChatCompletionRequest): Map<string, string> {
  const out = new Map<string, string>();
  const lastAssistant = request.messages.map((m) => m.role).lastIndexOf('assistant');
  for (const m of request.messages.slice(lastAssistant + 1)) if (m.role === 'tool') out.set(m.tool_call_id!, m.content ?? '');
  return out;
}

/**
 * One send_webhook call, then a final answer: the model calls with `args` (call id `callId`), then
 * replies `reply`. Posts an event and waits until it completed; returns its id, the deliveries it
 * caused, and the call's result as the model was given it in its second turn.
 */
async function oneWebhookCall(e: Seeded, callId: string, args: { endpoint: string; body: unknown }, reply: string) {
  fake.enqueue({ kind: 'tools', calls: [{ id: callId, name: 'send_webhook', arguments: args }] }, { kind: 'ok', reply });
  const before = receiver.deliveries.length;
  const messageId = await post(e);
  expect((await result(e, messageId)).status).toBe('completed');
  return { messageId, got: receiver.deliveries.slice(before), toolResult: JSON.parse(toolResults(fake.requests[1].body).get(callId)!) as unknown };
}

const stepsOf = (s: { steps: Array<{ kind: string; name: string; status: string }> }) => s.steps.map((x) => `${x.kind}:${x.name}:${x.status}`);

describe('agent loop: tool calls', () => {
  it('sends a signed webhook and gives the model its status and an excerpt of the answer', async () => {
    const e = await employee(['send_webhook']);
    const crm = await e.endpoint('crm');
    const answer = `{"accepted":true,"ticket":"T-77","padding":"${'x'.repeat(1000)}"}`;
    receiver.script({ status: 201, body: answer });
    fake.enqueue(
      {
        kind: 'tools',
        calls: [{ id: 'call_crm', name: 'send_webhook', arguments: { endpoint: 'crm', body: { order: 1234, customer: 'John' } } }],
        promptTokens: 30,
        completionTokens: 9,
      },
      { kind: 'ok', reply: 'Sent order 1234 to the CRM.', promptTokens: 50, completionTokens: 7 },
    );
    const before = receiver.deliveries.length;
    const messageId = await post(e, 'Order #1234 completed by John');
    const done = await result(e, messageId);
    expect(done.status).toBe('completed');

    // The receiver verified the delivery with the endpoint's secret (standardwebhooks).
    const got = receiver.deliveries.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ path: crm.path, verified: true, status: 201, handled: true, body: { order: 1234, customer: 'John' } });
    expect(got[0].id).toMatch(/^msg_[0-9a-f-]{36}$/);
    expect(Math.abs(Number(got[0].timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(got[0].signature).toMatch(/^v1,[A-Za-z0-9+/=]+$/);

    // Turn 1 offered the tool; turn 2 carried the assistant's call and its result as a `role: "tool"` message.
    expect(fake.requests).toHaveLength(2);
    const [first, second] = fake.requests.map((r) => r.body);
    expect(first.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(first.messages[1].content).toBe('[Webhook: order.completed] Order #1234 completed by John');
    expect(first.tools?.map((t) => t.function.name)).toEqual(['send_webhook']);
    expect(second.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(second.messages[2].tool_calls?.map((c) => [c.id, c.function.name])).toEqual([['call_crm', 'send_webhook']]);
    const toolMessage = second.messages[3];
    expect(toolMessage.tool_call_id).toBe('call_crm');
    const content = JSON.parse(toolMessage.content!) as { endpoint: string; status: number; answer: string };
    expect(content.endpoint).toBe('crm');
    expect(content.status).toBe(201);
    // A short excerpt: the start of the answer, not all 1 KB of it.
    expect(content.answer.startsWith('{"accepted":true,"ticket":"T-77"')).toBe(true);
    expect(content.answer.length).toBeLessThanOrEqual(300);

    // The status API lists the steps; the charge sums both turns and counts the tool call.
    const s = await status(e, messageId);
    expect(s.status).toBe('completed');
    expect(stepsOf(s)).toEqual(['model:turn 1:completed', 'tool:send_webhook:completed', 'model:turn 2:completed']);
    for (const step of s.steps) expect(step.duration_ms).toBeGreaterThanOrEqual(0);
    const charge = await h.ledger.chargeFor(e.accountId, messageId);
    expect(charge).toMatchObject({ modelTurns: 2, toolCalls: 1, tokensIn: 80, tokensOut: 16, model: 'gpt-4o-mini' });
    expect(await h.ledger.reserved(e.accountId)).toBe(0);

    // The report counts model turns and tool calls per group.
    const report = await h.http.get('/api/billing/usage?group_by=message').set(e.auth);
    expect(report.status).toBe(200);
    expect((report.body as { rows: unknown[] }).rows).toEqual([
      expect.objectContaining({ group: messageId, events: 1, model_turns: 2, tool_calls: 1, tokens_in: 80, tokens_out: 16 }),
    ]);

    // The final answer is filed in the inbox; the signing secret never enters the workflow history.
    const inbox = await h.memory.inbox(e.employeeId);
    expect(inbox.filter((x) => x.direction === 'replied').map((x) => x.text)).toEqual(['Sent order 1234 to the CRM.']);
    const history = JSON.stringify(await h.workflowHandle(e.accountId, messageId).fetchHistory());
    expect(history).not.toContain(crm.secret);
    expect(history).not.toContain(crm.secret.slice('whsec_'.length));
  });

  it('gives a bad call back to the model as an error it corrects, and the event completes', async () => {
    const e = await employee(['send_webhook']);
    const crm = await e.endpoint('crm');
    fake.enqueue(
      { kind: 'tools', calls: [{ id: 'call_bad', name: 'send_webhook', arguments: { endpoint: 'crm', body: 'order 1234' } }] },
      { kind: 'tools', calls: [{ id: 'call_wrong_name', name: 'send_webhook', arguments: { endpoint: 'erp', body: { order: 1234 } } }] },
      { kind: 'tools', calls: [{ id: 'call_not_json', name: 'send_webhook', arguments: '{"endpoint": "crm", "body": {' }] },
      { kind: 'tools', calls: [{ id: 'call_good', name: 'send_webhook', arguments: { endpoint: 'crm', body: { order: 1234 } } }] },
      { kind: 'ok', reply: 'Fixed and sent.' },
    );
    const before = receiver.deliveries.length;
    const messageId = await post(e);
    expect((await result(e, messageId)).status).toBe('completed');

    expect(fake.requests).toHaveLength(5);
    expect(toolResults(fake.requests[1].body)).toEqual(new Map([['call_bad', 'Invalid arguments for send_webhook: body: body must be a JSON object.']]));
    expect(toolResults(fake.requests[2].body)).toEqual(new Map([['call_wrong_name', 'No endpoint named erp. Your endpoints: crm.']]));
    expect(toolResults(fake.requests[3].body)).toEqual(new Map([['call_not_json', 'The arguments of send_webhook are not valid JSON. Send a JSON object.']]));
    expect(JSON.parse(toolResults(fake.requests[4].body).get('call_good')!)).toEqual({ endpoint: 'crm', status: 200, answer: '{"ok":true}' });
    // The whole conversation goes back each turn: the earlier errors are still there.
    expect(fake.requests[4].body.messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id)).toEqual([
      'call_bad',
      'call_wrong_name',
      'call_not_json',
      'call_good',
    ]);

    // Only the corrected call reached the receiver.
    const got = receiver.deliveries.slice(before);
    expect(got.map((d) => [d.path, d.verified, d.body])).toEqual([[crm.path, true, { order: 1234 }]]);
    const s = await status(e, messageId);
    expect(stepsOf(s)).toEqual([
      'model:turn 1:completed',
      'tool:send_webhook:failed',
      'model:turn 2:completed',
      'tool:send_webhook:failed',
      'model:turn 3:completed',
      'tool:send_webhook:failed',
      'model:turn 4:completed',
      'tool:send_webhook:completed',
      'model:turn 5:completed',
    ]);
    expect(await h.ledger.chargeFor(e.accountId, messageId)).toMatchObject({ modelTurns: 5, toolCalls: 4 });
  });

  it('runs parallel tool calls of one turn concurrently and returns both results in the next request', async () => {
    const e = await employee(['send_webhook', 'remember']);
    const crm = await e.endpoint('crm');
    const erp = await e.endpoint('erp');
    // Each answer takes 800 ms: run one after the other, the second would arrive after the first's answer.
    receiver.script({ status: 200, body: '{"who":"first"}', delayMs: 800 }, { status: 202, body: '{"who":"second"}', delayMs: 800 });
    fake.enqueue(
      {
        kind: 'tools',
        calls: [
          { id: 'call_a', name: 'send_webhook', arguments: { endpoint: 'crm', body: { n: 1 } } },
          { id: 'call_b', name: 'send_webhook', arguments: { endpoint: 'erp', body: { n: 2 } } },
          { id: 'call_c', name: 'remember', arguments: { note: 'Orders go to both crm and erp.' } },
        ],
      },
      { kind: 'ok', reply: 'Both sent.' },
    );
    const before = receiver.deliveries.length;
    const messageId = await post(e);
    expect((await result(e, messageId)).status).toBe('completed');

    const got = receiver.deliveries.slice(before);
    expect(got).toHaveLength(2);
    expect(new Set(got.map((d) => d.path))).toEqual(new Set([crm.path, erp.path]));
    expect(got.every((d) => d.verified)).toBe(true);
    expect(new Set(got.map((d) => d.id)).size).toBe(2);
    // Concurrent: the second delivery arrived before the first was answered.
    expect(got[1].at).toBeLessThan(got[0].answeredAt!);

    expect(fake.requests).toHaveLength(2);
    const results = toolResults(fake.requests[1].body);
    expect([...results.keys()]).toEqual(['call_a', 'call_b', 'call_c']);
    const byEndpoint = new Map(
      [results.get('call_a')!, results.get('call_b')!].map((c) => JSON.parse(c) as { endpoint: string; status: number }).map((c) => [c.endpoint, c.status]),
    );
    expect(byEndpoint.get('crm')).toBeGreaterThanOrEqual(200);
    expect(byEndpoint.get('erp')).toBeGreaterThanOrEqual(200);
    expect([...byEndpoint.keys()]).toEqual(['crm', 'erp']);
    expect(results.get('call_c')).toBe('Noted.');
    const s = await status(e, messageId);
    expect(
      s.steps
        .filter((x) => x.kind === 'tool')
        .map((x) => `${x.name}:${x.status}`)
        .sort(),
    ).toEqual(['remember:completed', 'send_webhook:completed', 'send_webhook:completed']);
    expect(await h.ledger.chargeFor(e.accountId, messageId)).toMatchObject({ modelTurns: 2, toolCalls: 3 });
  });

  it('ends a loop that never ends at the employee’s --max-steps, releases the reservation and charges the completed turns', async () => {
    const e = await employee(['remember']);
    await h.employees.updateLimits(e.employeeId, { maxSteps: 3 });
    fake.setDefault({ kind: 'tools', calls: [{ name: 'remember', arguments: { note: 'again' } }], promptTokens: 40, completionTokens: 10 });
    const messageId = await post(e);
    const failure = await failureOf(e, messageId);
    expect(failure.type).toBe('STEP_LIMIT');
    expect(failure.message).toBe("The employee took 3 model turns without a final answer (the event's step limit).");

    // Exactly max-steps turns were asked; each proposed a call that ran.
    expect(fake.requests.map(turnOf)).toEqual([1, 2, 3]);
    const s = await status(e, messageId);
    expect(s.status).toBe('failed');
    expect(s.error?.type).toBe('STEP_LIMIT');
    expect(stepsOf(s)).toEqual([
      'model:turn 1:completed',
      'tool:remember:completed',
      'model:turn 2:completed',
      'tool:remember:completed',
      'model:turn 3:completed',
      'tool:remember:completed',
    ]);
    expect(await h.ledger.reserved(e.accountId)).toBe(0);
    expect(await h.ledger.isReserved(e.accountId, messageId)).toBe(false);
    const charge = await h.ledger.chargeFor(e.accountId, messageId);
    expect(charge).toMatchObject({ modelTurns: 3, toolCalls: 3, tokensIn: 120, tokensOut: 30 });
    expect(s.credits).toBe(-charge!.credits);
    expect(charge!.credits).toBeLessThan(0);
  });
});

describe('agent loop: the tools an employee has', () => {
  it('tells the model only the tools turned on, and none at all when none are', async () => {
    const none = await employee([]);
    const notes = await employee(['remember', 'reply']);
    const hooks = await employee(['send_webhook', 'reply']);
    await hooks.endpoint('crm');
    await hooks.endpoint('billing');
    const noEndpoints = await employee(['send_webhook']);

    const asked = async (e: Employee) => {
      fake.reset();
      await result(e, await post(e));
      expect(fake.requests).toHaveLength(1);
      return fake.requests[0].body;
    };
    const bare = await asked(none);
    expect(bare).not.toHaveProperty('tools');
    expect(bare).not.toHaveProperty('tool_choice');
    expect((await asked(notes)).tools?.map((t) => t.function.name)).toEqual(['remember', 'reply']);
    const withHooks = await asked(hooks);
    expect(withHooks.tools?.map((t) => t.function.name)).toEqual(['send_webhook', 'reply']);
    // send_webhook names the employee's endpoints, and only those.
    expect((withHooks.tools?.[0].function.parameters as { properties: { endpoint: { enum: string[] } } }).properties.endpoint.enum).toEqual(['billing', 'crm']);
    // send_webhook without an endpoint to send to is not offered.
    expect(await asked(noEndpoints)).not.toHaveProperty('tools');

    // Turned off again: gone from the next request.
    await h.employees.setTools(notes.employeeId, { disable: ['reply'] });
    expect((await asked(notes)).tools?.map((t) => t.function.name)).toEqual(['remember']);
  });

  it('refuses a call to a tool the employee does not have, as an error the model sees', async () => {
    const e = await employee(['remember']);
    fake.enqueue(
      {
        kind: 'tools',
        calls: [
          { id: 'call_reply', name: 'reply', arguments: { text: 'I should not be able to say this.' } },
          { id: 'call_hook', name: 'send_webhook', arguments: { endpoint: 'crm', body: {} } },
          { id: 'call_shell', name: 'run_shell', arguments: { cmd: 'ls' } },
        ],
      },
      { kind: 'ok', reply: 'Understood.' },
    );
    const messageId = await post(e);
    expect((await result(e, messageId)).status).toBe('completed');
    expect(toolResults(fake.requests[1].body)).toEqual(
      new Map([
        ['call_reply', 'The tool reply is not enabled for you.'],
        ['call_hook', 'The tool send_webhook is not enabled for you.'],
        ['call_shell', 'Unknown tool run_shell. Use one of the tools you were given.'],
      ]),
    );
    const replies = (await h.memory.inbox(e.employeeId)).filter((x) => x.direction === 'replied').map((x) => x.text);
    expect(replies).toEqual(['Understood.']);
  });

  it('shows notes kept with remember in the system prompt of the next event', async () => {
    const e = await employee(['remember']);
    fake.enqueue(
      {
        kind: 'tools',
        calls: [
          { name: 'remember', arguments: { note: 'John prefers express shipping.' } },
          { name: 'remember', arguments: { note: '   ' } },
        ],
      },
      { kind: 'ok', reply: 'Noted for later.' },
    );
    await result(e, await post(e, 'Order #1 from John'));
    expect(fake.requests[0].body.messages[0]).toEqual({ role: 'system', content: 'You handle shop events.' });
    const results = [...toolResults(fake.requests[1].body).values()];
    expect(results).toEqual(['Noted.', 'Invalid arguments for remember: note: note must not be empty.']);
    expect(await h.memory.notes(e.employeeId)).toEqual(['John prefers express shipping.']);

    fake.reset();
    await result(e, await post(e, 'Order #2 from John'));
    const system = fake.requests[0].body.messages[0];
    expect(system.role).toBe('system');
    expect(system.content).toBe('You handle shop events.\n\nNotes you kept:\n- John prefers express shipping.');
    // And the previous event is in its memory, before this one.
    expect(fake.requests[0].body.messages.slice(1).map((m) => [m.role, m.content])).toEqual([
      ['user', '[Webhook: order.completed] Order #1 from John'],
      ['assistant', 'Noted for later.'],
      ['user', '[Webhook: order.completed] Order #2 from John'],
    ]);
  });

  it('leaves a reply in the inbox for the account owner', async () => {
    const e = await employee(['reply']);
    fake.enqueue({ kind: 'tools', calls: [{ name: 'reply', arguments: { text: 'Order #5 needs a manual refund.' } }] }, { kind: 'ok', reply: 'Flagged.' });
    const messageId = await post(e, 'Order #5 refund requested');
    expect((await result(e, messageId)).status).toBe('completed');
    expect(toolResults(fake.requests[1].body).size).toBe(1);
    expect([...toolResults(fake.requests[1].body).values()]).toEqual(['Left in the inbox.']);
    const inbox = await h.memory.inbox(e.employeeId);
    expect(inbox.map((x) => [x.messageId, x.direction, x.text]).sort()).toEqual(
      [
        [messageId, 'received', '[Webhook: order.completed] Order #5 refund requested'],
        [messageId, 'replied', 'Order #5 needs a manual refund.'],
        [messageId, 'replied', 'Flagged.'],
      ].sort(),
    );
  });
});

describe('agent loop: send_webhook delivery', () => {
  it('refuses loopback, private and link-local endpoints unless the operator allowed them', async () => {
    const e = await employee(['send_webhook']);
    const literal = await e.endpoint('literal', { allowPrivate: false });
    const byName = await e.endpoint('by-name', { allowPrivate: false, url: (path) => `http://localhost:${receiver.port}${path}` });
    const decimal = await e.endpoint('decimal', { allowPrivate: false, url: (path) => `http://2130706433:${receiver.port}${path}` });
    await e.endpoint('v6', { allowPrivate: false, url: (path) => `http://[::1]:${receiver.port}${path}` });
    await e.endpoint('metadata', { allowPrivate: false, url: () => 'http://169.254.169.254/latest/meta-data/' });
    await e.endpoint('lan', { allowPrivate: false, url: () => 'http://10.0.0.5/hook' });
    const allowed = await e.endpoint('allowed', { allowPrivate: true });
    const names = ['literal', 'by-name', 'decimal', 'v6', 'metadata', 'lan', 'allowed'];
    fake.enqueue(
      { kind: 'tools', calls: names.map((name) => ({ id: `call_${name}`, name: 'send_webhook', arguments: { endpoint: name, body: { to: name } } })) },
      { kind: 'ok', reply: 'Done.' },
    );
    const before = receiver.deliveries.length;
    const messageId = await post(e);
    expect((await result(e, messageId)).status).toBe('completed');

    const results = toolResults(fake.requests[1].body);
    for (const name of names.slice(0, -1)) {
      expect(results.get(`call_${name}`)).toBe(`Refused: ${name} resolves to a private, loopback or link-local address, which the operator has not allowed.`);
    }
    expect(JSON.parse(results.get('call_allowed')!)).toMatchObject({ endpoint: 'allowed', status: 200 });
    // Only the allowed endpoint was delivered to: nothing reached the receiver for the refused ones.
    const got = receiver.deliveries.slice(before);
    expect(got.map((d) => d.path)).toEqual([allowed.path]);
    expect(got.map((d) => d.path)).not.toContain(literal.path);
    expect(got.map((d) => d.path)).not.toContain(byName.path);
    expect(got.map((d) => d.path)).not.toContain(decimal.path);
    const s = await status(e, messageId);
    expect(
      s.steps
        .filter((x) => x.kind === 'tool')
        .map((x) => x.status)
        .sort(),
    ).toEqual([...Array<string>(6).fill('failed'), 'completed'].sort());
  });

  it('retries 503s with the same webhook-id until the receiver accepts, and lists the tool as completed', async () => {
    const e = await employee(['send_webhook']);
    const crm = await e.endpoint('crm');
    receiver.script({ status: 503, body: 'busy' }, { status: 503, body: 'busy' }, { status: 200, body: '{"stored":true}' });
    const { messageId, got, toolResult } = await oneWebhookCall(e, 'call_retry', { endpoint: 'crm', body: { order: 9 } }, 'Stored.');

    expect(got.map((d) => d.status)).toEqual([503, 503, 200]);
    expect(got.every((d) => d.verified && d.path === crm.path)).toBe(true);
    // One id for every attempt of the call; it reached the handler once.
    expect(new Set(got.map((d) => d.id)).size).toBe(1);
    expect(receiver.handledById().get(got[0].id)).toBe(1);
    expect(got.map((d) => d.raw)).toEqual(Array(3).fill('{"order":9}'));
    // Backed off between attempts.
    expect(got[1].at - got[0].at).toBeGreaterThanOrEqual(800);
    // The model saw only the final answer; the retries were Temporal's.
    expect(toolResult).toEqual({ endpoint: 'crm', status: 200, answer: '{"stored":true}' });
    const s = await status(e, messageId);
    expect(stepsOf(s)).toEqual(['model:turn 1:completed', 'tool:send_webhook:completed', 'model:turn 2:completed']);
    expect(await h.ledger.chargeFor(e.accountId, messageId)).toMatchObject({ modelTurns: 2, toolCalls: 1 });
  });

  it('waits for a slow receiver within WEBHOOK_TIMEOUT_MS instead of sending the call again', async () => {
    // 12 s is longer than the model turn's heartbeat timeout and shorter than WEBHOOK_TIMEOUT_MS (20 s).
    const e = await employee(['send_webhook']);
    const slow = await e.endpoint('slow');
    receiver.scriptPath(slow.path, { status: 200, body: '{"slow":true}', delayMs: 12_000 });
    const { messageId, got, toolResult } = await oneWebhookCall(e, 'call_slow', { endpoint: 'slow', body: { n: 1 } }, 'Done.');
    expect(got.map((d) => [d.path, d.status])).toEqual([[slow.path, 200]]);
    expect(got[0].answeredAt! - got[0].at).toBeGreaterThanOrEqual(12_000);
    expect(toolResult).toEqual({ endpoint: 'slow', status: 200, answer: '{"slow":true}' });
    expect(stepsOf(await status(e, messageId))).toEqual(['model:turn 1:completed', 'tool:send_webhook:completed', 'model:turn 2:completed']);
  }, 60_000);

  it('does not retry a 4xx: the status goes back to the model once', async () => {
    const e = await employee(['send_webhook']);
    await e.endpoint('crm');
    receiver.script({ status: 422, body: '{"error":"order field missing"}' });
    const { messageId, got, toolResult } = await oneWebhookCall(e, 'call_422', { endpoint: 'crm', body: { wrong: true } }, 'The CRM refused it.');
    expect(got.map((d) => d.status)).toEqual([422]);
    expect(toolResult).toEqual({ endpoint: 'crm', status: 422, answer: '{"error":"order field missing"}' });
    expect(stepsOf(await status(e, messageId))).toEqual(['model:turn 1:completed', 'tool:send_webhook:failed', 'model:turn 2:completed']);
  });

  it('has a receiver that rejects a delivery whose signature does not verify', async () => {
    // The receiver's verification is real: a forged signature and a wrong secret are both refused.
    const { path } = await (await employee([])).endpoint('x');
    const before = receiver.deliveries.length;
    const forged = await fetch(`${receiver.origin}${path}`, {
      method: 'POST',
      headers: {
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      },
      body: '{"a":1}',
    });
    expect(forged.status).toBe(401);
    expect(receiver.deliveries.slice(before)).toEqual([expect.objectContaining({ id: 'msg_forged', verified: false, handled: false })]);
  });
});

describe('agent loop: without a model server', () => {
  it('still delivers the event to the inbox and charges it', async () => {
    const inboxOnly = await createHarness({ OPENAI_BASE_URL: undefined });
    try {
      expect(inboxOnly.config.OPENAI_BASE_URL).toBeUndefined();
      const acct = await inboxOnly.seedAccount();
      await inboxOnly.employees.setTools(acct.employeeId, { enable: ['send_webhook', 'remember', 'reply'] });
      const res = await inboxOnly.http
        .post('/api/webhook/')
        .set(acct.auth)
        .send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'Order #77' });
      expect(res.status).toBe(202);
      const messageId = (res.body as { message_id: string }).message_id;
      const done = (await inboxOnly.workflowHandle(acct.accountId, messageId).result()) as WebhookEventResult;
      expect(done.status).toBe('completed');
      expect(fake.requests).toHaveLength(0);
      const inbox = await inboxOnly.memory.inbox(acct.employeeId);
      expect(inbox.map((x) => [x.messageId, x.direction, x.text])).toEqual([[messageId, 'received', '[Webhook: order.completed] Order #77']]);
      const s = await inboxOnly.http.get(`/api/webhook/${messageId}`).set(acct.auth);
      expect(s.body).toMatchObject({ status: 'completed', steps: [] });
      expect(await inboxOnly.ledger.chargeFor(acct.accountId, messageId)).toMatchObject({ tokensIn: 0, tokensOut: 0, modelTurns: 0, toolCalls: 0 });
      expect(await inboxOnly.ledger.reserved(acct.accountId)).toBe(0);
    } finally {
      await inboxOnly.close();
    }
  });
});
