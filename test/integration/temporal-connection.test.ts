import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { NativeConnection } from '@temporalio/worker';
import { parseConfig } from '../../src/config';
import { createTemporalClient, temporalConnectionOptions } from '../../src/temporal/connect';
import { connectTemporalNative } from '../../src/temporal/connect-native';
import { makeTestPki, startHeaderRecorder, startTlsProxy, type TestPki, type TlsProxy } from '../helpers/tls-proxy';

/**
 * The one connection builder (src/temporal/connect.ts) against the suite's real Temporal dev server
 * behind TLS (server-only, and mutual) with certificates made here, and against a loopback HTTP/2
 * server that records what arrives as gRPC metadata.
 */
const SERVER_NAME = 'temporal.test';
let pki: TestPki;
let tlsOnly: TlsProxy;
let mutual: TlsProxy;

beforeAll(async () => {
  pki = makeTestPki(SERVER_NAME);
  tlsOnly = await startTlsProxy(pki, process.env.TEST_TEMPORAL_ADDRESS!, { mutual: false });
  mutual = await startTlsProxy(pki, process.env.TEST_TEMPORAL_ADDRESS!, { mutual: true });
});
afterAll(async () => {
  await Promise.all([tlsOnly?.close(), mutual?.close()]);
  if (pki) fs.rmSync(pki.dir, { recursive: true, force: true });
});

const config = (env: Record<string, string>) => parseConfig({ LOG_LEVEL: 'silent', ...env });

/** A round trip through the client and one through the worker's native connection: both reach the real server. */
async function roundTrips(env: Record<string, string>): Promise<void> {
  const cfg = config(env);
  const { client, connection } = await createTemporalClient(cfg, { connectTimeoutMs: 5_000 });
  let native: NativeConnection | undefined;
  try {
    const info = await connection.workflowService.describeNamespace({ namespace: cfg.TEMPORAL_NAMESPACE });
    expect(info.namespaceInfo?.name).toBe(cfg.TEMPORAL_NAMESPACE);
    // Visibility through the client: a workflow id nobody started is simply not listed.
    const listed = client.workflow.list({ query: `WorkflowId = '${randomUUID()}'` });
    for await (const wf of listed) throw new Error(`unexpected workflow ${wf.workflowId}`);
    native = await connectTemporalNative(cfg);
    const system = await native.workflowService.getSystemInfo({});
    expect(system.serverVersion).toMatch(/^\d+\.\d+/);
  } finally {
    await native?.close();
    await connection.close();
  }
}

async function refused(env: Record<string, string>): Promise<void> {
  await expect(createTemporalClient(config(env), { connectTimeoutMs: 3_000 })).rejects.toThrow();
}

describe('TLS to our own Temporal server', () => {
  it('connects with the CA as a file path and the certificate’s name, for the client and the worker', async () => {
    const before = tlsOnly.sessions.length;
    await roundTrips({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: pki.caCert, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });
    expect(tlsOnly.sessions.length).toBeGreaterThanOrEqual(before + 2);
  }, 60_000);

  it('takes the CA as PEM text as well', async () => {
    await roundTrips({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: fs.readFileSync(pki.caCert, 'utf8'), TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });
  }, 60_000);

  it('refuses a server whose certificate the configured roots do not vouch for, or that names another host', async () => {
    await refused({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });
    await refused({ TEMPORAL_ADDRESS: tlsOnly.address, TEMPORAL_TLS_CA: pki.caCert, TEMPORAL_TLS_SERVER_NAME: 'other.test' });
  }, 60_000);

  it('does not speak plaintext to a TLS port', async () => {
    await refused({ TEMPORAL_ADDRESS: tlsOnly.address });
  }, 60_000);
});

