import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { APP_PRIVILEGES, defaultAppRoleName } from '../../src/stores/postgres/app-role';
import { createHarness, eventually, type Harness } from '../helpers/harness';
import { killAllServices, startService } from '../helpers/processes';

/**
 * Two roles: the owner migrates; the API, the worker and the CLI connect as the application role,
 * which may only INSERT and SELECT postings and can neither change the ledger's guards nor run DDL.
 */
let h: Harness;
const appRole = defaultAppRoleName(process.env.TEST_DATABASE_URL!);

beforeAll(async () => {
  h = await createHarness({}, { worker: false });
});
afterAll(async () => {
  await killAllServices();
  await h?.close();
});

const denied = { code: '42501' };

describe('the application role', () => {
  it('is the role the harness’s API connects as: not a superuser, owning no table, not the owner of the ledger', async () => {
    const { rows } = await h.appDb.query<{ user: string; rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean; owned: number }>(
      `SELECT current_user AS user, rolsuper, rolcreaterole, rolcreatedb,
              (SELECT count(*)::int FROM pg_tables WHERE tableowner = current_user) AS owned
       FROM pg_roles WHERE rolname = current_user`,
    );
    expect(rows).toEqual([{ user: appRole, rolsuper: false, rolcreaterole: false, rolcreatedb: false, owned: 0 }]);
    const { rows: owner } = await h.db.query<{ tableowner: string }>(`SELECT tableowner FROM pg_tables WHERE tablename = 'postings'`);
    expect(owner[0].tableowner).not.toBe(appRole);
  });

  it('holds exactly the privileges the service’s statements need, and on postings only INSERT and SELECT', async () => {
    const { rows } = await h.db.query<{ table_name: string; privileges: string[] }>(
      `SELECT table_name, array_agg(privilege_type::text ORDER BY privilege_type) AS privileges
       FROM information_schema.role_table_grants WHERE grantee = $1 GROUP BY table_name`,
      [appRole],
    );
    const held = Object.fromEntries(rows.map((r) => [r.table_name, r.privileges]));
    const wanted = Object.fromEntries(Object.entries(APP_PRIVILEGES).map(([table, privileges]) => [table, [...privileges].sort()]));
    expect(held).toEqual(wanted);
    expect(held.postings).toEqual(['INSERT', 'SELECT']);
  });

  it.each([
    ['ALTER TABLE postings DISABLE TRIGGER postings_no_update_or_delete'],
    ['ALTER TABLE postings DISABLE TRIGGER ALL'],
    ['DROP TRIGGER postings_no_update_or_delete ON postings'],
    ['DROP TRIGGER postings_no_truncate ON postings'],
    ['ALTER TABLE postings DROP CONSTRAINT postings_sign_by_kind'],
    ['UPDATE postings SET credits = credits + 1000000'],
    ['DELETE FROM postings'],
    ['TRUNCATE postings'],
    ['TRUNCATE credit_balances'],
    ['DELETE FROM credit_balances'],
    ['DROP FUNCTION postings_are_append_only() CASCADE'],
    ['CREATE TABLE sneaky (id int)'],
    ["SET session_replication_role = 'replica'"],
  ])('refuses `%s`, and the ledger keeps every posting', async (sql) => {
    const acct = await h.seedAccount({ credits: 100 });
    const before = await h.ledger.postings(acct.accountId);
    const client = await h.appDb.connect();
    try {
      // In a transaction rolled back whatever happens: were a guard ever missing, the shared database would not keep the change.
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '10s'`);
      await expect(client.query(sql)).rejects.toMatchObject(denied);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await h.ledger.postings(acct.accountId)).toEqual(before);
    expect(await h.ledger.balance(acct.accountId)).toBe(100);
    const { rows } = await h.db.query<{ tgname: string; tgenabled: string }>(
      `SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'postings'::regclass AND NOT tgisinternal ORDER BY tgname`,
    );
    expect(rows).toEqual([
      { tgname: 'postings_no_truncate', tgenabled: 'O' },
      { tgname: 'postings_no_update_or_delete', tgenabled: 'O' },
    ]);
  });
});

describe('the API and the worker, given only DATABASE_URL (the owner)', () => {
  it('connect as the application role: their sessions in pg_stat_activity show it', async () => {
    const env = { PORT: '0', HOST: '127.0.0.1', TEMPORAL_TASK_QUEUE: `roles-${randomUUID()}`, RECONCILE_INTERVAL: '8760h' };
    const api = startService('src/api.ts', env);
    const worker = startService('src/worker.ts', env);
    const sessions = async () =>
      (
        await h.db.query<{ application_name: string; usename: string }>(
          `SELECT application_name, usename FROM pg_stat_activity WHERE datname = current_database() AND application_name IN ('sistava-api', 'sistava-worker') ORDER BY 1, 2`,
        )
      ).rows;
    const seen = await eventually(
      'the API’s and the worker’s sessions',
      async () => {
        const rows = await sessions();
        const names = new Set(rows.map((r) => r.application_name));
        return names.has('sistava-api') && names.has('sistava-worker') ? rows : undefined;
      },
      60_000,
    );
    expect(new Set(seen.map((r) => r.usename))).toEqual(new Set([appRole]));
    process.stdout.write(`[roles] ${[...new Set(seen.map((r) => `${r.application_name} as ${r.usename}`))].join(', ')}\n`);
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    await Promise.all([api.stop(), worker.stop()]);
  }, 90_000);

  it('refuse to start as a role that is a member of the tables’ owner (SET ROLE would give its rights back)', async () => {
    const member = `member_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    await h.db.query(`CREATE ROLE ${member} LOGIN PASSWORD 'member'`);
    try {
      const owner = (await h.db.query<{ tableowner: string }>(`SELECT tableowner FROM pg_tables WHERE tablename = 'postings'`)).rows[0].tableowner;
      await h.db.query(`GRANT ${owner} TO ${member}`);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      Object.assign(url, { username: member, password: 'member' });
      const api = startService('src/api.ts', { PORT: '0', HOST: '127.0.0.1', APP_DATABASE_URL: url.toString() });
      expect(await api.exited).toBe(1);
      expect(api.output.join('')).toMatch(new RegExp(`Connected to PostgreSQL as ${member}, which owns \\(or is a member of the owner of\\) .*postings`));
    } finally {
      await h.db.query(`DROP ROLE IF EXISTS ${member}`);
    }
  }, 60_000);

  it('refuse to start when APP_DATABASE_URL names the owner', async () => {
    const api = startService('src/api.ts', { PORT: '0', HOST: '127.0.0.1', APP_DATABASE_URL: process.env.TEST_DATABASE_URL });
    expect(await api.exited).toBe(1);
    expect(api.output.join('')).toMatch(/api failed to start: Connected to PostgreSQL as postgres, which is a superuser/);
  }, 60_000);
});

describe('a migration by an owner that may not create roles', () => {
  it('grants an application role an administrator made (APP_DATABASE_URL, as in compose) exactly its privileges, and the API starts as it', async () => {
    const admin = new pg.Pool({ connectionString: process.env.TEST_DATABASE_URL, max: 1 });
    const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
    const [owner, app, database] = [`owner_${suffix}`, `app_${suffix}`, `made_${suffix}`];
    try {
      await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner'`);
      await admin.query(`CREATE ROLE ${app} LOGIN PASSWORD 'app' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
      await admin.query(`CREATE DATABASE ${database} OWNER ${owner}`);
      const at = (user: string, password: string) => {
        const url = new URL(process.env.TEST_DATABASE_URL!);
        Object.assign(url, { username: user, password, pathname: `/${database}` });
        return url.toString();
      };
      const env = { DATABASE_URL: at(owner, 'owner'), APP_DATABASE_URL: at(app, 'app') };
      const migrate = startService('src/migrate.ts', env);
      expect(await migrate.exited).toBe(0);
      expect(migrate.output.join('')).toContain(`The service connects as ${app}.`);

      const asApp = new pg.Client({ connectionString: env.APP_DATABASE_URL });
      await asApp.connect();
      try {
        const { rows } = await asApp.query<{ table_name: string; privileges: string[] }>(
          `SELECT table_name, array_agg(privilege_type::text ORDER BY privilege_type) AS privileges
           FROM information_schema.role_table_grants WHERE grantee = current_user GROUP BY table_name`,
        );
        const wanted = Object.fromEntries(Object.entries(APP_PRIVILEGES).map(([table, privileges]) => [table, [...privileges].sort()]));
        expect(Object.fromEntries(rows.map((r) => [r.table_name, r.privileges]))).toEqual(wanted);
        await expect(asApp.query('DELETE FROM postings')).rejects.toMatchObject(denied);
      } finally {
        await asApp.end();
      }
      const api = startService('src/api.ts', { ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
      try {
        await eventually('the API listening', async () => (api.output.join('').includes('api listening') ? true : undefined), 30_000);
      } finally {
        await api.stop();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${app}`);
      await admin.query(`DROP ROLE IF EXISTS ${owner}`);
      await admin.end();
    }
  }, 90_000);

  it('fails and says what an administrator must run', async () => {
    const admin = new pg.Pool({ connectionString: process.env.TEST_DATABASE_URL, max: 1 });
    const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
    const [owner, database] = [`owner_${suffix}`, `roles_${suffix}`];
    try {
      await admin.query(`CREATE ROLE ${owner} LOGIN PASSWORD 'owner'`);
      await admin.query(`CREATE DATABASE ${database} OWNER ${owner}`);
      const url = new URL(process.env.TEST_DATABASE_URL!);
      Object.assign(url, { username: owner, password: 'owner', pathname: `/${database}` });
      const migrate = startService('src/migrate.ts', { DATABASE_URL: url.toString() });
      expect(await migrate.exited).toBe(1);
      const output = migrate.output.join('');
      expect(output).toContain(`The application role ${database}_app does not exist and ${owner} may not create roles.`);
      expect(output).toContain(`CREATE ROLE "${database}_app" LOGIN PASSWORD`);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${owner}`);
      await admin.end();
    }
  }, 60_000);
});
