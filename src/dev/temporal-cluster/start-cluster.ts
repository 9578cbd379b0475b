import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stderrLog, type Log } from '../go-tools';
import { diesWithParent } from '../parent-death';
import { failedToRun, probeTemporal, stopper, waitFor } from '../services';
import { Supervisor, type Supervised } from '../supervisor';
import { ensureTemporalBinaries, type TemporalBinaries } from './binaries';
import { ENV, writeServerConfig, writeUiConfig } from './config-files';
import { ensureNamespace } from './namespace';
import type { PostgresEndpoint } from './postgres-endpoint';
import { clusterPorts, type ClusterPorts } from './ports';
import { setUpSchemas } from './schema';
import { serverModuleDir } from './server-module';

/**
 * Starting the whole cluster: schemas, config files, the supervised server and UI, the namespace.
 * Each step has its own file in this folder; this one only runs them in order.
 */

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
      const child = spawn(...diesWithParent(binaries.server, args), { cwd: opts.dataDir, detached: true, stdio: ['ignore', out, out] });
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
          const child = spawn(...diesWithParent(binaries.ui, ['--root', uiDir, '--config', 'config', '--env', 'development', 'start']), {
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
