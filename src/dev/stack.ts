import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config';
import { ensureDevSecretKeys, secretKeysFile } from '../secrets/secret-box';
import { setUpDatabase } from '../stores/postgres/app-role';
import { createPool } from '../stores/postgres/pool';
import { ensureDemo, type Demo } from './demo';
import { describePortInUse } from './port-holder';
import type { Supervisor } from './supervisor';
import { ensureDatabase, freePort, pingRedis, postgresAnswers, startPostgresServer, startRedisServer, type RunningService } from './services';

/**
 * What both dev stacks share (`npm start`: src/dev/start.ts, `npm run stack:cluster`:
 * src/dev/cluster.ts): Redis and PostgreSQL (the configured ones when they answer, else our own),
 * the migrations and the demo account, the ready banner with its curl.
 */
type Log = (line: string) => void;

/** The Redis at REDIS_URL when it answers, else a redis-server with AOF on the URL's port with its data in `dir`. */
export async function ensureRedis(config: Config, started: RunningService[], log: Log, opts: { dir: string; logFile: string }): Promise<string> {
  try {
    await pingRedis(config.REDIS_URL);
    log(`Redis: using ${config.REDIS_URL}`);
    return config.REDIS_URL;
  } catch {
    const url = new URL(config.REDIS_URL);
    const port = Number(url.port || 6379);
    log(`Redis: nothing answers at ${config.REDIS_URL}; starting redis-server on port ${port} with AOF in ${opts.dir}`);
    const server = await startRedisServer({ port, dir: opts.dir, logFile: opts.logFile });
    started.push(server);
    return config.REDIS_URL;
  }
}

/**
 * The PostgreSQL at DATABASE_URL when one answers there (its database is created if missing), else
 * our own, on the URL's port or the next free one, with its data in `dataDir`.
 */
export async function ensurePostgres(config: Config, started: RunningService[], log: Log, opts: { dataDir: string; logFile: string }): Promise<string> {
  const wanted = config.DATABASE_URL;
  const server = new URL(wanted);
  server.pathname = '/postgres';
  if ((await postgresAnswers(wanted)) || (await postgresAnswers(server.toString()))) {
    await ensureDatabase(wanted);
    log(`PostgreSQL: using ${hidePassword(wanted)}`);
    return wanted;
  }
  const database = decodeURIComponent(new URL(wanted).pathname.slice(1)) || 'sistava';
  const port = await firstFreePort(Number(new URL(wanted).port || 5432));
  log(`PostgreSQL: nothing answers at ${hidePassword(wanted)}; starting PostgreSQL on port ${port} with data in ${opts.dataDir}`);
  const postgres = await startPostgresServer({ port, dataDir: opts.dataDir, database, logFile: opts.logFile });
  started.push(postgres);
  return postgres.url;
}

/**
 * Our migrations as the owner, then the application role (its password generated once into
 * DATA_DIR/app-database-password unless APP_DATABASE_URL names one), then the demo account (created
 * once, its key kept in DATA_DIR/demo.json). Returns the URL the API and workers connect with.
 */
export async function prepareDatabase(
  databaseUrl: string,
  config: Pick<Config, 'APP_DATABASE_URL' | 'DATA_DIR' | 'SECRET_KEYS'>,
  log: Log,
): Promise<{ demo: Demo; created: boolean; appUrl: string }> {
  const { applied, appUrl } = await setUpDatabase({ DATABASE_URL: databaseUrl, APP_DATABASE_URL: config.APP_DATABASE_URL, DATA_DIR: config.DATA_DIR });
  log(applied.length ? `PostgreSQL: applied ${applied.length} migration(s): ${applied.join(', ')}` : 'PostgreSQL: schema is current');
  log(`PostgreSQL: the API and workers connect as ${decodeURIComponent(new URL(appUrl).username)} (INSERT and SELECT on the ledger, no DDL)`);
  if (!config.SECRET_KEYS) {
    const generated = !fs.existsSync(secretKeysFile(config.DATA_DIR));
    ensureDevSecretKeys(config.DATA_DIR);
    log(
      `Secrets: signing secrets are sealed with the dev key ${generated ? 'generated into' : 'kept in'} ${secretKeysFile(config.DATA_DIR)} ` +
        '(set SECRET_KEYS to use your own)',
    );
  }
  const db = createPool(appUrl, { name: 'sistava-dev-stack', max: 2 });
  const demo = await ensureDemo(db, config.DATA_DIR).finally(() => db.end());
  return { ...demo, appUrl };
}

