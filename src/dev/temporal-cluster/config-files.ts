import fs from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { SERVER_MODULE, TEMPORAL_SERVER_VERSION } from './binaries';
import type { ClusterPorts } from './ports';
import { DATABASES } from './schema';
import type { PostgresEndpoint } from './postgres-endpoint';

/** The sample config the server's files are written from (the module's config/<ENV>.yaml). */
export const ENV = 'development-postgres12';

/** What the server's config needs of the cluster's options (TemporalClusterOptions). */
export interface ServerConfigOptions {
  postgres: PostgresEndpoint;
  /** The frontend's gRPC port. */
  port: number;
  dataDir: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * `config/development-postgres12.yaml`: the module's sample with our PostgreSQL, databases and
 * ports, and an empty dynamic config file next to it (the sample points at one).
 */
export function writeServerConfig(moduleDir: string, opts: ServerConfigOptions, ports: ClusterPorts): void {
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
  const header = `# Written by src/dev/temporal-cluster/config-files.ts from ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}/config/${ENV}.yaml; rewritten at every start.\n`;
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
export function writeUiConfig(uiDir: string, opts: { port: number; address: string; namespace: string; codecEndpoint?: string }): void {
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
  fs.writeFileSync(
    path.join(uiDir, 'config', 'development.yaml'),
    `# Written by src/dev/temporal-cluster/config-files.ts at every start.\n${stringify(config)}`,
  );
}
