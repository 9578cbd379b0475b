import fs from 'node:fs';
import path from 'node:path';
import { loadConfigOrExit, temporalAddress, type Config } from '../config';
import { ensureDevSecretKeys } from '../secrets/secret-box';
import { startTemporalDevServer, waitFor, type RunningService } from './services';
import { assertPortsFree, banner, ensurePostgres, ensureRedis, prepareDatabase, stopOnSignals } from './stack';
import { spawnNodeService, Supervisor } from './supervisor';
import { ensureTemporalCli } from './temporal-cli';

/**
 * `npm start`: the whole dev stack in one terminal. Temporal dev server (SQLite file in DATA_DIR),
 * Redis (the configured one, or a redis-server with AOF in DATA_DIR), PostgreSQL (the one at
 * DATABASE_URL, or our own with its data in DATA_DIR/postgres), one worker, one API.
 * A worker or API that crashes is restarted with backoff (supervisor.ts).
 * Ctrl-C stops the API and worker first (they drain), then the servers it started.
 */
const TEMPORAL_PORT = 7233;
const TEMPORAL_UI_PORT = 8233;
const WORKER_METRICS_PORT = 9464;

const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  fs.mkdirSync(config.DATA_DIR, { recursive: true });
  const started: RunningService[] = [];
  const supervisor = new Supervisor({ log: say });
  const stop = stopOnSignals({ supervisor, groups: [['worker', 'api']], started, log: say, what: 'API and worker first, then the servers this stack started' });

  try {
    const metricsAddress = config.WORKER_METRICS_ADDRESS ?? `127.0.0.1:${WORKER_METRICS_PORT}`;
    await assertPortsFree([
      ['the API (PORT)', config.PORT],
      ["the worker's metrics (WORKER_METRICS_ADDRESS)", Number(metricsAddress.split(':').pop())],
      ...(config.TEMPORAL_ADDRESS
        ? []
        : ([
            ['the Temporal dev server', TEMPORAL_PORT],
            ["the Temporal dev server's UI", TEMPORAL_UI_PORT],
          ] as const)),
    ]);
    const temporal = await ensureTemporal(config, started);
    const redisUrl = await ensureRedis(config, started, say, { dir: path.join(config.DATA_DIR, 'redis'), logFile: path.join(config.DATA_DIR, 'redis.log') });
    const databaseUrl = await ensurePostgres(config, started, say, {
      dataDir: path.join(config.DATA_DIR, 'postgres'),
      logFile: path.join(config.DATA_DIR, 'postgres.log'),
    });
    const { demo, created, appUrl } = await prepareDatabase(databaseUrl, config, say);

    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal,
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      APP_DATABASE_URL: appUrl,
      // Unless SECRET_KEYS is set: the dev key prepareDatabase generated into DATA_DIR.
      SECRET_KEYS: process.env.SECRET_KEYS || ensureDevSecretKeys(config.DATA_DIR),
      LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
      WORKER_METRICS_ADDRESS: metricsAddress,
    };
    for (const [name, file] of [
      ['worker', 'src/worker.ts'],
      ['api', 'src/api.ts'],
    ] as const) {
      await supervisor.add({ name, start: async () => spawnNodeService(name, file, env) });
    }
    const apiUrl = `http://localhost:${config.PORT}`;
    await waitFor(
      'API',
      async () => {
        const res = await fetch(`${apiUrl}/readyz`);
        if (!res.ok) throw new Error(`readyz ${res.status}`);
      },
      120_000,
    );
    banner(config, demo, created, {
      apiUrls: [apiUrl],
      temporalUi: config.TEMPORAL_UI_URL,
      workerMetrics: [env.WORKER_METRICS_ADDRESS],
      command: 'npm start',
    });
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

void main();