/** True when nothing listens on `port` at 127.0.0.1. */
export function portFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * Throws, naming the first taken port, what it is for and (when findable) the process holding it,
 * unless every one is free: a stack never starts beside another one (or its orphans) on the same
 * ports, where its worker would loop failing to bind and the old one would take its tasks.
 */
export async function assertPortsFree(ports: Array<readonly [what: string, port: number]>): Promise<void> {
  for (const [what, port] of ports) {
    if (!(await portFree(port))) throw new Error(describePortInUse(port, what));
  }
}

/** `from` or one of the nine ports after it when free on loopback, else any free port. */
export async function firstFreePort(from: number): Promise<number> {
  for (let port = from; port < from + 10; port++) if (await portFree(port)) return port;
  return freePort();
}

export function hidePassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

export interface BannerOptions {
  /** Base URLs of the API processes; the curl goes to the first. */
  apiUrls: string[];
  temporalUi: string;
  /** host:port of each worker's metrics. */
  workerMetrics: string[];
  /** How to run this stack again with a model (e.g. `npm start`). */
  command: string;
}

/** The "Ready." banner: where everything is, and a curl to paste. */
export function banner(config: Config, demo: Demo, created: boolean, opts: BannerOptions): void {
  const apiUrl = opts.apiUrls[0];
  const model = config.OPENAI_BASE_URL
    ? `Employees answer with model ${config.OPENAI_MODEL} at ${config.OPENAI_BASE_URL}.`
    : 'No model server configured (OPENAI_BASE_URL): events are delivered to the employee inbox and no model is called.\n' +
      `        To use a real model: OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 ${opts.command}   (Ollama; vLLM or OpenAI work the same way)`;
  const apis = opts.apiUrls.map((url) => `${url}/api/webhook/`).join('  and  ');
  const lines = [
    '',
    `Ready. ${created ? 'Created' : 'Reusing'} the demo account ${demo.accountId} (see ${path.join(config.DATA_DIR, 'demo.json')}).`,
    `  API          ${apis}`,
    `  Console      ${apiUrl}/  (sign in by email; without SMTP_URL the API prints each sign-in link in this log)`,
    `  Temporal UI  ${opts.temporalUi}`,
    `  Metrics      ${opts.apiUrls.map((url) => `${url}/metrics`).join(', ')} (API), ${opts.workerMetrics.map((a) => `http://${a}/metrics`).join(', ')} (worker)`,
    `  Model        ${model}`,
    '',
    'Send an event:',
    `  curl -i -X POST ${apiUrl}/api/webhook/ \\`,
    `    -H "Authorization: Bearer ${demo.key}" \\`,
    '    -H "Content-Type: application/json" \\',
    '    -H "Idempotency-Key: order-1234-completed" \\',
    `    -d '{"employee_id": "${demo.employeeId}", "event": "order.completed", "payload": "Customer John placed order #1234 for $99."}'`,
    '',
    'See what the employee received:',
    `  npm run cli -- employee inbox ${demo.employeeId}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

/**
 * The stack's one way out, on Ctrl-C, SIGTERM or a failed start: the supervised processes in the
 * order given (each group at once: APIs and workers drain first), then the servers this stack
 * started, newest first. Returns the function to call with the exit code.
 */
export function stopOnSignals(opts: {
  supervisor: Supervisor;
  groups: string[][];
  started: RunningService[];
  log: Log;
  what: string;
}): (code: number) => Promise<void> {
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    opts.log(`stopping: ${opts.what} …`);
    await opts.supervisor.stopAll(opts.groups);
    for (const service of opts.started.reverse()) await service.stop();
    opts.log('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  return stop;
}
