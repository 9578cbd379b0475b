import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { runCli as runCliUntyped } from '../helpers/run-cli';
import { suiteStores } from '../helpers/stores';

/** What the commands under test print with --json (each command fills in its own fields). */
interface CliJson {
  endpoint_id: string;
  name: string;
  url: string;
  secret: string;
  removed: boolean;
  employee_id: string;
  endpoints: Array<{ endpoint_id: string; name: string; url: string; allow_private: boolean; created_at: string }>;
  tools: string[];
  limits: { max_steps: number; max_tokens: number; deadline_ms: number; max_credits: number };
  error: { code: string; message: string };
}

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; json: CliJson }> {
  const run = await runCliUntyped(args);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, json: run.json as CliJson };
}

/** The operator's side of the agent: endpoints (secret shown once), tools on and off, limits. */
const { db, accounts, employees, endpoints } = suiteStores('cli-agent-test');
afterAll(() => db.end());

async function newEmployee(): Promise<string> {
  const account = await accounts.createAccount({ email: `${randomUUID()}@example.test`, emailVerified: true, webhookEnabled: true });
  return (await employees.createEmployee({ accountId: account.id, name: 'Ada' })).id;
}

describe('sistava endpoint', () => {
  it('add prints the endpoint and its whsec_ secret once; list never shows it; remove removes it', async () => {
    const employeeId = await newEmployee();
    const added = await runCli(['endpoint', 'add', '--employee', employeeId, '--name', 'crm', '--url', 'https://crm.example.com/hooks/orders', '--json']);
    expect(added.code).toBe(0);
    expect(Object.keys(added.json).sort()).toEqual(['endpoint_id', 'name', 'secret', 'url']);
    expect(added.json).toMatchObject({ name: 'crm', url: 'https://crm.example.com/hooks/orders' });
    const secret = added.json.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    // The secret is what deliveries are signed with, and a receiver verifies with what it was shown.
    const stored = await endpoints.forDelivery(employeeId, 'crm');
    expect(stored).toMatchObject({ id: added.json.endpoint_id, secret, allowPrivate: false });
    const at = new Date();
    const signature = new Webhook(stored!.secret).sign('msg_1', at, '{"a":1}');
    expect(() =>
      new Webhook(secret).verify('{"a":1}', {
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      }),
    ).not.toThrow();
    expect(added.stderr).not.toContain(secret);

    // In text, the secret is shown with a warning that it will not be shown again.
    const textAdd = await runCli(['endpoint', 'add', '--employee', employeeId, '--name', 'local', '--url', 'http://127.0.0.1:9/hook', '--allow-private']);
    expect(textAdd.code).toBe(0);
    const textSecret = /whsec_[A-Za-z0-9+/]{43}=/.exec(textAdd.stdout)?.[0];
    expect(textSecret).toBeDefined();
    expect(textAdd.stdout).toContain('it will not be shown again');
    expect((await endpoints.forDelivery(employeeId, 'local'))?.secret).toBe(textSecret);
    expect(textSecret).not.toBe(secret);

    const listed = await runCli(['endpoint', 'list', '--employee', employeeId, '--json']);
    expect(listed.code).toBe(0);
    expect(listed.json.employee_id).toBe(employeeId);
    expect(listed.json.endpoints.map((e) => [e.name, e.allow_private])).toEqual([
      ['crm', false],
      ['local', true],
    ]);
    for (const e of listed.json.endpoints) expect(Object.keys(e).sort()).toEqual(['allow_private', 'created_at', 'endpoint_id', 'name', 'url']);
    const listedText = await runCli(['endpoint', 'list', '--employee', employeeId]);
    for (const out of [listed.stdout, listedText.stdout, listed.stderr, listedText.stderr]) {
      expect(out).not.toContain(secret);
      expect(out).not.toContain(textSecret);
      expect(out).not.toContain('whsec_');
    }
    expect(listedText.stdout).toContain('https://crm.example.com/hooks/orders');

    // A second endpoint with the same name is refused, not overwritten (the secret stays).
    const again = await runCli(['endpoint', 'add', '--employee', employeeId, '--name', 'crm', '--url', 'https://other.example.com/', '--json']);
    expect(again.code).toBe(1);
    expect(again.json.error.code).toBe('ENDPOINT_EXISTS');
    expect((await endpoints.forDelivery(employeeId, 'crm'))?.secret).toBe(secret);

    const removed = await runCli(['endpoint', 'remove', added.json.endpoint_id, '--json']);
    expect(removed.code).toBe(0);
    expect(removed.json).toEqual({ endpoint_id: added.json.endpoint_id, name: 'crm', removed: true });
    expect((await endpoints.list(employeeId)).map((e) => e.name)).toEqual(['local']);
    expect(await endpoints.forDelivery(employeeId, 'crm')).toBeUndefined();
    const twice = await runCli(['endpoint', 'remove', added.json.endpoint_id, '--json']);
    expect(twice.code).toBe(1);
    expect(twice.json.error.code).toBe('ENDPOINT_NOT_FOUND');
  }, 60_000);

  it('refuses a URL that is not http(s), and an unknown employee', async () => {
    const employeeId = await newEmployee();
    const ftp = await runCli(['endpoint', 'add', '--employee', employeeId, '--name', 'x', '--url', 'ftp://files.example.com/', '--json']);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toContain('Expected an http or https URL');
    const unknown = await runCli(['endpoint', 'add', '--employee', randomUUID(), '--name', 'x', '--url', 'https://x.example.com/', '--json']);
    expect(unknown.code).toBe(1);
    expect(unknown.json.error.code).toBe('EMPLOYEE_NOT_FOUND');
    expect(await endpoints.list(employeeId)).toEqual([]);
  }, 30_000);
});

