import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Client } from 'pg';
import { parse, stringify } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';
import { failedToRun, probeTemporal, stopper, waitFor } from './services';
import { portFree } from './stack';
import { Supervisor, type Supervised } from './supervisor';
import { ensureGoTool, stderrLog, type GoTool, type Log } from './go-tools';
import { ensureTemporalCli } from './temporal-cli';

/**
 * A Temporal server as production runs it: the `server` binary built from go.temporal.io/server
 * (the version our CLI embeds), persistence and visibility on PostgreSQL (plugin postgres12), the
 * schemas set up and upgraded by Temporal's own schema tool from the versioned schema files, the
 * custom search attributes registered once, and the Web UI server pointed at it.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_UI_VERSION = 'v2.42.1';
const SERVER_MODULE = 'go.temporal.io/server';

export const TEMPORAL_SERVER: GoTool = {
  dir: 'temporal-server',
  label: 'Temporal server',
  module: `${SERVER_MODULE}/cmd/server`,
  version: TEMPORAL_SERVER_VERSION,
  binary: 'server',
};
export const TEMPORAL_SQL_TOOL: GoTool = {
  dir: 'temporal-sql-tool',
  label: 'Temporal SQL schema tool',
  module: `${SERVER_MODULE}/cmd/tools/sql`,
  version: TEMPORAL_SERVER_VERSION,
  binary: 'sql',
};
export const TEMPORAL_UI_SERVER: GoTool = {
  dir: 'temporal-ui-server',
  label: 'Temporal UI server',
  module: 'github.com/temporalio/ui-server/v2/cmd/server',
  version: TEMPORAL_UI_VERSION,
  binary: 'server',
};

export interface TemporalBinaries {
  server: string;
  sql: string;
  ui: string;
  /** The CLI: namespace and search attributes. */
  cli: string;
}

/** Every binary the cluster needs, built one after the other when missing (each build peaks near 2 GB). */
export async function ensureTemporalBinaries(log: Log = stderrLog): Promise<TemporalBinaries> {
  const server = await ensureGoTool(TEMPORAL_SERVER, log);
  const sql = await ensureGoTool(TEMPORAL_SQL_TOOL, log);
  const ui = await ensureGoTool(TEMPORAL_UI_SERVER, log);
  const cli = await ensureTemporalCli();
  if (!cli) throw new Error('no Temporal CLI and no Go toolchain to build it: the cluster needs the CLI for its namespace and search attributes');
  return { server, sql, ui, cli };
}

