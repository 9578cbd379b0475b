import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ModelPrices, type PriceList } from './billing/pricing';
import { parseTrustedProxies } from './net/client-ip';
import type { PayloadKeys } from './temporal/payload-keys';

/** The folder with package.json, whether this runs from `src/` (tsx) or from `dist/src/` (built). */
function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** Environment booleans: "false", "0", "no" and "" are false (z.coerce.boolean would say true). */
const envBoolean = z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A variable holding JSON, checked against `schema`; bad JSON is reported like any other bad value. */
function jsonOf<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * A key ring (PAYLOAD_KEYS, SECRET_KEYS): `id:base64key,id:base64key,…`, each key 32 random bytes (`openssl rand -base64 32`).
 * The first encrypts; every one listed decrypts. Messages name the entry and its id, never key bytes.
 */
export const KeyRingSchema = z.string().transform((text, ctx): PayloadKeys => {
  const keys = new Map<string, Buffer>();
  const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
  const entries = text.split(',').map((entry) => entry.trim());
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    const key = Buffer.from(encoded, 'base64');
    if (colon < 0) problem(`entry ${index + 1} must be id:base64key`);
    else if (!KEY_ID.test(id)) problem(`entry ${index + 1}: the key id must be 1-64 of A-Z a-z 0-9 . _ -`);
    else if (keys.has(id)) problem(`key id "${id}" is listed twice`);
    else if (!BASE64.test(encoded) || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) problem(`key "${id}" is not valid base64`);
    else if (key.length !== 32) problem(`key "${id}" is ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`);
    else keys.set(id, key);
  }
  if (keys.size !== entries.length) return z.NEVER;
  return { currentKeyId: [...keys.keys()][0], keys };
});

