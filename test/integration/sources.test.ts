import { randomUUID } from 'node:crypto';
import { secretKeys } from '../../src/secrets/secret-box';
import { createSourceStore } from '../../src/sources/source-store';
import type { SourceStore } from '../../src/stores/sources';
import { parseHmacSettings, type HmacSettings } from '../../src/sources/kinds';
import { createHarness, eventually, type Harness, type Seeded } from '../helpers/harness';
import { github, nowSeconds, shopify, standardWebhooks, stripe, zendesk, type SenderKind, type SignOptions } from '../helpers/sender-signing';

let h: Harness;
let store: SourceStore;

beforeAll(async () => {
  h = await createHarness({ RATE_LIMIT_PER_MINUTE: '100000' });
  store = createSourceStore(h.db, secretKeys(h.config));
});
/** The closing figures per kind: the statuses of each delivery shape and the employee's inbox line. */
const figures: string[] = [];

afterAll(async () => {
  if (figures.length) console.log(`sources: closing figures\n${figures.join('\n')}`);
  await h.close();
});

interface Made {
  acct: Seeded;
  sourceId: string;
  secret: string;
}

async function makeSource(sender: SenderKind, opts: { template?: string; windowMs?: number; acct?: Seeded; credits?: number } = {}): Promise<Made> {
  const acct = opts.acct ?? (await h.seedAccount({ credits: opts.credits ?? 1000 }));
  const secret = sender.secret();
  const settings: HmacSettings | undefined = sender.settings ? parseHmacSettings(sender.settings) : undefined;
  const source = await store.add({
    employeeId: acct.employeeId,
    name: `src-${randomUUID()}`,
    kind: sender.kind,
    secret,
    settings,
    template: opts.template,
    windowMs: opts.windowMs ?? 72 * 3_600_000,
  });
  return { acct, sourceId: source.id, secret };
}

function post(sourceId: string, body: Buffer, headers: Record<string, string>) {
  return h.http
    .post(`/api/sources/${sourceId}`)
    .set(headers)
    .send(body.toString('latin1') === body.toString('utf8') ? body.toString('utf8') : body);
}

/** Sends `sender`'s delivery `id` as signed by `sign` (defaults: now, the source's secret). */
function deliver(sender: SenderKind, made: Made, id: string, over: Partial<SignOptions> & { body?: Buffer; tamper?: boolean; unsigned?: boolean } = {}) {
  const body = over.body ?? Buffer.from(sender.body(id));
  const headers = sender.sign(body, { id, ts: nowSeconds(), secrets: [made.secret], ...over });
  if (over.unsigned) {
    for (const name of Object.keys(headers)) if (/signature|hmac/i.test(name)) delete headers[name];
  }
  const sent = over.tamper ? Buffer.from(body) : body;
  if (over.tamper) sent[sent.length - 2] ^= 0x01;
  return post(made.sourceId, sent, headers);
}

async function messages(accountId: string): Promise<number> {
  const { rows } = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE account_id = $1', [accountId]);
  return rows[0].n;
}

async function reserved(accountId: string): Promise<number> {
  const { rows } = await h.db.query<{ reserved: string }>('SELECT reserved FROM credit_balances WHERE account_id = $1', [accountId]);
  return Number(rows[0].reserved);
}

const SENDERS: [string, SenderKind][] = [
  ['standard-webhooks', standardWebhooks],
  ['github', github],
  ['stripe', stripe],
  ['hmac (shopify preset)', shopify],
  ['hmac (zendesk preset)', zendesk],
];

