import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KeyRingSchema } from '../../src/config';
import { isSealed, secretKeys } from '../../src/secrets/secret-box';
import { EndpointStore } from '../../src/stores/endpoints';
import { createHarness, type Harness } from '../helpers/harness';
import { findInPostgres } from '../helpers/postgres-dump';
import { runCli } from '../helpers/run-cli';

/**
 * Outbound signing secrets are stored sealed with SECRET_KEYS (here: the key the test setup generated
 * into DATA_DIR, as `npm start` does): no table holds one in plain text, and without a key no
 * endpoint can be added.
 */
let h: Harness;
const emptyDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sistava-no-keys-'));

beforeAll(async () => {
  h = await createHarness({}, { worker: false });
});
afterAll(async () => {
  await h?.close();
  fs.rmSync(emptyDataDir, { recursive: true, force: true });
});

/** The secret and its random part (without `whsec_`): neither may appear anywhere in PostgreSQL. */
const needles = (secret: string) => [secret, secret.slice('whsec_'.length)];

async function storedSecret(endpointId: string): Promise<string> {
  const { rows } = await h.db.query<{ signing_secret: string }>('SELECT signing_secret FROM endpoints WHERE id = $1', [endpointId]);
  return rows[0].signing_secret;
}

describe('signing secrets at rest', () => {
  it('are sealed when `endpoint add` creates them: no table holds the secret, and deliveries still get it', async () => {
    const acct = await h.seedAccount();
    const added = await runCli(['endpoint', 'add', '--employee', acct.employeeId, '--name', 'crm', '--url', 'https://crm.example.test/hooks', '--json']);
    expect(added.code).toBe(0);
    const { endpoint_id: endpointId, secret } = added.json as { endpoint_id: string; secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const found = await findInPostgres(h.db, needles(secret));
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(needles(secret).map((n) => [n, []])));
    expect(await storedSecret(endpointId)).toMatch(/^sealed:v1:dev1:/);

    const store = new EndpointStore(h.appDb, secretKeys(h.config));
    expect((await store.forDelivery(acct.employeeId, 'crm'))?.secret).toBe(secret);
  }, 60_000);

  it('do not open on another row: a sealed value copied onto another endpoint fails', async () => {
    const acct = await h.seedAccount();
    const store = new EndpointStore(h.appDb, secretKeys(h.config));
    const a = await store.add({ employeeId: acct.employeeId, name: 'a', url: 'https://a.example.test/' });
    const b = await store.add({ employeeId: acct.employeeId, name: 'b', url: 'https://b.example.test/' });
    await h.db.query('UPDATE endpoints SET signing_secret = $1 WHERE id = $2', [await storedSecret(a.endpoint.id), b.endpoint.id]);
    await expect(store.forDelivery(acct.employeeId, 'b')).rejects.toThrow(/failed authentication/);
    expect((await store.forDelivery(acct.employeeId, 'a'))?.secret).toBe(a.secret);
  });

  it('cannot be created without SECRET_KEYS: `endpoint add` is refused with SECRET_KEYS_MISSING and nothing is stored', async () => {
    const acct = await h.seedAccount();
    const refused = await runCli(['endpoint', 'add', '--employee', acct.employeeId, '--name', 'crm', '--url', 'https://crm.example.test/', '--json'], {
      DATA_DIR: emptyDataDir,
      APP_DATABASE_URL: process.env.TEST_APP_DATABASE_URL!,
    });
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ error: { code: 'SECRET_KEYS_MISSING', message: expect.stringMatching(/SECRET_KEYS is not set/) } });
    expect(await new EndpointStore(h.appDb).list(acct.employeeId)).toEqual([]);
  }, 60_000);

  it('stored in plain text before the key existed still sign, and `endpoint encrypt-secrets` seals them, then rotates them to a new key', async () => {
    const acct = await h.seedAccount();
    const ids = [randomUUID(), randomUUID()];
    const legacy = ids.map(() => `whsec_${randomBytes(32).toString('base64')}`);
    for (const [i, id] of ids.entries()) {
      await h.db.query('INSERT INTO endpoints (id, employee_id, name, url, signing_secret) VALUES ($1, $2, $3, $4, $5)', [
        id,
        acct.employeeId,
        `old-${i}`,
        'https://old.example.test/',
        legacy[i],
      ]);
    }
    const store = new EndpointStore(h.appDb, secretKeys(h.config));
    expect((await store.forDelivery(acct.employeeId, 'old-0'))?.secret).toBe(legacy[0]);

    const seal = (env: Record<string, string> = {}) => runCli(['endpoint', 'encrypt-secrets', '--employee', acct.employeeId, '--json'], env);
    expect((await seal()).json).toEqual({ sealed: 2, rotated: 0, already_current: 0 });
    for (const id of ids) expect(isSealed(await storedSecret(id))).toBe(true);
    const found = await findInPostgres(h.db, legacy.flatMap(needles));
    expect([...found.values()].flat()).toEqual([]);
    expect((await seal()).json).toEqual({ sealed: 0, rotated: 0, already_current: 2 });

    // Rotation: a new key first, the old one kept to open what it sealed.
    const rotatedKeys = `k2:${randomBytes(32).toString('base64')},${fs.readFileSync(path.join(process.env.TEST_DIR!, 'secret-keys'), 'utf8').trim()}`;
    expect((await seal({ SECRET_KEYS: rotatedKeys })).json).toEqual({ sealed: 0, rotated: 2, already_current: 0 });
    for (const id of ids) expect(await storedSecret(id)).toMatch(/^sealed:v1:k2:/);
    const rotatedStore = new EndpointStore(h.appDb, KeyRingSchema.parse(rotatedKeys));
    expect((await rotatedStore.forDelivery(acct.employeeId, 'old-1'))?.secret).toBe(legacy[1]);
  }, 90_000);
});
