import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../../config';
import { MIGRATIONS_TABLE, migrate } from './migrate';

/**
 * What the application role (the API, the worker, the CLI's day-to-day commands) may do, table by
 * table: exactly what the service's statements need. On `postings`, the ledger, only INSERT and
 * SELECT. No table is owned by it, no TRUNCATE, REFERENCES or TRIGGER anywhere, no CREATE in the
 * schema: it cannot alter, disable or drop a trigger, nor run any DDL. A new statement that needs
 * more, or a new table, gets its grant here (prepareAppRole applies the list on every migrate).
 */
export const APP_PRIVILEGES: Readonly<Record<string, readonly ('SELECT' | 'INSERT' | 'UPDATE' | 'DELETE')[]>> = {
  postings: ['SELECT', 'INSERT'],
  accounts: ['SELECT', 'INSERT', 'UPDATE'],
  credit_balances: ['SELECT', 'INSERT', 'UPDATE'],
  api_keys: ['SELECT', 'INSERT', 'UPDATE'],
  employees: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Never UPDATE: the role cannot rewrite an endpoint's signing secret. Its deliveries are counted beside it.
  endpoints: ['SELECT', 'INSERT', 'DELETE'],
  endpoint_delivery_windows: ['SELECT', 'INSERT', 'UPDATE'],
  // UPDATE: an ordered or batch event's reservation names its employee's queue workflow.
  open_reservations: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Ordered and batch modes mark a message queued and link it to its batch.
  messages: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // The rollups are upserted by the settlement (INSERT … ON CONFLICT DO UPDATE).
  usage_hourly: ['SELECT', 'INSERT', 'UPDATE'],
  usage_daily: ['SELECT', 'INSERT', 'UPDATE'],
  employee_outcomes: ['SELECT', 'INSERT'],
  employee_inbox: ['SELECT', 'INSERT'],
  // Owners clear notes and memory (sistava employee notes|memory clear, the console's "Clear").
  employee_memory: ['SELECT', 'INSERT', 'DELETE'],
  employee_notes: ['SELECT', 'INSERT', 'DELETE'],
  // Idempotency-Key windows: claimed by accept_event(), given back on a failed start, pruned when expired.
  idempotency_windows: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Event conversations (model turns by reference), pruned after a week.
  event_turns: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Signed sources (rotated, disabled, removed by their owners) and the bodies kept for replay, pruned.
  sources: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  source_bodies: ['SELECT', 'INSERT', 'DELETE'],
  // Payloads kept for replay (sealed), pruned past REPLAY_RETENTION; bulk replays and their items.
  event_payloads: ['SELECT', 'INSERT', 'DELETE'],
  bulk_replays: ['SELECT', 'INSERT', 'UPDATE'],
  bulk_replay_items: ['SELECT', 'INSERT', 'UPDATE'],
  // The console's sign-in links and sessions.
  sign_in_links: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  console_sessions: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  reconcile_runs: ['SELECT', 'INSERT'],
  // The API and worker check at start that the schema is current.
  [MIGRATIONS_TABLE]: ['SELECT'],
};

/** The file in DATA_DIR where a stack that manages the application role keeps its password (generated once, mode 600). */
export function appPasswordFile(dataDir: string): string {
  return path.join(dataDir, 'app-database-password');
}

/** The application role's name when APP_DATABASE_URL does not name one: the database's name + `_app` (`sistava_app`). */
export function defaultAppRoleName(databaseUrl: string): string {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres';
  return `${database}_app`;
}

export class AppRoleError extends Error {}

/**
 * The URL the API, the worker and the CLI connect with: APP_DATABASE_URL when set (production);
 * else DATABASE_URL's server and database as the role `prepareAppRole` made, with the password
 * kept in DATA_DIR (the dev, test and cluster stacks, and `npm run migrate` on this machine).
 */
