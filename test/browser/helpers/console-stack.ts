import type { Server } from 'node:http';
import type { Connection } from '@temporalio/client';
import { buildApi } from '../../../src/api';
import { freePort } from '../../../src/dev/services';
import { createServer } from '../../../src/http/server';
import { createLogger } from '../../../src/observability/logger';
import { captureLogs, type CapturedLogs } from '../../helpers/captured-logs';
import type { FakeModelServer } from '../../helpers/fake-model-server';
import { createHarnessWithFakeModel, type Harness } from '../../helpers/harness';
import { startSmtpSink, type SmtpSink } from './smtp-sink';

export interface ConsoleStack {
  h: Harness;
  fake: FakeModelServer;
  smtp: SmtpSink;
  /** Everything the API logged, at debug. */
  logs: CapturedLogs;
  /** The console's origin, as PUBLIC_URL says it: http://127.0.0.1:<port>. */
  url: string;
  close(): Promise<void>;
}

/**
 * The app as `npm start` runs it, over real HTTP on loopback: the API (console included) listening,
 * an in-process worker, the suite's PostgreSQL, Redis and Temporal, a fake model, a real SMTP sink.
 */
export async function startConsoleStack(overrides: Record<string, string> = {}): Promise<ConsoleStack> {
  const smtp = await startSmtpSink();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Every test signs in from 127.0.0.1 through one Redis: the per-IP limit would count the whole run.
  const { h, fake } = await createHarnessWithFakeModel({
    SMTP_URL: smtp.url,
    PUBLIC_URL: url,
    PORT: String(port),
    SIGN_IN_LIMIT_PER_IP: '10000',
    ...overrides,
  });
  // The API as the harness builds it, but logging at debug into memory: tests search it for secrets.
  const logs = captureLogs();
  const app = buildApi(
    h.config,
    { db: h.db, redis: h.redis, connection: h.client.connection as Connection },
    createLogger({ ...h.config, LOG_LEVEL: 'debug' }, 'api', logs.stream),
  );
  const server: Server = createServer(app, { timeoutMs: h.config.BODY_TIMEOUT_MS, logger: createLogger(h.config, 'test-http') }).listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    h,
    fake,
    smtp,
    logs,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
      await smtp.stop();
    },
  };
}