function run(file: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`.trim()));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/**
 * go.temporal.io/server@v1.29.1 in the Go module cache (`go install` put it there): the versioned
 * schema files and the sample configs. `go mod download` fetches it when the cache lacks it.
 */
export async function serverModuleDir(log: Log = stderrLog): Promise<string> {
  const modcache = (await run('go', ['env', 'GOMODCACHE'])).trim();
  const dir = path.join(modcache, `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  if (fs.existsSync(path.join(dir, 'schema'))) return dir;
  log(`Fetching ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} into the Go module cache (its schema files and sample config) …`);
  const out = await run('go', ['mod', 'download', '-json', `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], 600_000);
  const downloaded = (JSON.parse(out) as { Dir?: string }).Dir ?? dir;
  if (!fs.existsSync(path.join(downloaded, 'schema'))) throw new Error(`${downloaded} has no schema folder`);
  return downloaded;
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/** host, port, user and password of a postgres:// URL (its database is ignored). */
export function postgresEndpoint(url: string): PostgresEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** Every port the server binds besides the frontend's gRPC port. */
export interface ClusterPorts {
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: { frontend: number; history: number; matching: number; worker: number };
  /** Prometheus metrics of the server (the sample's 8000). */
  metrics: number;
}

/**
 * The sample config's layout (7234 history, 7235 matching, 7239 worker, 7243 HTTP, 6933-6939
 * membership, 8000 metrics) moved along with the frontend port. All of those sit below Linux's
 * ephemeral range (32768+), so they never meet the random ports of the test suite's dev servers.
 * A frontend port outside that layout's reach (a test's random port) gets free ports below 32768
 * for everything instead: the membership table stores ports as a PostgreSQL smallint, and a
 * higher membership port makes the server exit at start.
 */
export async function clusterPorts(frontendPort: number): Promise<ClusterPorts> {
  const shift = frontendPort - 7233;
  if (frontendPort >= 1300 && frontendPort + 800 < 32768) {
    return {
      frontendHttp: 7243 + shift,
      history: 7234 + shift,
      matching: 7235 + shift,
      worker: 7239 + shift,
      membership: { frontend: 6933 + shift, history: 6934 + shift, matching: 6935 + shift, worker: 6939 + shift },
      metrics: 8000 + shift,
    };
  }
  const taken = new Set<number>([frontendPort]);
  const free = async () => {
    const port = await freeLowPort(taken);
    taken.add(port);
    return port;
  };
  return {
    frontendHttp: await free(),
    history: await free(),
    matching: await free(),
    worker: await free(),
    membership: { frontend: await free(), history: await free(), matching: await free(), worker: await free() },
    metrics: await free(),
  };
}

/** A port in 20000-32767 that nothing listens on at 127.0.0.1 (random probes, so parallel callers rarely meet). */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (taken.has(port)) continue;
    if (await portFree(port)) return port;
  }
  throw new Error('no free port below 32768');
}

export interface TemporalClusterOptions {
  /** The PostgreSQL that holds databases `temporal` and `temporal_visibility` (created when missing). */
  postgres: PostgresEndpoint;
  /** The frontend's gRPC port, on 127.0.0.1 (TEMPORAL_ADDRESS). */
  port: number;
  /** The Web UI's port; absent: no UI. */
  uiPort?: number;
  /** Where the server's config folder is written (and its archival files go). */
  dataDir: string;
  /** temporal-server.log and temporal-ui.log. */
  logDir: string;
  /** Default: clusterPorts(port). */
  ports?: ClusterPorts;
  /** The UI's codec endpoint (`codec.endpoint`): the first API's /codec. */
  codecEndpoint?: string;
  namespace?: string;
  /** The namespace's retention when it is created; default 72h. */
  retention?: string;
  /** Restarts the server and the UI when they crash; default a supervisor of their own that logs to `log`. */
  supervisor?: Supervisor;
  log?: Log;
  /** Default: ensureTemporalBinaries (found or built). */
  binaries?: TemporalBinaries;
  /** The server's log level; default warn. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface TemporalCluster {
  /** host:port of the frontend. */
  address: string;
  uiUrl?: string;
  server: Supervised;
  ui?: Supervised;
  /** The UI, then the server. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const ENV = 'development-postgres12';
const DATABASES = { default: 'temporal', visibility: 'temporal_visibility' } as const;

/**
 * The whole Temporal cluster on the given PostgreSQL: databases and schemas, the config folder, the
 * server (waited for until healthy), namespace and search attributes, then the UI. The server and
 * the UI are supervised: one that crashes is started again with backoff.
 */
export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const log = opts.log ?? stderrLog;
  const binaries = opts.binaries ?? (await ensureTemporalBinaries(log));
  const moduleDir = await serverModuleDir(log);
  const supervisor = opts.supervisor ?? new Supervisor({ log });
  const namespace = opts.namespace ?? 'default';
  const address = `127.0.0.1:${opts.port}`;
  fs.mkdirSync(opts.dataDir, { recursive: true });
  fs.mkdirSync(opts.logDir, { recursive: true });

  await setUpSchemas(binaries.sql, opts.postgres, moduleDir, log);
  const ports = opts.ports ?? (await clusterPorts(opts.port));
  writeServerConfig(moduleDir, opts, ports);

  const serverLog = path.join(opts.logDir, 'temporal-server.log');
  const server = await supervisor.add({
    name: 'temporal',
    start: async () => {
      const out = fs.openSync(serverLog, 'a');
      // detached: a Ctrl-C in the terminal reaches the stack only, which stops the server last.
      const args = ['--root', path.resolve(opts.dataDir), '--config', 'config', '--env', ENV, '--allow-no-auth', 'start'];
      const child = spawn(binaries.server, args, { cwd: opts.dataDir, detached: true, stdio: ['ignore', out, out] });
      fs.closeSync(out);
      try {
        await Promise.race([failedToRun(child, 'the Temporal server'), waitFor(`Temporal server at ${address}`, () => probeTemporal(address), 120_000)]);
      } catch (err) {
        await stopper(child)('SIGKILL');
        throw new Error(`${(err as Error).message} (log: ${serverLog})`, { cause: err });
      }
      return { address, process: child, stop: stopper(child) };
    },
  });
  try {
    await ensureNamespace(binaries.cli, address, namespace, opts.retention ?? '72h', log);
  } catch (err) {
    await server.stop();
    throw err;
  }

  let ui: Supervised | undefined;
  let uiUrl: string | undefined;
  if (opts.uiPort) {
    const uiPort = opts.uiPort;
    uiUrl = `http://localhost:${uiPort}`;
    const uiDir = path.join(opts.dataDir, 'ui');
    writeUiConfig(uiDir, { port: uiPort, address, namespace, codecEndpoint: opts.codecEndpoint });
    const uiLog = path.join(opts.logDir, 'temporal-ui.log');
    try {
      ui = await supervisor.add({
        name: 'temporal-ui',
        start: async () => {
          const out = fs.openSync(uiLog, 'a');
          const child = spawn(binaries.ui, ['--root', uiDir, '--config', 'config', '--env', 'development', 'start'], {
            cwd: uiDir,
            detached: true,
            stdio: ['ignore', out, out],
          });
          fs.closeSync(out);
          const ready = waitFor(
            `Temporal UI on ${uiPort}`,
            async () => {
              const res = await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`);
              if (!res.ok) throw new Error(`settings ${res.status}`);
            },
            30_000,
          );
          try {
            await Promise.race([failedToRun(child, 'the Temporal UI server'), ready]);
          } catch (err) {
            await stopper(child)('SIGKILL');
            throw new Error(`${(err as Error).message} (log: ${uiLog})`, { cause: err });
          }
          return { address: uiUrl!, process: child, stop: stopper(child) };
        },
      });
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  return {
    address,
    uiUrl,
    server,
    ui,
    async stop(signal) {
      await ui?.stop(signal);
      await server.stop(signal);
    },
  };
}

/**
 * Databases `temporal` and `temporal_visibility`: created when missing, given the schema tool's
 * version table at 0.0 when new, then upgraded to the newest version in the module's versioned folders
 * (a no-op when current). This is how an operator upgrades Temporal's schema before a server upgrade.
 */
export async function setUpSchemas(sqlTool: string, pgEndpoint: PostgresEndpoint, moduleDir: string, log: Log = stderrLog): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', pgEndpoint.host, '-p', String(pgEndpoint.port), '-u', pgEndpoint.user];
  if (pgEndpoint.password) base.push('--pw', pgEndpoint.password);
  const folders = {
    [DATABASES.default]: path.join(moduleDir, 'schema', 'postgresql', 'v12', 'temporal', 'versioned'),
    [DATABASES.visibility]: path.join(moduleDir, 'schema', 'postgresql', 'v12', 'visibility', 'versioned'),
  };
  for (const [db, dir] of Object.entries(folders)) {
    if (!fs.existsSync(dir)) throw new Error(`no versioned schema folder at ${dir}`);
    const args = [...base, '--db', db];
    const existed = await databaseExists(pgEndpoint, db);
    if (!existed) await run(sqlTool, [...args, 'create-database']);
    if (!(await hasVersionTable(pgEndpoint, db))) await run(sqlTool, [...args, 'setup-schema', '-v', '0.0']);
    const before = await schemaVersion(pgEndpoint, db);
    await run(sqlTool, [...args, 'update-schema', '-d', dir]);
    const after = await schemaVersion(pgEndpoint, db);
    log(`Temporal schema: ${db} ${existed ? '' : 'created, '}${before === after ? `at version ${after}` : `upgraded ${before ?? 'none'} → ${after}`}`);
  }
}

async function withDatabase<T>(pgEndpoint: PostgresEndpoint, database: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ ...pgEndpoint, database, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function databaseExists(pgEndpoint: PostgresEndpoint, name: string): Promise<boolean> {
  return withDatabase(pgEndpoint, 'postgres', async (c) => Boolean((await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount));
}

function hasVersionTable(pgEndpoint: PostgresEndpoint, db: string): Promise<boolean> {
  return withDatabase(
    pgEndpoint,
    db,
    async (c) => (await c.query<{ t: string | null }>(`SELECT to_regclass('public.schema_version') AS t`)).rows[0].t !== null,
  );
}

function schemaVersion(pgEndpoint: PostgresEndpoint, db: string): Promise<string | undefined> {
  return withDatabase(pgEndpoint, db, async (c) => {
    const { rows } = await c.query<{ curr_version: string }>('SELECT curr_version FROM schema_version LIMIT 1').catch(() => ({ rows: [] }));
    return rows[0]?.curr_version;
  });
}

/**
 * `config/development-postgres12.yaml`: the module's sample with our PostgreSQL, databases and
 * ports, and an empty dynamic config file next to it (the sample points at one).
 */
function writeServerConfig(moduleDir: string, opts: TemporalClusterOptions, ports: ClusterPorts): void {
  const sample = parse(fs.readFileSync(path.join(moduleDir, 'config', `${ENV}.yaml`), 'utf8')) as ServerConfig;
  const connectAddr = `${opts.postgres.host}:${opts.postgres.port}`;
  for (const [store, database] of [
    ['postgres-default', DATABASES.default],
    ['postgres-visibility', DATABASES.visibility],
  ] as const) {
    Object.assign(sample.persistence.datastores[store].sql, {
      databaseName: database,
      connectAddr,
      user: opts.postgres.user,
      password: opts.postgres.password ?? '',
    });
  }
  const dataDir = path.resolve(opts.dataDir);
  sample.log = { stdout: true, level: opts.logLevel ?? 'warn' };
  sample.global.pprof = { port: 0 }; // off
  sample.global.metrics.prometheus.listenAddress = `127.0.0.1:${ports.metrics}`;
  const rpc = (grpcPort: number, membershipPort: number) => ({ grpcPort, membershipPort, bindOnLocalHost: true });
  sample.services = {
    frontend: { rpc: { ...rpc(opts.port, ports.membership.frontend), httpPort: ports.frontendHttp } },
    history: { rpc: rpc(ports.history, ports.membership.history) },
    matching: { rpc: rpc(ports.matching, ports.membership.matching) },
    worker: { rpc: rpc(ports.worker, ports.membership.worker) },
  };
  sample.clusterMetadata.clusterInformation.active.rpcAddress = `127.0.0.1:${opts.port}`;
  // Archival stays off for namespaces (the sample's default); its files would go to our folder, not /tmp.
  sample.namespaceDefaults.archival.history.URI = `file://${path.join(dataDir, 'archival', 'history')}`;
  sample.namespaceDefaults.archival.visibility.URI = `file://${path.join(dataDir, 'archival', 'visibility')}`;
  const dynamicConfig = path.join(dataDir, 'config', 'dynamicconfig', 'development-sql.yaml');
  sample.dynamicConfigClient.filepath = dynamicConfig;
  fs.mkdirSync(path.dirname(dynamicConfig), { recursive: true });
  if (!fs.existsSync(dynamicConfig)) fs.writeFileSync(dynamicConfig, '');
  const header = `# Written by src/dev/temporal-server.ts from ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}/config/${ENV}.yaml; rewritten at every start.\n`;
  fs.writeFileSync(path.join(dataDir, 'config', `${ENV}.yaml`), header + stringify(sample));
}

/** The parts of the sample config we set. */
interface ServerConfig {
  log: Record<string, unknown>;
  persistence: { datastores: Record<'postgres-default' | 'postgres-visibility', { sql: Record<string, unknown> }> };
  global: { pprof: Record<string, unknown>; metrics: { prometheus: { listenAddress: string } } };
  services: Record<string, unknown>;
  clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
  namespaceDefaults: { archival: Record<'history' | 'visibility', { URI: string }> };
  dynamicConfigClient: { filepath: string };
}

/** The UI server's config/development.yaml (its options: the ui-server module's config/development.yaml). */
function writeUiConfig(uiDir: string, opts: { port: number; address: string; namespace: string; codecEndpoint?: string }): void {
  const config = {
    temporalGrpcAddress: opts.address,
    host: '127.0.0.1',
    port: opts.port,
    enableUi: true,
    defaultNamespace: opts.namespace,
    notifyOnNewVersion: false,
    refreshInterval: '1m',
    cors: { cookieInsecure: true, unsafeAllowAllOrigins: false, allowOrigins: [`http://localhost:${opts.port}`, `http://127.0.0.1:${opts.port}`] },
    auth: { enabled: false },
    codec: { endpoint: opts.codecEndpoint ?? '', passAccessToken: false, includeCredentials: false },
    forwardHeaders: ['X-Forwarded-For'],
  };
  fs.mkdirSync(path.join(uiDir, 'config'), { recursive: true });
  fs.writeFileSync(path.join(uiDir, 'config', 'development.yaml'), `# Written by src/dev/temporal-server.ts at every start.\n${stringify(config)}`);
}

/**
 * The namespace (created with its retention when missing) and the contract's search attributes,
 * through the CLI: `search-attribute create` skips the ones that exist. Then waits until the
 * frontend knows both (its namespace cache refreshes every few seconds): a visibility query on every
 * attribute succeeds only once workflows may be started with them.
 */
export async function ensureNamespace(cli: string, address: string, namespace: string, retention: string, log: Log = stderrLog): Promise<void> {
  const common = ['--address', address, '--namespace', namespace];
  const exists = await run(cli, ['operator', 'namespace', 'describe', ...common]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await run(cli, ['operator', 'namespace', 'create', ...common, '--retention', retention]);
    log(`Temporal: created namespace ${namespace} (retention ${retention})`);
  }
  const args = ['operator', 'search-attribute', 'create', ...common];
  for (const key of SEARCH_ATTRIBUTES) args.push('--name', key.name, '--type', 'Keyword');
  await waitFor(`namespace ${namespace}`, () => run(cli, args, 20_000), 60_000);
  const query = SEARCH_ATTRIBUTES.map((key) => `${key.name} = 'probe'`).join(' AND ');
  await waitFor(
    `search attributes in namespace ${namespace}`,
    () => run(cli, ['workflow', 'list', ...common, '--limit', '1', '--query', query], 20_000),
    60_000,
  );
  log(`Temporal: namespace ${namespace} has search attributes ${SEARCH_ATTRIBUTES.map((k) => k.name).join(', ')}`);
}

/** The identities (`pid@host`) polling a task queue for workflow tasks, as the frontend reports them. */
export async function taskQueuePollers(address: string, namespace: string, taskQueue: string): Promise<string[]> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    const res = await connection.withDeadline(Date.now() + 5_000, () =>
      connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      }),
    );
    return (res.pollers ?? []).map((p) => p.identity ?? '').filter(Boolean);
  } finally {
    await connection.close();
  }
}

/** Waits until every process in `pids` polls the task queue (their identity is `pid@host`). */
export async function waitForPollers(address: string, namespace: string, taskQueue: string, pids: number[], timeoutMs = 120_000): Promise<void> {
  await waitFor(
    `workers ${pids.join(', ')} polling ${taskQueue}`,
    async () => {
      const polling = new Set((await taskQueuePollers(address, namespace, taskQueue)).map((identity) => Number(identity.split('@')[0])));
      const missing = pids.filter((pid) => !polling.has(pid));
      if (missing.length) throw new Error(`not polling yet: ${missing.join(', ')}`);
    },
    timeoutMs,
  );
}
