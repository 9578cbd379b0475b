import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfigOrExit, temporalAddress } from '../config';
import { quietBundlerLogger } from '../temporal/quiet-bundler-logger';
import { waitFor, type RunningService } from './services';
import { assertPortsFree, banner, ensurePostgres, ensureRedis, prepareDatabase, stopOnSignals } from './stack';
import { spawnNodeService, Supervisor } from './supervisor';
import { ensureTemporalBinaries } from './temporal-cluster/binaries';
import { waitForPollers } from './temporal-cluster/pollers';
import { postgresEndpoint } from './temporal-cluster/postgres-endpoint';
import { startTemporalCluster } from './temporal-cluster/start-cluster';
import { ensureDevSecretKeys } from '../secrets/secret-box';
import { FAILURE_CONVERTER_PATH } from '../temporal/codec';

/**
 * `npm run stack:cluster`: the production shape on one machine. A Temporal server (the real
 * `server` binary, not the dev server) with persistence and visibility on PostgreSQL and its Web
 * UI; PostgreSQL (DATABASE_URL when it answers, else our own in DATA_DIR/cluster-postgres), which
 * holds Temporal's databases and ours; Redis; two API processes (PORT and PORT+1) and two workers.
 * Every one is its own process with its own log (DATA_DIR/cluster/logs), supervised: one that
 * crashes is restarted with backoff. Ctrl-C stops the APIs and workers (they drain), then the
 * Temporal UI and server, then the servers this stack started.
 */
const API_COUNT = 2;
const WORKER_COUNT = 2;
const WORKER_METRICS_PORT = 9464;

const say = (line: string) => process.stdout.write(`[stack] ${line}\n`);

async function main(): Promise<void> {
  const began = Date.now();
  const config = loadConfigOrExit();
  const clusterDir = path.join(config.DATA_DIR, 'cluster');
  const logDir = path.join(clusterDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const started: RunningService[] = [];
  const supervisor = new Supervisor({ log: say });
  const apis = Array.from({ length: API_COUNT }, (_, i) => `api-${i + 1}`);
  const workers = Array.from({ length: WORKER_COUNT }, (_, i) => `worker-${i + 1}`);
  const stop = stopOnSignals({
    supervisor,
    groups: [[...apis, ...workers], ['temporal-ui'], ['temporal']],
    started,
    log: say,
    what: 'APIs and workers first, then the Temporal UI and server, then the servers this stack started',
  });

  try {
    const address = temporalAddress(config);
    const temporalPort = Number(address.split(':').pop());
    const uiPort = Number(new URL(config.TEMPORAL_UI_URL).port || 80);
    const metricsBase = config.WORKER_METRICS_ADDRESS ?? `127.0.0.1:${WORKER_METRICS_PORT}`;
    const [metricsHost, metricsPort] = [metricsBase.slice(0, metricsBase.lastIndexOf(':')), Number(metricsBase.split(':').pop())];
    await assertPortsFree([
      ['Temporal (TEMPORAL_ADDRESS)', temporalPort],
      ['the Temporal UI (TEMPORAL_UI_URL)', uiPort],
      ...apis.map((name, i) => [`${name} (PORT${i ? `+${i}` : ''})`, config.PORT + i] as const),
      ...workers.map((name, i) => [`${name}'s metrics (WORKER_METRICS_ADDRESS${i ? ` +${i}` : ''})`, metricsPort + i] as const),
    ]);
    const binaries = await ensureTemporalBinaries(say);

    const databaseUrl = await ensurePostgres(config, started, say, {
      dataDir: path.join(config.DATA_DIR, 'cluster-postgres'),
      logFile: path.join(logDir, 'postgres.log'),
    });
    const { demo, created, appUrl } = await prepareDatabase(databaseUrl, config, say);
    const redisUrl = await ensureRedis(config, started, say, { dir: path.join(config.DATA_DIR, 'cluster-redis'), logFile: path.join(logDir, 'redis.log') });

    const apiUrls = apis.map((_, i) => `http://localhost:${config.PORT + i}`);
    say(
      `Temporal: starting the Temporal server ${binaries.server} on ${address} (PostgreSQL ${new URL(databaseUrl).host}), UI on ${uiPort}, logs in ${logDir}`,
    );
    const temporal = await startTemporalCluster({
      postgres: postgresEndpoint(databaseUrl),
      port: temporalPort,
      uiPort,
      dataDir: path.join(clusterDir, 'temporal'),
      logDir,
      codecEndpoint: `${apiUrls[0]}/codec`,
      supervisor,
      binaries,
      log: say,
    });
    say(`Temporal: server and UI up after ${seconds(Date.now() - began)}`);

    // Bundled once here, so a worker that is restarted after a crash polls again within seconds.
    let bundlePath = config.WORKFLOW_BUNDLE_PATH;
    if (!bundlePath) {
      bundlePath = path.join(clusterDir, 'workflow-bundle.js');
      const { code } = await bundleWorkflowCode({
        workflowsPath: require.resolve('../../workflows'),
        failureConverterPath: FAILURE_CONVERTER_PATH,
        logger: quietBundlerLogger,
      });
      fs.writeFileSync(bundlePath, code);
    }
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_UI_URL: config.TEMPORAL_UI_URL,
      REDIS_URL: redisUrl,
      DATABASE_URL: databaseUrl,
      APP_DATABASE_URL: appUrl,
      // Unless SECRET_KEYS is set: the dev key prepareDatabase generated into DATA_DIR.
      SECRET_KEYS: process.env.SECRET_KEYS || ensureDevSecretKeys(config.DATA_DIR),
      WORKFLOW_BUNDLE_PATH: bundlePath,
      LOG_PRETTY: process.env.LOG_PRETTY ?? 'true',
    };
    const workerMetrics = workers.map((_, i) => `${metricsHost}:${metricsPort + i}`);
    const workerPids: number[] = [];
    for (const [i, name] of workers.entries()) {
      const workerEnv = { ...env, WORKER_METRICS_ADDRESS: workerMetrics[i] };
      const worker = await supervisor.add({
        name,
        start: async () => spawnNodeService(name, 'src/worker.ts', workerEnv, { logFile: path.join(logDir, `${name}.log`) }),
      });
      workerPids.push(worker.current!.process!.pid!);
    }
    for (const [i, name] of apis.entries()) {
      const apiEnv = { ...env, PORT: String(config.PORT + i) };
      await supervisor.add({ name, start: async () => spawnNodeService(name, 'src/api.ts', apiEnv, { logFile: path.join(logDir, `${name}.log`) }) });
    }
    await Promise.all(
      apiUrls.map((url) =>
        waitFor(
          `API at ${url}`,
          async () => {
            const res = await fetch(`${url}/readyz`);
            if (!res.ok) throw new Error(`readyz ${res.status}`);
          },
          120_000,
        ),
      ),
    );
    await waitForPollers(temporal.address, config.TEMPORAL_NAMESPACE, config.TEMPORAL_TASK_QUEUE, workerPids);
    say(`cluster stack up in ${seconds(Date.now() - began)}: Temporal server + UI, PostgreSQL, Redis, ${apis.join(', ')}, ${workers.join(', ')}`);
    banner(config, demo, created, { apiUrls, temporalUi: temporal.uiUrl!, workerMetrics, command: 'npm run stack:cluster' });
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    await stop(1);
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

void main();