describe.each(SENDERS)('a %s source', (name, sender) => {
  it('answers valid 202, repeated 200 duplicate, unsigned, wrong-secret and tampered 401 with nothing recorded, and the employee reads [Webhook: label]', async () => {
    const made = await makeSource(sender);
    const id = `dlv_${randomUUID()}`;
    const valid = await deliver(sender, made, id);
    expect(valid.status).toBe(202);
    expect(valid.body).toMatchObject({ status: 'accepted', employee_id: made.acct.employeeId });
    const repeated = await deliver(sender, made, id);
    expect(repeated.status).toBe(200);
    expect(repeated.body).toEqual({ status: 'duplicate', message_id: valid.body.message_id, employee_id: made.acct.employeeId });

    const before = await reserved(made.acct.accountId);
    const unsigned = await deliver(sender, made, `dlv_${randomUUID()}`, { unsigned: true });
    const wrong = await deliver(sender, made, `dlv_${randomUUID()}`, { secrets: [sender.secret()] });
    const tampered = await deliver(sender, made, `dlv_${randomUUID()}`, { tamper: true });
    const stale = sender.tolerance ? await deliver(sender, made, `dlv_${randomUUID()}`, { ts: nowSeconds() - sender.tolerance - 20 }) : undefined;
    for (const refused of [unsigned, wrong, tampered, ...(stale ? [stale] : [])]) {
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('INVALID_SIGNATURE');
      expect(refused.body.error.message).not.toContain(made.secret);
    }
    expect(await messages(made.acct.accountId)).toBe(1);
    expect(await reserved(made.acct.accountId)).toBeLessThanOrEqual(before);

    const inbox = await eventually('the inbox line', async () => (await h.memory.inbox(made.acct.employeeId))[0]);
    expect(inbox.text.startsWith(`[Webhook: ${sender.label}] `)).toBe(true);
    expect(inbox.messageId).toBe(valid.body.message_id);
    const codes = [valid, repeated, unsigned, wrong, stale, tampered].map((r) => (r ? String(r.status) : 'n/a'));
    figures.push(
      `${name}: valid ${codes[0]}, repeated ${codes[1]}, unsigned ${codes[2]}, wrong ${codes[3]}, stale ${codes[4]}, tampered ${codes[5]} | ${JSON.stringify(inbox.text)}`,
    );
  });

  if (sender.tolerance) {
    const tolerance = sender.tolerance;
    it('refuses a timestamp just outside the tolerance and accepts one just inside', async () => {
      const made = await makeSource(sender);
      const stale = await deliver(sender, made, `dlv_${randomUUID()}`, { ts: nowSeconds() - tolerance - 20 });
      expect(stale.status).toBe(401);
      expect(stale.body.error.code).toBe('INVALID_SIGNATURE');
      const future = await deliver(sender, made, `dlv_${randomUUID()}`, { ts: nowSeconds() + tolerance + 20 });
      expect(future.status).toBe(401);
      const inside = await deliver(sender, made, `dlv_${randomUUID()}`, { ts: nowSeconds() - tolerance + 20 });
      expect(inside.status).toBe(202);
      expect(await messages(made.acct.accountId)).toBe(1);
    });
  }

  it('verifies with either secret during a rotation, and only the new one once it is finished', async () => {
    const made = await makeSource(sender);
    const next = sender.secret();
    await store.rotateSecret(made.sourceId, next, false);
    expect((await deliver(sender, made, `dlv_${randomUUID()}`, { secrets: [made.secret] })).status).toBe(202);
    expect((await deliver(sender, made, `dlv_${randomUUID()}`, { secrets: [next] })).status).toBe(202);
    await store.rotateSecret(made.sourceId, undefined, true);
    expect((await deliver(sender, made, `dlv_${randomUUID()}`, { secrets: [made.secret] })).status).toBe(401);
    expect((await deliver(sender, made, `dlv_${randomUUID()}`, { secrets: [next] })).status).toBe(202);
  });

  if (sender.multiple) {
    it('accepts a request with several signatures when any one matches', async () => {
      const made = await makeSource(sender);
      const res = await deliver(sender, made, `dlv_${randomUUID()}`, { junk: true, secrets: [sender.secret(), made.secret] });
      expect(res.status).toBe(202);
      const none = await deliver(sender, made, `dlv_${randomUUID()}`, { junk: true, secrets: [sender.secret()] });
      expect(none.status).toBe(401);
    });
  }
});

