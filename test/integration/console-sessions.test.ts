import { randomUUID } from 'node:crypto';
import { ConsoleSessionStore } from '../../src/stores/console-sessions';
import { eventually } from '../helpers/harness';
import { findInPostgres } from '../helpers/postgres-dump';
import { suiteStores } from '../helpers/stores';

const stores = suiteStores('test-console-sessions');
const sessions = new ConsoleSessionStore(stores.db);
const HOUR = 3_600_000;

afterAll(() => stores.db.end());

async function newAccount() {
  return stores.accounts.createAccount({ email: `${randomUUID()}@example.test`, emailVerified: true });
}

describe('console sessions and sign-in links in PostgreSQL', () => {
  it('let exactly one of many concurrent openings of a link through', async () => {
    const email = `${randomUUID()}@example.test`;
    const token = await sessions.createLink(email, 15 * 60_000);
    const results = await Promise.all(Array.from({ length: 8 }, () => sessions.consumeLink(token)));
    expect(results.filter((r) => r === email)).toHaveLength(1);
    expect(results.filter((r) => r === undefined)).toHaveLength(7);
  });

  it('store link tokens and session ids only as hashes', async () => {
    const account = await newAccount();
    const token = await sessions.createLink(account.email, 15 * 60_000);
    const sessionId = await sessions.createSession(account.id, HOUR);
    const { csrfToken } = (await sessions.resolve(sessionId, HOUR))!;
    const found = await findInPostgres(stores.db, [token, sessionId]);
    expect([...found.values()].flat()).toEqual([]);
    // The CSRF token is stored as it is sent: it proves only that a form came from a page of this session.
    expect(csrfToken).toHaveLength(43);
  });

  it('end a session that has been idle too long, and one past its absolute end however busy', async () => {
    const account = await newAccount();
    const idle = await sessions.createSession(account.id, HOUR);
    expect(await sessions.resolve(idle, HOUR)).toMatchObject({ account: { id: account.id } });
    await eventually('the session to count as idle for 50 ms', async () => ((await sessions.resolve(idle, 50)) === undefined ? true : undefined), 5_000);

    const short = await sessions.createSession(account.id, 200);
    expect(await sessions.resolve(short, HOUR)).toBeDefined();
    await eventually('the session to pass its absolute end', async () => ((await sessions.resolve(short, HOUR)) === undefined ? true : undefined), 5_000);
  });

  it('sign out one session, or every session of the account', async () => {
    const account = await newAccount();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => sessions.createSession(account.id, HOUR)));
    await sessions.end(a);
    expect(await sessions.resolve(a, HOUR)).toBeUndefined();
    expect(await sessions.resolve(b, HOUR)).toBeDefined();
    await sessions.endAll(account.id);
    expect(await sessions.resolve(b, HOUR)).toBeUndefined();
    expect(await sessions.resolve(c, HOUR)).toBeUndefined();
  });

  it("clear an account's ended sessions when it opens a new one", async () => {
    const account = await newAccount();
    await sessions.createSession(account.id, 1);
    await eventually('the short session to end', async () => {
      const { rows } = await stores.db.query('SELECT count(*)::int AS n FROM console_sessions WHERE account_id = $1 AND expires_at <= now()', [account.id]);
      return rows[0].n === 1 ? true : undefined;
    });
    await sessions.createSession(account.id, HOUR);
    const { rows } = await stores.db.query('SELECT count(*)::int AS n FROM console_sessions WHERE account_id = $1', [account.id]);
    expect(rows[0].n).toBe(1);
  });
});
