import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApiKeyStore, hashApiKey } from '../../src/stores/api-keys';
import { findInPostgres } from '../helpers/postgres-dump';
import { suiteStores } from '../helpers/stores';

const root = path.resolve(__dirname, '../..');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json: ReturnType<typeof JSON.parse>;
}

/** Runs the real CLI in a child process against the suite's PostgreSQL (and Redis), as an operator would. */
function cli(args: string[], entry = 'src/cli/main.ts'): Promise<CliRun> {
  const [file, argv] = entry.endsWith('.cjs') ? [path.join(root, entry), args] : [path.join(root, 'node_modules/.bin/tsx'), [entry, ...args]];
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { cwd: root, env: { ...process.env, DATABASE_URL: process.env.TEST_DATABASE_URL, REDIS_URL: process.env.TEST_REDIS_URL } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr, json: args.includes('--json') ? JSON.parse(stdout) : undefined });
      },
    );
  });
}

const { db, accounts, employees, keys, ledger, memory } = suiteStores('cli-test');
afterAll(() => db.end());

const newEmail = () => `${randomUUID()}@example.test`;

describe('sistava CLI', () => {
  it('creates an account, an employee and a key that authenticates, each answering with one JSON object', async () => {
    const account = await cli(['account', 'create', '--email', newEmail(), '--verified', '--webhook-enabled', '--json']);
    expect(account.code).toBe(0);
    expect(account.json).toMatchObject({ account_id: expect.any(String), email_verified: true, webhook_enabled: true, balance: 0 });
    const accountId = account.json.account_id;

    const employee = await cli(['employee', 'create', '--account', accountId, '--name', 'Ada', '--model', 'gpt-4o', '--json']);
    expect(employee.json).toMatchObject({ employee_id: expect.any(String), account_id: accountId, name: 'Ada', model: 'gpt-4o' });
    expect(await employees.getEmployee(employee.json.employee_id)).toMatchObject({ accountId, name: 'Ada', model: 'gpt-4o' });

    const key = await cli(['key', 'create', '--account', accountId, '--name', 'ci', '--json']);
    expect(key.json).toMatchObject({ key_id: expect.any(String), key: expect.stringMatching(/^sk-/), name: 'ci' });
    expect(await keys.authenticate(key.json.key)).toEqual({ keyId: key.json.key_id, accountId });
    // The CLI printed the raw key once; the database keeps only its hash.
    const found = await findInPostgres(db, [key.json.key.slice(3), hashApiKey(key.json.key)]);
    expect([...found.values()]).toEqual([[], ['api_keys.key_hash']]);
  });

  it('lists keys in JSON and as a table without ever printing the raw key or its hash', async () => {
    const account = await accounts.createAccount({ email: newEmail() });
    const { key, info } = await keys.createApiKey(account.id, 'zapier');
    const { rows } = await db.query<{ key_hash: string }>('SELECT key_hash FROM api_keys WHERE id = $1', [info.id]);
    const hash = rows[0].key_hash;
    expect(hash).toBe(hashApiKey(key));

    const [asJson, asTable] = await Promise.all([cli(['key', 'list', '--account', account.id, '--json']), cli(['key', 'list', '--account', account.id])]);
    expect(asJson.json).toEqual({
      account_id: account.id,
      keys: [
        { key_id: info.id, account_id: account.id, name: 'zapier', prefix: info.prefix, created_at: info.createdAt, last_used_at: null, revoked_at: null },
      ],
    });
    expect(asTable.stdout).toContain(info.id);
    expect(asTable.stdout).toContain(info.prefix);
    for (const out of [asJson.stdout, asTable.stdout]) {
      expect(out).not.toContain(key);
      expect(out).not.toContain(hash);
    }
  });

  it('revokes a key so that it no longer authenticates', async () => {
    const account = await accounts.createAccount({ email: newEmail() });
    const { key, info } = await keys.createApiKey(account.id, 'old');

    const revoked = await cli(['key', 'revoke', '--account', account.id, info.id, '--json']);
    expect(revoked.code).toBe(0);
    expect(revoked.json).toMatchObject({ key_id: info.id, revoked_at: expect.any(String), already_revoked: false });
    // A store of its own: nothing cached from before the revoke.
    expect(await new ApiKeyStore(db).authenticate(key)).toBeUndefined();
    expect((await keys.getApiKey(info.id))?.revokedAt).toBe(revoked.json.revoked_at);

    const again = await cli(['key', 'revoke', '--account', account.id, info.id, '--json']);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ key_id: info.id, revoked_at: revoked.json.revoked_at, already_revoked: true });
  });

  it('adds credits and shows the balance with nothing reserved', async () => {
    const account = await accounts.createAccount({ email: newEmail() });

    const added = await cli(['credits', 'add', '--account', account.id, '--amount', '250', '--json']);
    expect(added.json).toMatchObject({ account_id: account.id, added: 250, balance: 250 });
    const shown = await cli(['credits', 'show', '--account', account.id, '--json']);
    expect(shown.json).toEqual({ account_id: account.id, balance: 250, reserved: 0 });
  });

  it('refuses an unknown account and a bad amount with an error object and a non-zero exit', async () => {
    const account = await accounts.createAccount({ email: newEmail() });
    const [unknown, badAmount] = await Promise.all([
      cli(['credits', 'show', '--account', randomUUID(), '--json']),
      cli(['credits', 'add', '--account', account.id, '--amount', 'abc', '--json']),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.json).toEqual({ error: { code: 'ACCOUNT_NOT_FOUND', message: expect.any(String) } });
    expect(unknown.stderr).toContain('No account with id');
    expect(badAmount.code).toBe(2);
    expect(badAmount.json.error.code).toBe('INVALID_ARGUMENT');
    // Nothing was posted: the balance is untouched and the ledger empty.
    expect(await ledger.counters(account.id)).toEqual({ balance: 0, reserved: 0 });
    expect(await ledger.postings(account.id)).toEqual([]);
  });

  it('shows what an employee received and replied, newest first, through the installed bin', async () => {
    const account = await accounts.createAccount({ email: newEmail() });
    const employee = await employees.createEmployee({ accountId: account.id, name: 'Ada' });
    const usage = { promptTokens: 0, completionTokens: 0, runtimeMs: 1 };
    const [m1, m2] = [randomUUID(), randomUUID()];
    await memory.record(employee.id, m1, '[Webhook] first', { runtime: 'inbox', usage });
    await memory.record(employee.id, m2, '[Webhook: order.completed] second', { runtime: 'openai', reply: 'On it.', usage });

    const inbox = await cli(['employee', 'inbox', employee.id, '--limit', '2', '--json'], 'src/cli/bin.cjs');
    expect(inbox.code).toBe(0);
    expect(inbox.json).toEqual({
      employee_id: employee.id,
      entries: [
        { at: expect.any(String), message_id: m2, direction: 'replied', text: 'On it.' },
        { at: expect.any(String), message_id: m2, direction: 'received', text: '[Webhook: order.completed] second' },
      ],
    });
  });
});