describe('source deliveries', () => {
  it('answers a repeat of the delivery id with another body as a duplicate of the original (the provider id is authoritative)', async () => {
    const made = await makeSource(github);
    const id = randomUUID();
    const first = await deliver(github, made, id);
    expect(first.status).toBe(202);
    const other = await deliver(github, made, id, { body: Buffer.from(JSON.stringify({ action: 'closed', issue: { number: 1 } })) });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ status: 'duplicate', message_id: first.body.message_id });
  });

  it('keeps one delivery id per source: two sources of one account do not share it', async () => {
    const a = await makeSource(github);
    const b = await makeSource(github, { acct: a.acct });
    const id = randomUUID();
    expect((await deliver(github, a, id)).status).toBe(202);
    expect((await deliver(github, b, id)).status).toBe(202);
  });

  it('keeps the window in PostgreSQL under the source scope for the source window, apart from the Bearer endpoint', async () => {
    const made = await makeSource(stripe, { windowMs: 48 * 3_600_000 });
    const id = `evt_${randomUUID()}`;
    const bearer = await h.http
      .post('/api/webhook/')
      .set(made.acct.auth)
      .set('Idempotency-Key', id)
      .send({ employee_id: made.acct.employeeId, payload: 'same key, other channel' });
    expect(bearer.status).toBe(202);
    const res = await deliver(stripe, made, id);
    expect(res.status).toBe(202);
    const { rows } = await h.db.query<{ scope: string; created_at: Date; expires_at: Date }>(
      'SELECT scope, created_at, expires_at FROM idempotency_windows WHERE message_id = $1',
      [res.body.message_id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].scope).toBe(`source:${made.sourceId}`);
    expect(rows[0].expires_at.getTime() - rows[0].created_at.getTime()).toBe(48 * 3_600_000);
  });

  it("counts only verified deliveries against the account's rate limit, shared with the Bearer endpoint", async () => {
    const made = await makeSource(github);
    await h.accounts.updateAccount(made.acct.accountId, { rateLimitPerMinute: 2 });
    for (let i = 0; i < 5; i++) expect((await deliver(github, made, randomUUID(), { unsigned: true })).status).toBe(401);
    expect((await deliver(github, made, randomUUID())).status).toBe(202);
    const bearer = await h.http.post('/api/webhook/').set(made.acct.auth).send({ employee_id: made.acct.employeeId, payload: 'x' });
    expect(bearer.status).toBe(202);
    const limited = await deliver(github, made, randomUUID());
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('RATE_LIMITED');
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('answers a GitHub ping 200 and starts nothing', async () => {
    const made = await makeSource(github);
    const body = Buffer.from(JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }));
    const headers = { ...github.sign(body, { id: randomUUID(), ts: nowSeconds(), secrets: [made.secret] }), 'x-github-event': 'ping' };
    const res = await post(made.sourceId, body, headers);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ignored', reason: 'ping' });
    expect(await messages(made.acct.accountId)).toBe(0);
  });

  it('renders the per-source template, missing fields empty, and keeps the original body (sealed) with the message', async () => {
    const made = await makeSource(github, { template: 'New issue #{{issue.number}} "{{issue.title}}" by {{sender.login}}{{sender.missing}}' });
    const id = randomUUID();
    const res = await deliver(github, made, id);
    expect(res.status).toBe(202);
    const line = await eventually('the inbox line', async () => (await h.memory.inbox(made.acct.employeeId))[0]);
    expect(line.text).toBe(`[Webhook: issues.opened] New issue #42 "Crash on save ${id.slice(0, 4)}" by octocat`);
    const kept = await store.body(res.body.message_id);
    expect(kept?.body).toBe(github.body(id));
    const { rows } = await h.db.query<{ body: string }>('SELECT body FROM source_bodies WHERE message_id = $1', [res.body.message_id]);
    expect(rows[0].body).not.toContain('octocat');
    expect((await store.get(made.sourceId))?.lastDeliveryAt).toBeDefined();
  });

  it('hands a body that is not JSON to the employee as text, and a template over it renders empty fields', async () => {
    const made = await makeSource(github);
    const body = Buffer.from('plain words, not JSON');
    const res = await post(made.sourceId, body, github.sign(body, { id: randomUUID(), ts: nowSeconds(), secrets: [made.secret] }));
    expect(res.status).toBe(202);
    const line = await eventually('the inbox line', async () => (await h.memory.inbox(made.acct.employeeId))[0]);
    expect(line.text).toBe('[Webhook: issues] plain words, not JSON');

    const templated = await makeSource(github, { template: 'Issue #{{issue.number}}!' });
    const res2 = await post(templated.sourceId, body, github.sign(body, { id: randomUUID(), ts: nowSeconds(), secrets: [templated.secret] }));
    expect(res2.status).toBe(202);
    const line2 = await eventually('the inbox line', async () => (await h.memory.inbox(templated.acct.employeeId))[0]);
    expect(line2.text).toBe('[Webhook: issues] Issue #!');
  });

  it('accepts a 200 KB GitHub body and cuts what the employee reads to 64 KB with a note', async () => {
    const made = await makeSource(github);
    const body = Buffer.from(JSON.stringify({ action: 'synchronize', pull_request: { body: 'x'.repeat(200 * 1024) } }));
    const res = await post(made.sourceId, body, github.sign(body, { id: randomUUID(), ts: nowSeconds(), secrets: [made.secret] }));
    expect(res.status).toBe(202);
    const line = await eventually('the inbox line', async () => (await h.memory.inbox(made.acct.employeeId))[0]);
    expect(line.text.startsWith('[Webhook: issues.synchronize] ')).toBe(true);
    expect(line.text).toContain('[… cut: the body was longer than 64 KB]');
    expect(Buffer.byteLength(line.text)).toBeLessThanOrEqual(65_536 + 64);
    expect((await store.body(res.body.message_id))?.body.length).toBe(body.length);
  });

  it('answers 404 for an unknown source, 503 with Retry-After for a disabled one, 413 past the limit, 402 without credits', async () => {
    const body = Buffer.from('{}');
    expect((await post(randomUUID(), body, {})).status).toBe(404);
    expect((await post('not-a-uuid', body, {})).body.error.code).toBe('SOURCE_NOT_FOUND');

    const made = await makeSource(github);
    await store.setEnabled(made.sourceId, false);
    const off = await deliver(github, made, randomUUID());
    expect(off.status).toBe(503);
    expect(off.headers['retry-after']).toBe(String(h.config.SOURCE_RETRY_AFTER_SECONDS));
    expect(off.body.error.code).toBe('SOURCE_DISABLED');
    await store.setEnabled(made.sourceId, true);
    expect((await deliver(github, made, randomUUID())).status).toBe(202);
    await h.accounts.updateAccount(made.acct.accountId, { webhookEnabled: false });
    const channelOff = await deliver(github, made, randomUUID());
    expect(channelOff.status).toBe(503);
    expect(channelOff.headers['retry-after']).toBeDefined();
    await h.accounts.updateAccount(made.acct.accountId, { webhookEnabled: true });

    const big = Buffer.alloc(h.config.SOURCE_MAX_BODY + 1, 0x61);
    const tooLarge = await post(made.sourceId, big, github.sign(big, { id: randomUUID(), ts: nowSeconds(), secrets: [made.secret] }));
    expect(tooLarge.status).toBe(413);

    const broke = await makeSource(github, { credits: 0 });
    const poor = await deliver(github, broke, randomUUID());
    expect(poor.status).toBe(402);
    expect(poor.body.error.code).toBe('INSUFFICIENT_CREDITS');
  });
});