export function appDatabaseUrl(config: Pick<Config, 'DATABASE_URL' | 'APP_DATABASE_URL' | 'DATA_DIR'>): string {
  if (config.APP_DATABASE_URL) return config.APP_DATABASE_URL;
  const file = appPasswordFile(config.DATA_DIR);
  let password: string;
  try {
    password = fs.readFileSync(file, 'utf8').trim();
  } catch {
    throw new AppRoleError(
      `No application database role: set APP_DATABASE_URL to the role the service connects as, or run \`npm run migrate\` with ` +
        `DATABASE_URL naming the tables' owner (or a superuser) on this machine: it creates the role ${defaultAppRoleName(config.DATABASE_URL)} ` +
        `and keeps its password in ${file}.`,
    );
  }
  const url = new URL(config.DATABASE_URL);
  url.username = encodeURIComponent(defaultAppRoleName(config.DATABASE_URL));
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** The password in DATA_DIR, generated on first use (256 random bits, hex: safe in a URL and in SQL). */
export function ensureAppPassword(dataDir: string): string {
  const file = appPasswordFile(dataDir);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(dataDir, { recursive: true });
  const password = randomBytes(32).toString('hex');
  // 'wx': two stacks starting at once keep the first one's password.
  try {
    fs.writeFileSync(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return fs.readFileSync(file, 'utf8').trim();
  }
  return password;
}

/** Which role to prepare, from the config: APP_DATABASE_URL's user, or the default one with DATA_DIR's password. */
export function appRoleFor(config: Pick<Config, 'DATABASE_URL' | 'APP_DATABASE_URL' | 'DATA_DIR'>): AppRoleSpec {
  if (config.APP_DATABASE_URL) {
    const url = new URL(config.APP_DATABASE_URL);
    return { role: decodeURIComponent(url.username), password: url.password ? decodeURIComponent(url.password) : undefined, managed: false };
  }
  return { role: defaultAppRoleName(config.DATABASE_URL), password: ensureAppPassword(config.DATA_DIR), managed: true };
}

export interface AppRoleSpec {
  role: string;
  /** Set on the role when it is created, and on every run when `managed`. */
  password?: string;
  /** True when this code owns the password (kept in DATA_DIR): it is set again on every run. */
  managed: boolean;
}

/**
 * Run as the owner after the migrations: creates the application role when it is missing and the
 * owner may create roles (else says exactly what an administrator must run), then sets its
 * privileges to exactly APP_PRIVILEGES (revoking anything else on the schema's tables). Refuses a
 * role that is the owner itself, a superuser, or owns a table. Idempotent, under an advisory lock.
 */
export async function prepareAppRole(ownerUrl: string, spec: AppRoleSpec, log: (line: string) => void = () => undefined): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl, application_name: 'sistava-migrate' });
  await client.connect();
  const ident = (name: string) => client.escapeIdentifier(name);
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('sistava-app-role'))`);
    const { rows: me } = await client.query<{ user: string; database: string; may_create: boolean }>(
      `SELECT current_user AS user, current_database() AS database, rolsuper OR rolcreaterole AS may_create FROM pg_roles WHERE rolname = current_user`,
    );
    const { user, database, may_create: mayCreate } = me[0];
    if (spec.role === user) {
      throw new AppRoleError(
        `The application role ${spec.role} is the migrating role itself: give APP_DATABASE_URL a role of its own (it must not own the tables).`,
      );
    }
    const { rows: existing } = await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [spec.role]);
    const password = spec.password ? ` PASSWORD ${client.escapeLiteral(spec.password)}` : '';
    if (existing.length === 0) {
      if (!mayCreate) {
        throw new AppRoleError(
          `The application role ${spec.role} does not exist and ${user} may not create roles. Ask an administrator to run ` +
            `\`CREATE ROLE ${ident(spec.role)} LOGIN PASSWORD '…' NOSUPERUSER NOCREATEDB NOCREATEROLE;\`, then migrate again: ` +
            `the migration grants it what the service needs.`,
        );
      }
      await client.query(`CREATE ROLE ${ident(spec.role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS${password}`);
      log(`PostgreSQL: created the application role ${spec.role}`);
    } else if (existing[0].rolsuper) {
      throw new AppRoleError(`The application role ${spec.role} is a superuser: it could disable the ledger's triggers. Use a plain role.`);
    } else if (spec.managed && mayCreate && spec.password) {
      await client.query(`ALTER ROLE ${ident(spec.role)} LOGIN${password}`);
    }
    // Owning a table through membership counts too: SET ROLE would give the owner's rights back.
    const { rows: owned } = await client.query<{ table: string }>(
      `SELECT tablename AS table FROM pg_tables WHERE schemaname = 'public' AND pg_has_role($1, tableowner, 'MEMBER') ORDER BY 1`,
      [spec.role],
    );
    if (owned.length > 0) {
      throw new AppRoleError(
        `The application role ${spec.role} owns tables, or is a member of their owner (${owned.map((r) => r.table).join(', ')}); it must be neither.`,
      );
    }

    await client.query(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(spec.role)}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${ident(spec.role)}`);
    // PostgreSQL 15+ already denies CREATE in public to other roles; said here for older servers.
    await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${ident(spec.role)}`);
    await client.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${ident(spec.role)}`);
    for (const [table, privileges] of Object.entries(APP_PRIVILEGES)) {
      await client.query(`GRANT ${privileges.join(', ')} ON ${ident(table)} TO ${ident(spec.role)}`);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}

/**
 * A refused login as the application role (it does not exist yet, or its password changed) becomes
 * an AppRoleError that says what to run; any other error is returned unchanged.
 */
export function explainLoginRefusal(err: unknown, url: string): unknown {
  const code = (err as { code?: string }).code;
  if (code !== '28000' && code !== '28P01') return err;
  const role = decodeURIComponent(new URL(url).username);
  return new AppRoleError(
    `PostgreSQL refused the application role ${role}: ${(err as Error).message}. Run \`npm run migrate\` with DATABASE_URL naming the ` +
      `tables' owner (it creates the role), or check APP_DATABASE_URL.`,
  );
}

/**
 * For the API and the worker at start: refuses to run as a role that could undo the ledger's
 * guards (a superuser, or the owner of a table), so a misconfigured APP_DATABASE_URL is caught.
 */
export async function assertApplicationRole(db: pg.Pool): Promise<void> {
  const { rows } = await db.query<{ user: string; superuser: boolean; owned: string[] }>(
    `SELECT current_user AS user, r.rolsuper AS superuser,
            ARRAY(SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND pg_has_role(current_user, tableowner, 'MEMBER') ORDER BY 1) AS owned
     FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const { user, superuser, owned } = rows[0];
  if (superuser || owned.length > 0) {
    throw new AppRoleError(
      `Connected to PostgreSQL as ${user}, which ${superuser ? 'is a superuser' : `owns (or is a member of the owner of) ${owned.join(', ')}`}: the service must run as the ` +
        'application role (APP_DATABASE_URL), which can neither change the ledger nor its triggers. Run `npm run migrate` to create it.',
    );
  }
}

/**
 * The owner's part of a deploy, in order: the migrations, then the application role and its
 * privileges. Returns the migrations applied and the URL the service connects with.
 */
export async function setUpDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'APP_DATABASE_URL' | 'DATA_DIR'>,
  log: (line: string) => void = () => undefined,
): Promise<{ applied: string[]; appUrl: string }> {
  const applied = await migrate(config.DATABASE_URL, log);
  await prepareAppRole(config.DATABASE_URL, appRoleFor(config), log);
  return { applied, appUrl: appDatabaseUrl(config) };
}