/** Every environment variable the service reads, parsed once at start-up. */
export const Config = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  /** The system of record: accounts, keys, credits and the ledger, inboxes and memory. */
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/sistava'),
  /** Connections per process; the API's hot path holds one for a single statement. */
  DATABASE_POOL_SIZE: z.coerce.number().int().positive().max(200).default(10),
  /** Only what may be forgotten: rate-limit counters and the Idempotency-Key window cache. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('webhook-events'),
  /** Base of the trace links in event status responses. */
  TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  /** gRPC deadline of a workflow start: past it the caller gets a 502 and may retry with the same key. */
  TEMPORAL_START_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  TEMPORAL_CLI: optionalString,
  DATA_DIR: z.string().default(path.join(projectRoot(), '.data')),
  OPENAI_BASE_URL: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Per-request timeout towards the model server; the activity retries past it. */
  // Below the employee activity's 5-minute start-to-close timeout, or Temporal would cut the attempt first.
  MODEL_TIMEOUT_MS: z.coerce.number().int().positive().max(240_000).default(60_000),
  /** Model turns one event may take, unless its employee says otherwise (sistava employee update --max-steps). */
  AGENT_MAX_STEPS: z.coerce.number().int().positive().max(100).default(10),
  /** max_tokens of each model call, unless the employee says otherwise. */
  AGENT_MAX_TOKENS: z.coerce.number().int().positive().default(1024),
  /** How long one event may take from its acceptance (default one hour), unless the employee says otherwise. */
  AGENT_DEADLINE_MS: z.coerce.number().int().positive().default(3_600_000),
  /** Credits one event may spend, unless the employee says otherwise. */
  AGENT_MAX_CREDITS: z.coerce.number().int().positive().default(100),
  /** Tokens one prompt may hold (instructions, notes, memory, the event), unless the employee says otherwise: a 64 KB event fits. */
  AGENT_MAX_PROMPT_TOKENS: z.coerce.number().int().min(1_000).default(32_000),
  /** Tool calls one model turn may make, unless the employee says otherwise; the rest are refused back to the model. */
  AGENT_MAX_TOOL_CALLS_PER_TURN: z.coerce.number().int().min(0).default(10),
  /** Tool calls one event may make, unless the employee says otherwise. */
  AGENT_MAX_TOOL_CALLS: z.coerce.number().int().min(0).default(20),
  /** Bytes send_webhook may send in one event (bodies summed), unless the employee says otherwise. */
  AGENT_MAX_WEBHOOK_BYTES: z.coerce.number().int().min(0).default(262_144),
  /** Deliveries per minute to one outbound endpoint, unless the endpoint says otherwise (endpoint add --per-minute). */
  ENDPOINT_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  /** Per attempt of a send_webhook delivery; a timeout is retried with backoff. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().max(60_000).default(10_000),
  /** Turns of conversation memory sent to the model with each event. */
  MEMORY_TURNS: z.coerce.number().int().min(0).max(200).default(20),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Whole credits per 1,000 prompt and completion tokens for a model not in MODEL_PRICES. */
  CREDITS_PER_1K_PROMPT_TOKENS: z.coerce.number().int().min(0).default(1),
  CREDITS_PER_1K_COMPLETION_TOKENS: z.coerce.number().int().min(0).default(1),
  /** Per-model token prices as JSON: {"gpt-4o-mini": {"prompt_per_1k": 1, "completion_per_1k": 4}}. */
  MODEL_PRICES: jsonOf(ModelPrices).default({}),
  /** Whole credits per second of the employee's processing time, charged pro rata by the millisecond. */
  CREDITS_PER_RUNTIME_SECOND: z.coerce.number().int().min(0).default(1),
  /** Held at ingest for each event until it settles: an account below this gets 402. */
  RESERVE_CREDITS_PER_EVENT: z.coerce.number().int().positive().default(10),
  /** Replaced by the two variables above; refused rather than silently ignored, so no price changes unnoticed. */
  CREDITS_PER_1K_TOKENS: z.undefined({ error: 'replaced by CREDITS_PER_1K_PROMPT_TOKENS and CREDITS_PER_1K_COMPLETION_TOKENS; set those instead' }).optional(),
  /** How often the Temporal Schedule reconciles every account's ledger with the workflow histories (Go duration: 1h, 15m). */
  /** false: this worker leaves the billing-reconcile Schedule as it is (another process manages it); it still runs the reconcile workflows. */
  RECONCILE_SCHEDULE: envBoolean.default(true),
  RECONCILE_INTERVAL: z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 1h or 15m')
    .default('1h'),
  /** A reservation open this long (default 15 minutes) whose workflow is gone or closed is released by reconcile. */
  RECONCILE_STALE_AFTER_MS: z.coerce.number().int().positive().default(900_000),
  /** How long an Idempotency-Key stays a duplicate after first acceptance (product contract: 5 minutes). */
  IDEMPOTENCY_WINDOW_MS: z.coerce.number().int().positive().default(300_000),
  /** How long each event's payload is kept (sealed) in PostgreSQL so it can be replayed: 7d, 36h, 90m. Past it a replay answers 410. */
  REPLAY_RETENTION: z
    .string()
    .regex(/^\d+(s|m|h|d)$/, 'must be a duration like 7d, 36h or 90m')
    .default('7d')
    .transform((v) => Number(v.slice(0, -1)) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[v.slice(-1) as 's' | 'm' | 'h' | 'd']),
  /** Without an Idempotency-Key, replay requests for one event within this long are one replay (a double-click). */
  REPLAY_CLICK_WINDOW_MS: z.coerce.number().int().positive().default(10_000),
  /** Events an employee's queue workflow (ordered mode) takes before it continues as new, carrying its queue. */
  FLOW_EVENTS_PER_RUN: z.coerce.number().int().positive().max(5_000).default(500),
  /** A request body that has not fully arrived by then is answered with 408. */
  BODY_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** A prebuilt workflow bundle (from bundleWorkflowCode); unset: the worker bundles `workflows/` at start. */
  WORKFLOW_BUNDLE_PATH: optionalString,
  /** host:port for the worker's Prometheus metrics (the Temporal SDK's exporter); unset: off. */
  WORKER_METRICS_ADDRESS: optionalString,
  /**
   * Keys that encrypt every Temporal payload (event input, employee reply, memo, summary) with
   * AES-256-GCM: `k2:base64key,k1:base64key`, the first is current, older ones still decrypt (rotation:
   * prepend a new key, keep the old until no history needing it is within retention). Unset: payloads
   * are NOT encrypted and histories hold them in plain text — the dev default only.
   */
  PAYLOAD_KEYS: optionalString.pipe(KeyRingSchema.optional()),
  /** Operator credential for POST /codec/decode and /codec/encode (the Web UI's codec server); unset: those routes are 404. */
  CODEC_AUTH_TOKEN: optionalString.pipe(z.string().min(32, 'must be at least 32 characters (openssl rand -base64 32)').optional()),
  // --- Operations: bounded waits, load shedding, cheap refusals, shutdown (issue 19) ---
  /** The API's Redis commands fail (502) past this, so a stalled Redis cannot hang requests. */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  /** The API's statements are cancelled by the server past this; the client gives up 500 ms later. */
  API_STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  /** How long an API request waits for a free pooled connection before it gets a 502. */
  API_POOL_WAIT_MS: z.coerce.number().int().positive().default(2_000),
  /** Each /readyz check that has not answered by then counts as down. */
  READINESS_TIMEOUT_MS: z.coerce.number().int().positive().default(1_000),
  /** Requests one API process handles at once; past it: 503 OVERLOADED with Retry-After: 1. */
  MAX_IN_FLIGHT_REQUESTS: z.coerce.number().int().positive().default(1_000),
  /** Failed authentications per client IP per minute (per API process) before 429. */
  AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().positive().default(30),
  /** Comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed; unset: the socket's address is the client. */
  TRUST_PROXY: optionalString.refine(
    (text) => {
      try {
        parseTrustedProxies(text);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be comma-separated IP addresses or CIDR ranges (10.0.0.1, 10.1.0.0/16)' },
  ),
  /** On SIGTERM, /readyz answers 503 this long while requests are still served, so load balancers stop sending. */
  SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(1_000),
  /** Then requests in flight get this long to finish; connections still open past it are closed. */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().positive().default(10_000),
  // --- end of operations ---
  /** The console (served by the API at /): where its links point, how sign-in mail leaves, how long a session lasts. */
  /** Base of the console's links (sign-in mail, the curl shown per employee); default http://localhost:$PORT. */
  PUBLIC_URL: optionalString.pipe(z.string().url().optional()),
  /** smtp://user:pass@host:port for sign-in mail; unset: each mail's link is logged instead (dev only). */
  SMTP_URL: optionalString.pipe(z.string().url().optional()),
  SMTP_FROM: z.string().min(3).default('no-reply@localhost'),
  /** Credits a new account starts with, posted once as a top-up (reference signup:<account id>). */
  SIGNUP_CREDITS: z.coerce.number().int().min(0).default(100),
  /** A console session ends after this long without a request, and in any case after SESSION_MAX_MS. */
  SESSION_IDLE_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(8 * 3_600_000),
  SESSION_MAX_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3_600_000),
  /** Sign-in mails per email address and per client IP, each per 15 minutes. */
  SIGN_IN_LIMIT_PER_EMAIL: z.coerce.number().int().positive().default(5),
  SIGN_IN_LIMIT_PER_IP: z.coerce.number().int().positive().default(30),
  // --- Trust boundaries (issue 18): database roles, Temporal transport, payload and secret encryption. ---
  /**
   * The application role the API, the worker and the CLI's day-to-day commands connect as (INSERT and
   * SELECT on the ledger, no DDL). Unset: DATABASE_URL's server as `<database>_app`, created by
   * `npm run migrate` with its password kept in DATA_DIR (dev, test and cluster stacks).
   */
  APP_DATABASE_URL: optionalString.pipe(z.string().url().optional()),
  /** Migration period only: payloads written before PAYLOAD_KEYS was set still decode unencrypted. */
  PAYLOAD_ALLOW_PLAINTEXT: envBoolean.default(false),
  /** TLS towards Temporal: on when set true, or when any TEMPORAL_TLS_* or TEMPORAL_API_KEY is set; `false` forces plain gRPC. */
  TEMPORAL_TLS: envBoolean.optional(),
  /** PEM of the CA that signed the Temporal server's certificate (or a path to it); unset: the system's roots. */
  TEMPORAL_TLS_CA: optionalString,
  /** mTLS: the client certificate and its key, PEM or paths (Temporal Cloud's certificate auth, or our own server). */
  TEMPORAL_TLS_CERT: optionalString,
  TEMPORAL_TLS_KEY: optionalString,
  /** The name the server's certificate must carry, when it differs from TEMPORAL_ADDRESS's host. */
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  /** Temporal Cloud API key, sent as `Authorization: Bearer …` on every call. */
  TEMPORAL_API_KEY: optionalString,
  /**
   * Key-encryption keys for secrets at rest (outbound signing secrets), same format and rotation as
   * PAYLOAD_KEYS. Unset: creating an endpoint is refused (`npm start` generates one into DATA_DIR).
   */
  SECRET_KEYS: optionalString.pipe(KeyRingSchema.optional()),
  // --- end of trust boundaries ---
  // --- signed sources (issue 21) ---
  /** A source accepts bodies up to this many bytes (default 1 MiB: GitHub's own events run past 64 KB). */
  SOURCE_MAX_BODY: z.coerce.number().int().positive().default(1_048_576),
  /** How long a source delivery's original body is kept with its message (default 7 days), so it can be rendered again. */
  SOURCE_BODY_RETENTION_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3_600_000),
  /** A source's dedupe window when `source add` sets none (default 72 h: Stripe and OpenAI retry for days). */
  SOURCE_WINDOW_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(72 * 3_600_000),
  /** What a disabled source or channel tells senders to wait before retrying (503 Retry-After). */
  SOURCE_RETRY_AFTER_SECONDS: z.coerce.number().int().positive().default(300),
  // --- end of signed sources ---
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: envBoolean.default(false),
  /** Payload text and raw keys stay out of logs unless this is set. */
  LOG_PAYLOADS: envBoolean.default(false),
});
export type Config = z.infer<typeof Config>;

/** Parses the environment; throws a readable error naming each bad variable. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (as in a copied .env.example) means "use the default".
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = Config.safeParse(set);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** For entry points: parse or print the problem and exit non-zero. */
export function loadConfigOrExit(): Config {
  try {
    return parseConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** The worker's price list. */
export function priceList(
  config: Pick<Config, 'MODEL_PRICES' | 'CREDITS_PER_1K_PROMPT_TOKENS' | 'CREDITS_PER_1K_COMPLETION_TOKENS' | 'CREDITS_PER_RUNTIME_SECOND'>,
): PriceList {
  return {
    models: config.MODEL_PRICES,
    defaultPromptPer1k: config.CREDITS_PER_1K_PROMPT_TOKENS,
    defaultCompletionPer1k: config.CREDITS_PER_1K_COMPLETION_TOKENS,
    runtimePerSecond: config.CREDITS_PER_RUNTIME_SECOND,
  };
}

/** The console's public base URL without a trailing slash. */
export function publicUrl(config: Pick<Config, 'PUBLIC_URL' | 'PORT'>): string {
  return (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}

/** Temporal address: the configured one, or the dev server's default. */
export function temporalAddress(config: Pick<Config, 'TEMPORAL_ADDRESS'>): string {
  return config.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}
