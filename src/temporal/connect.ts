import fs from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { temporalAddress, type Config } from '../config';
import { temporalDataConverter } from './codec';

/** What every Temporal connection of this service is built from. */
export type TemporalConfig = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CA'
  | 'TEMPORAL_TLS_CERT'
  | 'TEMPORAL_TLS_KEY'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
  | 'PAYLOAD_KEYS'
  | 'PAYLOAD_ALLOW_PLAINTEXT'
>;

export class TemporalConfigError extends Error {}

/** A TEMPORAL_TLS_* value: PEM text as given, or the contents of the file it names. */
function pem(name: string, value: string): Buffer {
  if (value.includes('-----BEGIN ')) return Buffer.from(value.replace(/\\n/g, '\n'), 'utf8');
  try {
    return fs.readFileSync(value);
  } catch (err) {
    throw new TemporalConfigError(`${name}: neither PEM text nor a readable file (${(err as Error).message})`);
  }
}

/**
 * The address, TLS and API key from the config, for both kinds of connection (the client's and the
 * worker's native one). TLS is on when TEMPORAL_TLS says so, else when any TLS setting or an API
 * key is given (Temporal Cloud takes API keys over TLS only); `TEMPORAL_TLS=false` forces it off.
 */
export function temporalConnectionOptions(config: TemporalConfig): { address: string; tls: TLSConfig | false; apiKey?: string } {
  const { TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_SERVER_NAME: serverName, TEMPORAL_API_KEY: apiKey } = config;
  if (Boolean(cert) !== Boolean(key)) throw new TemporalConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS): set both or neither.');
  const tlsOn = config.TEMPORAL_TLS ?? Boolean(ca || cert || serverName || apiKey);
  if (!tlsOn && (ca || cert || serverName))
    throw new TemporalConfigError('TEMPORAL_TLS=false, yet TEMPORAL_TLS_* settings are given: remove one or the other.');
  const tls: TLSConfig | false = tlsOn
    ? {
        ...(serverName ? { serverNameOverride: serverName } : {}),
        ...(ca ? { serverRootCACertificate: pem('TEMPORAL_TLS_CA', ca) } : {}),
        ...(cert && key ? { clientCertPair: { crt: pem('TEMPORAL_TLS_CERT', cert), key: pem('TEMPORAL_TLS_KEY', key) } } : {}),
      }
    : false;
  return { address: temporalAddress(config), tls, ...(apiKey ? { apiKey } : {}) };
}

/** A client connection (API, CLI, tests); `lazy` connects on first use, so a process starts while Temporal is down. */
export async function connectTemporal(config: TemporalConfig, opts: { lazy?: boolean; connectTimeoutMs?: number } = {}): Promise<Connection> {
  const options = { ...temporalConnectionOptions(config), ...(opts.connectTimeoutMs ? { connectTimeout: opts.connectTimeoutMs } : {}) };
  return opts.lazy ? Connection.lazy(options) : Connection.connect(options);
}

/** A client on the configured namespace with the service's data converter (encryption), over `connection`. */
export function temporalClient(config: TemporalConfig, connection: Connection | NativeConnection): Client {
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(config) });
}

/** The one way to reach Temporal from config: connection (TLS, mTLS, API key) and client (namespace, encryption). */
export async function createTemporalClient(
  config: TemporalConfig,
  opts: { lazy?: boolean; connectTimeoutMs?: number } = {},
): Promise<{ client: Client; connection: Connection }> {
  const connection = await connectTemporal(config, opts);
  return { client: temporalClient(config, connection), connection };
}
