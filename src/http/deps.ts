import type Koa from 'koa';
import type { EventStatusReader } from '../events/event-status';
import type { EventIngest } from '../events/ingest';
import type { BulkReplays } from '../events/bulk-replay';
import type { EventReplayer } from '../events/replay';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';
import type { AccountStore } from '../stores/accounts';
import type { ApiKeyStore } from '../stores/api-keys';
import type { SourceStore } from '../stores/sources';
import type { AccountRateLimiter } from '../stores/redis/rate-limiter';
import type { UsageStore } from '../stores/usage';
import type { AuthFailureOptions } from './middleware/auth-failures';
import type { CodecEndpoint } from './routes/codec';

/** A dependency the readiness probe checks, by a name safe to show: never the error's own text. */
export interface ReadinessCheck {
  name: 'database' | 'redis' | 'temporal';
  check: () => Promise<void>;
}

/** What the process says about itself while it stops: set by the entry point on SIGTERM. */
export interface Lifecycle {
  draining: boolean;
}

/** What POST /api/sources/{source_id} is served from (see buildApi). */
export interface SourceRouteDeps {
  store: SourceStore;
  accounts: AccountStore;
  /** SOURCE_MAX_BODY */
  maxBodyBytes: number;
  /** SOURCE_BODY_RETENTION_MS */
  bodyRetentionMs: number;
  /** SOURCE_RETRY_AFTER_SECONDS: a disabled source or channel's 503. */
  retryAfterSeconds: number;
}

/** What the HTTP app is built from (createApp); each route reads only the fields it serves. */
export interface AppDeps {
  keys: ApiKeyStore;
  ingest: EventIngest;
  rateLimiter: AccountRateLimiter;
  logger: Logger;
  /** A body that has not fully arrived by then gets a 408, so a stalled client holds nothing for long. */
  bodyTimeoutMs: number;
  /** Debug aid: log each accepted payload's text at info (LOG_PAYLOADS). Off by default: payloads may hold personal data. */
  logPayloads?: boolean;
  /** What /readyz checks. */
  readiness?: ReadinessCheck[];
  /** Serves GET /api/webhook/:message_id when present. */
  statusReader?: EventStatusReader;
  /** Serves POST /api/webhook/:message_id/replay and GET /api/webhook?status=failed when present. */
  replayer?: EventReplayer;
  /** Serves POST /api/webhook/replay and GET|DELETE /api/webhook/replay/:bulk_id when present. */
  bulk?: BulkReplays;
  /** Serves GET /api/billing/usage when present. */
  usage?: UsageStore;
  /** Serves POST /codec/decode and /codec/encode (the Web UI's codec server) when present. */
  codec?: CodecEndpoint;
  /** Serves GET /metrics and counts requests when present. */
  metrics?: ApiMetrics;
  /** Requests in flight at most (MAX_IN_FLIGHT_REQUESTS); past it 503 OVERLOADED. Default: no cap. */
  maxInFlight?: number;
  /** Failed authentications allowed per client IP (AUTH_FAILURES_PER_MINUTE, TRUST_PROXY). Default: no limit. */
  authFailures?: AuthFailureOptions;
  /** Each readiness check's deadline (READINESS_TIMEOUT_MS); default 1 s. */
  readinessTimeoutMs?: number;
  /** Set `draining` on shutdown: /readyz then answers 503. */
  lifecycle?: Lifecycle;
  /** Serves POST /api/sources/{source_id} (signed sources) when present. */
  sources?: SourceRouteDeps;
  /** The console's routers (src/console/console.ts), served at `/` when present. */
  console?: Koa.Middleware[];
}
