import type { EventStatusReader } from '../events/event-status';
import type { EventIngest } from '../events/ingest';
import type { BulkReplays } from '../events/bulk-replay';
import type { EventReplayer } from '../events/replay';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';
import type { ApiKeyStore } from '../stores/api-keys';
import type { AccountRateLimiter } from '../stores/redis/rate-limiter';
import type { UsageStore } from '../stores/usage';
import type { CodecEndpoint } from './routes/codec';

/** A dependency the readiness probe checks, by a name safe to show: never the error's own text. */
export interface ReadinessCheck {
  name: 'database' | 'redis' | 'temporal';
  check: () => Promise<void>;
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
}
