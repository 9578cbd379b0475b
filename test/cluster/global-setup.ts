import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { quietBundlerLogger } from '../../src/temporal/quiet-bundler-logger';
import { freePort, makeRunDir, startPostgresServer, startRedisServer, waitFor } from '../../src/dev/services';
import { spawnNodeService, Supervisor } from '../../src/dev/supervisor';
import { ensureTemporalBinaries } from '../../src/dev/temporal-cluster/binaries';
import { waitForPollers } from '../../src/dev/temporal-cluster/pollers';
import { postgresEndpoint } from '../../src/dev/temporal-cluster/postgres-endpoint';
import { startTemporalCluster } from '../../src/dev/temporal-cluster/start-cluster';
import { ensureDevSecretKeys } from '../../src/secrets/secret-box';
import { setUpDatabase } from '../../src/stores/postgres/app-role';
import { startFakeModelServer } from '../helpers/fake-model-server';
import { API_NAMES, CLUSTER_TASK_QUEUE, FAKE_MODEL_MS, WORKER_NAMES, type ClusterState } from './cluster-env';
import { FAILURE_CONVERTER_PATH } from '../../src/temporal/codec';

/**
 * Once per `npm run drills:cluster`: the cluster stack of `npm run stack:cluster` on free ports in a
 * temporary folder. PostgreSQL (holding Temporal's databases and ours), the Temporal server on it,
 * Redis, a fake model server (every answer takes FAKE_MODEL_MS, so events stay in flight), two API
 * processes and two workers. All of them run under one Supervisor, which restarts what crashes.
 * Drills kill processes by pid (from GET /state) or through POST /kill on a control server here.
 */
export default async function globalSetup(): Promise<void> {
  const began = Date.now();
  const dir = makeRunDir('sistava-cluster-');
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const supervisorLog = path.join(dir, 'supervisor.log');
  const log = (line: string) => {
    fs.appendFileSync(supervisorLog, `${new Date().toISOString()} ${line}\n`);
    process.stdout.write(`[stack] ${line}\n`);
  };
  const supervisor = new Supervisor({ log });
  process.stdout.write(`\n[cluster] starting the cluster stack in ${dir}\n`);

  const binaries = await ensureTemporalBinaries(log);
  const [pgPort, redisPort, temporalPort] = [await freePort(), await freePort(), await freePort()];
  const [postgres, bundle, fake] = await Promise.all([
    supervisor.add({
      name: 'postgres',
      start: () => startPostgresServer({ port: pgPort, dataDir: path.join(dir, 'postgres'), logFile: path.join(logDir, 'postgres.log') }),
    }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietBundlerLogger }),
    startFakeModelServer(),
  ]);
  fake.setDefault({ kind: 'hang', ms: FAKE_MODEL_MS });
  const databaseUrl = `postgres://postgres:postgres@127.0.0.1:${pgPort}/sistava`;
  // As the owner; the APIs and workers then connect as the application role.
  const { appUrl } = await setUpDatabase({ DATABASE_URL: databaseUrl, DATA_DIR: dir });
  const secretKeys = ensureDevSecretKeys(dir);
  await supervisor.add({
    name: 'redis',
    start: () => startRedisServer({ port: redisPort, dir: path.join(dir, 'redis'), appendfsync: 'always', logFile: path.join(logDir, 'redis.log') }),
  });
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(bundlePath, bundle.code);

  const temporal = await startTemporalCluster({
    postgres: postgresEndpoint(databaseUrl),
    port: temporalPort,
    dataDir: path.join(dir, 'temporal'),
    logDir,
    supervisor,
    binaries,
    log,
  });

  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    APP_DATABASE_URL: appUrl,
    SECRET_KEYS: secretKeys,
    REDIS_URL: redisUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: CLUSTER_TASK_QUEUE,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    OPENAI_BASE_URL: fake.baseURL,
    LOG_PRETTY: 'false',
  };
  const workerPids: number[] = [];
  for (const name of WORKER_NAMES) {
    const worker = await supervisor.add({
      name,
      start: async () => spawnNodeService(name, 'src/worker.ts', { ...env, LOG_LEVEL: 'info' }, { logFile: path.join(logDir, `${name}.log`), echo: false }),
    });
    workerPids.push(worker.current!.process!.pid!);
  }
  const apiUrls: string[] = [];
  for (const name of API_NAMES) {
    const port = await freePort();
    apiUrls.push(`http://127.0.0.1:${port}`);
    const apiEnv = { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    await supervisor.add({ name, start: async () => spawnNodeService(name, 'src/api.ts', apiEnv, { logFile: path.join(logDir, `${name}.log`), echo: false }) });
  }
  const ready = async (url: string) => {
    const res = await fetch(`${url}/readyz`);
    if (!res.ok) throw new Error(`readyz ${res.status}`);
  };
  await Promise.all(apiUrls.map((url) => waitFor(`API at ${url}`, () => ready(url), 120_000)));
  await waitForPollers(temporal.address, 'default', CLUSTER_TASK_QUEUE, workerPids);

  // The drills' handle on the stack: its processes (pids, restarts), and a kill that goes through
  // each service's own stop (PostgreSQL's SIGKILL takes its whole process family down).
  const control = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/state') {
      const state: ClusterState = { children: supervisor.state(), fakeModelRequests: fake.requests.length };
      return reply(200, state);
    }
    if (req.method === 'POST' && url.pathname === '/kill') {
      const child = supervisor.get(url.searchParams.get('name') ?? '');
      if (!child) return reply(404, { error: 'no such child' });
      const signal = (url.searchParams.get('signal') ?? 'SIGKILL') as NodeJS.Signals;
      child.kill(signal).then(
        () => reply(200, { killed: child.name, signal }),
        (err: Error) => reply(500, { error: err.message }),
      );
      return;
    }
    reply(404, { error: 'not found' });
  });
  const controlPort = await freePort();
  await new Promise<void>((resolve) => control.listen(controlPort, '127.0.0.1', resolve));

  Object.assign(process.env, {
    TEST_DIR: dir,
    TEST_DATABASE_URL: databaseUrl,
    TEST_APP_DATABASE_URL: appUrl,
    DATA_DIR: dir,
    TEST_REDIS_URL: redisUrl,
    TEST_TEMPORAL_ADDRESS: temporal.address,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    CLUSTER_CONTROL_URL: `http://127.0.0.1:${controlPort}`,
    CLUSTER_API_URLS: apiUrls.join(','),
    CLUSTER_SUPERVISOR_LOG: supervisorLog,
    CLUSTER_STARTED_AT: String(Date.now()),
  });
  (globalThis as Record<string, unknown>).__SISTAVA_CLUSTER__ = { supervisor, control, fake, dir, postgres };
  process.stdout.write(
    `[cluster] stack up in ${((Date.now() - began) / 1000).toFixed(1)} s: PostgreSQL, Temporal server on it, Redis, ${[...API_NAMES, ...WORKER_NAMES].join(', ')}\n`,
  );
}
