import path from 'node:path';
import { z } from 'zod';

/** Environment booleans: "false", "0", "no" and "" are false (z.coerce.boolean would say true). */
const envBoolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Every environment variable the service reads, parsed once at start-up. */
export const Config = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('webhook-events'),
  /** Base of the trace links in event status responses. */
  TEMPORAL_UI_URL: z.string().url().default('http://localhost:8233'),
  /** gRPC deadline of a workflow start: past it the caller gets a 502 and may retry with the same key. */
  TEMPORAL_START_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  TEMPORAL_CLI: optionalString,
  DATA_DIR: z.string().default(path.resolve(__dirname, '..', '.data')),
  OPENAI_BASE_URL: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Per-request timeout towards the model server; the activity retries past it. */
  MODEL_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Turns of conversation memory sent to the model with each event. */
  MEMORY_TURNS: z.coerce.number().int().min(0).max(200).default(20),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  /** Credits charged per 1,000 tokens (prompt and completion together) and per started second of runtime. */
  CREDITS_PER_1K_TOKENS: z.coerce.number().int().min(0).default(1),
  CREDITS_PER_RUNTIME_SECOND: z.coerce.number().int().min(0).default(1),
  /** How long an Idempotency-Key stays a duplicate after first acceptance (product contract: 5 minutes). */
  IDEMPOTENCY_WINDOW_MS: z.coerce.number().int().positive().default(5 * 60 * 1000),
  /** A request body that has not fully arrived by then is answered with 408. */
  BODY_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** A prebuilt workflow bundle (from bundleWorkflowCode); unset: the worker bundles `workflows/` at start. */
  WORKFLOW_BUNDLE_PATH: optionalString,
  /** host:port for the worker's Prometheus metrics (the Temporal SDK's exporter); unset: off. */
  WORKER_METRICS_ADDRESS: optionalString,
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

/** Temporal address: the configured one, or the dev server's default. */
export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
}
