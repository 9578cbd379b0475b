import type { Server } from 'node:http';
import { freePort } from '../../../src/dev/services';
import { createServer } from '../../../src/http/server';
import { createLogger } from '../../../src/observability/logger';
import type { FakeModelServer } from '../../helpers/fake-model-server';
import { createHarnessWithFakeModel, type Harness } from '../../helpers/harness';
import { startSmtpSink, type SmtpSink } from './smtp-sink';

export interface ConsoleStack {
  h: Harness;
  fake: FakeModelServer;
  smtp: SmtpSink;
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
  const server: Server = createServer(h.app, { timeoutMs: h.config.BODY_TIMEOUT_MS, logger: createLogger(h.config, 'test-http') }).listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    h,
    fake,
    smtp,
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await h.close();
      await smtp.stop();
    },
  };
}