describe('mTLS to our own Temporal server', () => {
  const base = () => ({ TEMPORAL_ADDRESS: mutual.address, TEMPORAL_TLS_CA: pki.caCert, TEMPORAL_TLS_SERVER_NAME: SERVER_NAME });

  it('connects with the client certificate and key, and the server sees that certificate', async () => {
    const before = mutual.sessions.length;
    await roundTrips({ ...base(), TEMPORAL_TLS_CERT: pki.clientCert, TEMPORAL_TLS_KEY: pki.clientKey });
    expect(mutual.sessions.slice(before)).toEqual(expect.arrayContaining([{ clientCertificate: 'client' }]));
    expect(mutual.sessions.slice(before).every((s) => s.clientCertificate === 'client')).toBe(true);
  }, 60_000);

  it('is refused without a client certificate, or with one from a CA the server does not trust', async () => {
    const before = mutual.sessions.length;
    await refused(base());
    await refused({ ...base(), TEMPORAL_TLS_CERT: pki.strangerCert, TEMPORAL_TLS_KEY: pki.strangerKey });
    expect(mutual.sessions.length).toBe(before);
  }, 60_000);
});

describe('the API key', () => {
  it('arrives as `authorization: Bearer …` gRPC metadata, from the client and from the worker’s connection', async () => {
    const recorder = await startHeaderRecorder();
    const key = `test-key-${randomUUID()}`;
    try {
      const cfg = config({ TEMPORAL_ADDRESS: recorder.address, TEMPORAL_API_KEY: key, TEMPORAL_TLS: 'false' });
      await expect(createTemporalClient(cfg, { connectTimeoutMs: 3_000 })).rejects.toThrow();
      await expect(connectTemporalNative(cfg)).rejects.toThrow();
      expect(recorder.requests.length).toBeGreaterThanOrEqual(2);
      for (const headers of recorder.requests) {
        expect(headers[':path']).toMatch(/^\/temporal\.api\.workflowservice\.v1\.WorkflowService\//);
        expect(headers.authorization).toBe(`Bearer ${key}`);
      }
      const agents = recorder.requests.map((h) => String(h['user-agent']));
      process.stdout.write(
        `[api-key] ${recorder.requests.map((h) => `${String(h['user-agent'])} -> authorization ${h.authorization === `Bearer ${key}` ? 'Bearer <key>' : String(h.authorization)}`).join('; ')}\n`,
      );
      // Both stacks sent it: the client's grpc-js and the worker's Rust core (tonic).
      expect(agents).toEqual(expect.arrayContaining([expect.stringMatching(/^grpc-node-js\//), expect.stringMatching(/^tonic\//)]));
    } finally {
      await recorder.close();
    }
  }, 60_000);
});

describe('the settings', () => {
  it('turn TLS on for an API key or any TLS setting, and off when TEMPORAL_TLS=false', () => {
    expect(temporalConnectionOptions(config({ TEMPORAL_ADDRESS: 'x:7233' })).tls).toBe(false);
    expect(temporalConnectionOptions(config({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_API_KEY: 'k' }))).toMatchObject({ tls: {}, apiKey: 'k' });
    expect(temporalConnectionOptions(config({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_TLS_SERVER_NAME: 'n' })).tls).toEqual({ serverNameOverride: 'n' });
    expect(temporalConnectionOptions(config({ TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).tls).toBe(false);
  });

  it('refuse a certificate without its key, and TLS files with TLS turned off', () => {
    expect(() => temporalConnectionOptions(config({ TEMPORAL_TLS_CERT: pki.clientCert }))).toThrow(/TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/);
    expect(() => temporalConnectionOptions(config({ TEMPORAL_TLS_CA: pki.caCert, TEMPORAL_TLS: 'false' }))).toThrow(/TEMPORAL_TLS=false/);
    expect(() => temporalConnectionOptions(config({ TEMPORAL_TLS_CA: '/nonexistent/ca.pem' }))).toThrow(
      /TEMPORAL_TLS_CA: neither PEM text nor a readable file/,
    );
  });
});