describe('sistava employee tools / update / show', () => {
  it('turns tools on and off', async () => {
    const employeeId = await newEmployee();
    const on = await runCli(['employee', 'tools', employeeId, '--enable', 'send_webhook,remember,reply', '--json']);
    expect(on.code).toBe(0);
    expect(on.json.tools).toEqual(['remember', 'reply', 'send_webhook']);
    const off = await runCli(['employee', 'tools', employeeId, '--disable', 'reply,send_webhook', '--json']);
    expect(off.code).toBe(0);
    expect(off.json.tools).toEqual(['remember']);
    expect((await employees.getEmployee(employeeId))?.tools).toEqual(['remember']);

    const unknown = await runCli(['employee', 'tools', employeeId, '--enable', 'remember,shell']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Expected tools among send_webhook, remember, reply');
    const nothing = await runCli(['employee', 'tools', employeeId, '--json']);
    expect(nothing.code).toBe(2);
    expect(nothing.json.error.code).toBe('INVALID_ARGUMENT');
    expect((await employees.getEmployee(employeeId))?.tools).toEqual(['remember']);
  }, 60_000);

  it('sets the limits, shown by employee show; unset ones keep the service defaults', async () => {
    const employeeId = await newEmployee();
    const before = await runCli(['employee', 'show', employeeId, '--json']);
    expect(before.code).toBe(0);
    expect(before.json).toMatchObject({
      employee_id: employeeId,
      tools: [],
      limits: {
        max_steps: 10,
        max_tokens: 1024,
        deadline_ms: 3_600_000,
        max_credits: 100,
        max_prompt_tokens: 32_000,
        max_tool_calls_per_turn: 10,
        max_tool_calls: 20,
        max_webhook_bytes: 262_144,
      },
    });

    const updated = await runCli([
      'employee',
      'update',
      employeeId,
      '--max-steps',
      '3',
      '--max-tokens',
      '200',
      '--deadline',
      '1h',
      '--max-credits',
      '50',
      '--json',
    ]);
    expect(updated.code).toBe(0);
    const shown = await runCli(['employee', 'show', employeeId, '--json']);
    expect(shown.json.limits).toEqual({
      max_steps: 3,
      max_tokens: 200,
      deadline_ms: 3_600_000,
      max_credits: 50,
      max_prompt_tokens: 32_000,
      max_tool_calls_per_turn: 10,
      max_tool_calls: 20,
      max_webhook_bytes: 262_144,
    });
    expect(updated.json.limits).toEqual(shown.json.limits);
    expect((await employees.getEmployee(employeeId))?.limits).toEqual({ maxSteps: 3, maxTokens: 200, deadlineMs: 3_600_000, maxCredits: 50 });

    // Only what is given changes.
    const partial = await runCli(['employee', 'update', employeeId, '--deadline', '90s', '--json']);
    expect(partial.json.limits).toEqual({
      max_steps: 3,
      max_tokens: 200,
      deadline_ms: 90_000,
      max_credits: 50,
      max_prompt_tokens: 32_000,
      max_tool_calls_per_turn: 10,
      max_tool_calls: 20,
      max_webhook_bytes: 262_144,
    });

    for (const bad of [
      ['--max-steps', '0'],
      ['--max-tokens', '-5'],
      ['--deadline', 'soon'],
      ['--max-credits', '1.5'],
    ]) {
      const refused = await runCli(['employee', 'update', employeeId, ...bad]);
      expect(refused.code).toBe(2);
    }
    const none = await runCli(['employee', 'update', employeeId, '--json']);
    expect(none.code).toBe(2);
    expect(none.json.error.code).toBe('INVALID_ARGUMENT');
    expect((await employees.getEmployee(employeeId))?.limits).toEqual({ maxSteps: 3, maxTokens: 200, deadlineMs: 90_000, maxCredits: 50 });
  }, 90_000);

  it('sets the prompt budget, tool caps and notes switch; refuses a budget smaller than the instructions, saying what would do', async () => {
    const employeeId = await newEmployee();
    const set = await runCli([
      'employee',
      'update',
      employeeId,
      '--max-prompt-tokens',
      '4000',
      '--max-tool-calls-per-turn',
      '2',
      '--max-tool-calls',
      '5',
      '--max-webhook-bytes',
      '1000',
      '--notes',
      'off',
      '--json',
    ]);
    expect(set.code).toBe(0);
    expect(set.json).toMatchObject({
      keep_notes: false,
      limits: { max_prompt_tokens: 4000, max_tool_calls_per_turn: 2, max_tool_calls: 5, max_webhook_bytes: 1000 },
    });

    const tooSmall = await runCli(['employee', 'update', employeeId, '--max-prompt-tokens', '10', '--json']);
    expect(tooSmall.code).toBe(2);
    expect(tooSmall.json.error.code).toBe('INVALID_ARGUMENT');
    expect(tooSmall.json.error.message).toMatch(/--max-prompt-tokens 10 is too small: .* Use at least \d+/);
    expect((await employees.getEmployee(employeeId))?.limits.maxPromptTokens).toBe(4000);
  }, 60_000);
});
