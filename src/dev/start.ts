import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadConfigOrExit, temporalAddress, type Config } from '../config';
import { migrate } from '../stores/postgres/migrate';
import { createPool } from '../stores/postgres/pool';
import { ensureDemo, type Demo } from './demo';
import { ensureDatabase, freePort, pingRedis, postgresAnswers, startPostgresServer, startRedisServer, stopProcess, startTemporalDevServer, waitFor, type RunningService } from './services';
import { ensureTemporalCli } from './temporal-cli';

/**
 * `npm start`: the whole dev stack in one terminal. Temporal dev server (SQLite file in DATA_DIR),
 * Redis (the configured one, or a redis-server with AOF in DATA_DIR), PostgreSQL (the one at
 * DATABASE_URL, or our own with its data in DATA_DIR/postgres), one worker, one API.
 * Ctrl-C stops the API and worker first (they drain), then the servers it started.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const WORKER_METRICS_PORT = 9464;

const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const started: RunningService[] = [];
  const children: ChildProcess[] = [];
  let stopping = false;

  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping: API and worker first, then the servers this stack started …');
    await Promise.all(children.map((c) => stopProcess(c)));
    for (const service of started.reverse()) await service.stop();
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const temporal = await ensureTemporal(config, started);
    const redisUrl = await ensureRedis(config, started);
    const databaseUrl = await ensurePostgres(config, started);
    const applied = await migrate(databaseUrl);
    say(applied.length ? `PostgreSQL: applied ${applied.length} migration(s): ${applied.join(', ')}` : 'PostgreSQL: schema is current');
    const db = createPool(databaseUrl, { name: 'sistava-dev-stack', max: 2 });
    const { demo, created } = await ensureDemo(db, config.DATA_DIR).finally(() => db.end());

    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal,
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
      WORKER_METRICS_ADDRESS: config.WORKER_METRICS_ADDRESS ?? `127.0.0.1:${WORKER_METRICS_PORT}`,
    };
    for (const [name, file] of [['worker', 'src/worker.ts'], ['api', 'src/api.ts']] as const) {
      const child = runChild(name, file, env);
      child.once('exit', (code) => {
        if (!stopping) {
          say(`${name} exited unexpectedly (${code}); stopping the stack.`);
          void stop(1);
        }
      });
      children.push(child);
    }
    const apiUrl = `http://localhost:${config.PORT}`;
    await waitFor('API', async () => {
      const res = await fetch(`${apiUrl}/readyz`);
      if (!res.ok) throw new Error(`readyz ${res.status}`);
    }, 120_000);
    banner(config, demo, created, apiUrl);
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    await stop(1);
  }
}

async function ensureTemporal(config: Config, started: RunningService[]): Promise<string> {
  if (config.TEMPORAL_ADDRESS) {
    say(`Temporal: using ${config.TEMPORAL_ADDRESS} (TEMPORAL_ADDRESS)`);
    return config.TEMPORAL_ADDRESS;
  }
  const cli = await ensureTemporalCli(config.TEMPORAL_CLI);
  const dbFile = path.join(config.DATA_DIR, 'temporal.db');
  say(`Temporal: starting the dev server (${cli ?? 'SDK download'}) on 127.0.0.1:${TEMPORAL_PORT}, UI on ${TEMPORAL_UI_PORT}, database ${dbFile}`);
  const server = await startTemporalDevServer({
    cli,
    port: TEMPORAL_PORT,
    uiPort: TEMPORAL_UI_PORT,
    dbFile,
    logFile: path.join(config.DATA_DIR, 'temporal.log'),
  });
  started.push(server);
  return temporalAddress(config);
}

async function ensureRedis(config: Config, started: RunningService[]): Promise<string> {
  try {
    await pingRedis(config.REDIS_URL);
    say(`Redis: using ${config.REDIS_URL}`);
    return config.REDIS_URL;
  } catch {
    const url = new URL(config.REDIS_URL);
    const port = Number(url.port || 6379);
    const dir = path.join(config.DATA_DIR, 'redis');
    say(`Redis: nothing answers at ${config.REDIS_URL}; starting redis-server on port ${port} with AOF in ${dir}`);
    const server = await startRedisServer({ port, dir, logFile: path.join(config.DATA_DIR, 'redis.log') });
    started.push(server);
    return config.REDIS_URL;
  }
}

/**
 * The PostgreSQL at DATABASE_URL when one answers there (its database is created if missing), else
 * our own, on the URL's port or the next free one, with its data in DATA_DIR/postgres.
 */
async function ensurePostgres(config: Config, started: RunningService[]): Promise<string> {
  const wanted = config.DATABASE_URL;
  const server = new URL(wanted);
  server.pathname = '/postgres';
  if ((await postgresAnswers(wanted)) || (await postgresAnswers(server.toString()))) {
    await ensureDatabase(wanted);
    say(`PostgreSQL: using ${hidePassword(wanted)}`);
    return wanted;
  }
  const database = decodeURIComponent(new URL(wanted).pathname.slice(1)) || 'sistava';
  const dataDir = path.join(config.DATA_DIR, 'postgres');
  const port = await firstFreePort(Number(new URL(wanted).port || 5432));
  say(`PostgreSQL: nothing answers at ${hidePassword(wanted)}; starting PostgreSQL on port ${port} with data in ${dataDir}`);
  const postgres = await startPostgresServer({ port, dataDir, database, logFile: path.join(config.DATA_DIR, 'postgres.log') });
  started.push(postgres);
  return postgres.url;
}

/** `from` or one of the nine ports after it when free on loopback, else any free port. */
async function firstFreePort(from: number): Promise<number> {
  for (let port = from; port < from + 10; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer().once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  return freePort();
}

function hidePassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function runChild(name: string, file: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  return child;
}

function banner(config: Config, demo: Demo, created: boolean, apiUrl: string): void {
  const model = config.OPENAI_BASE_URL
    ? `Employees answer with model ${config.OPENAI_MODEL} at ${config.OPENAI_BASE_URL}.`
    : 'No model server configured (OPENAI_BASE_URL): events are delivered to the employee inbox and no model is called.\n' +
      '        To use a real model: OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 npm start   (Ollama; vLLM or OpenAI work the same way)';
  const lines = [
    '',
    `Ready. ${created ? 'Created' : 'Reusing'} the demo account ${demo.accountId} (see ${path.join(config.DATA_DIR, 'demo.json')}).`,
    `  API          ${apiUrl}/api/webhook/`,
    `  Temporal UI  ${config.TEMPORAL_UI_URL}`,
    `  Metrics      ${apiUrl}/metrics (API), http://${config.WORKER_METRICS_ADDRESS ?? `127.0.0.1:${WORKER_METRICS_PORT}`}/metrics (worker)`,
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

void main();
