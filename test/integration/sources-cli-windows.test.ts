import { createHmac, randomUUID } from 'node:crypto';
import { createHarness, eventually, type Harness } from '../helpers/harness';
import { runCli } from '../helpers/run-cli';

/**
 * The operator's path (the real CLI in a child process) and the dedupe window over time: a short
 * Bearer window (1 s) and a short source window (3 s), so the test waits seconds, not days.
 */
const BEARER_WINDOW_MS = 1_000;
const SOURCE_WINDOW = '3s';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({ IDEMPOTENCY_WINDOW_MS: String(BEARER_WINDOW_MS) });
});
afterAll(() => h.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function githubDelivery(sourceId: string, secret: string, id: string, body = JSON.stringify({ action: 'opened', issue: { number: 7 } })) {
  return h.http
    .post(`/api/sources/${sourceId}`)
    .set({
      'content-type': 'application/json',
      'x-github-event': 'issues',
      'x-github-delivery': id,
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    })
    .send(body);
}

describe('sistava source (CLI)', () => {
  it('adds a source, prints its URL and a generated secret once, lists it without secrets, rotates, disables, enables and removes it', async () => {
    const acct = await h.seedAccount();
    const added = await runCli(['source', 'add', '--employee', acct.employeeId, '--name', 'gh', '--kind', 'github', '--window', SOURCE_WINDOW, '--json']);
    expect(added.code).toBe(0);
    expect(Object.keys(added.json).sort()).toEqual(['secret', 'source_id', 'url']);
    expect(added.json.url).toMatch(new RegExp(`/api/sources/${added.json.source_id}$`));
    const { source_id: id, secret } = added.json as { source_id: string; secret: string };
    expect(secret.length).toBeGreaterThanOrEqual(32);

    const listed = await runCli(['source', 'list', '--employee', acct.employeeId, '--json']);
    expect(listed.json.sources).toEqual([expect.objectContaining({ source_id: id, kind: 'github', enabled: true, window_ms: 3_000, secrets: 1 })]);
    expect(listed.stdout).not.toContain(secret);

    expect((await githubDelivery(id, secret, randomUUID())).status).toBe(202);
    const rotated = await runCli(['source', 'rotate-secret', id, '--json']);
    expect(rotated.json.secrets).toBe(2);
    expect((await githubDelivery(id, secret, randomUUID())).status).toBe(202);
    expect((await githubDelivery(id, rotated.json.secret as string, randomUUID())).status).toBe(202);
    expect((await runCli(['source', 'rotate-secret', id, '--finish', '--json'])).json.secrets).toBe(1);
    expect((await githubDelivery(id, secret, randomUUID())).status).toBe(401);

    expect((await runCli(['source', 'disable', id, '--json'])).json.enabled).toBe(false);
    expect((await githubDelivery(id, rotated.json.secret as string, randomUUID())).status).toBe(503);
    expect((await runCli(['source', 'enable', id, '--json'])).json.enabled).toBe(true);
    expect((await runCli(['source', 'remove', id, '--json'])).json.removed).toBe(true);
    expect((await githubDelivery(id, rotated.json.secret as string, randomUUID())).status).toBe(404);
  });

  it.each([
    [['--kind', 'gitlab'], /Unknown source kind "gitlab"/],
    [['--kind', 'hmac', '--preset', 'paypal'], /Unknown preset "paypal"/],
    [['--kind', 'github', '--template', 'Issue {{issue.number'], /unclosed/],
    [['--kind', 'github', '--template', 'Issue {{ a b }}'], /not a dotted field path/],
    [['--kind', 'hmac', '--header', 'x-sig', '--signed', 'ts.body'], /needs --timestamp-header/],
  ])('refuses %j at source add with a clear error and adds nothing', async (args, message) => {
    const acct = await h.seedAccount();
    const run = await runCli(['source', 'add', '--employee', acct.employeeId, '--name', 'x', ...args, '--json']);
    expect(run.code).toBe(2);
    expect(run.json.error.code).toBe('INVALID_ARGUMENT');
    expect(run.json.error.message).toMatch(message);
    expect((await runCli(['source', 'list', '--employee', acct.employeeId, '--json'])).json.sources).toEqual([]);
  });

  it('keeps a delivery id a duplicate past the Bearer window, and makes it a new event past the source window', async () => {
    const acct = await h.seedAccount();
    const added = await runCli(['source', 'add', '--employee', acct.employeeId, '--name', 'gh', '--kind', 'github', '--window', SOURCE_WINDOW, '--json']);
    const { source_id: id, secret } = added.json as { source_id: string; secret: string };
    const delivery = randomUUID();
    const first = await githubDelivery(id, secret, delivery);
    expect(first.status).toBe(202);
    await sleep(BEARER_WINDOW_MS + 500);
    const repeat = await githubDelivery(id, secret, delivery);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ status: 'duplicate', message_id: first.body.message_id });
    // The first event must have finished, or a repeat past the window is still its running workflow's duplicate.
    await eventually('the first event in the inbox', async () => ((await h.memory.inbox(acct.employeeId)).length > 0 ? true : undefined));
    await sleep(3_000 - BEARER_WINDOW_MS);
    const later = await githubDelivery(id, secret, delivery);
    expect(later.status).toBe(202);
    expect(later.body.message_id).not.toBe(first.body.message_id);
  });
});
