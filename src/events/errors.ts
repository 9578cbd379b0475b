/**
 * What the event domain can answer besides success. Codes are stable strings callers branch on;
 * the HTTP layer (src/http/errors.ts) maps each to a status in one table.
 */
export type DomainErrorCode =
  | 'EMPLOYEE_NOT_FOUND'
  | 'INSUFFICIENT_CREDITS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'MESSAGE_NOT_FOUND'
  | 'REPLAY_EXPIRED'
  | 'EVENT_RUNNING'
  | 'BULK_COUNT_CHANGED'
  | 'BULK_NOT_FOUND';

/** A known outcome of a domain operation: its message says what the caller can do about it. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: { field?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'DomainError';
  }
}

/** The services an event depends on. */
export type Dependency = 'database' | 'cache' | 'temporal';

const NAMES: Record<Dependency, string> = {
  database: 'the event store',
  cache: 'the rate limiter',
  temporal: 'the workflow engine',
};

/**
 * A dependency did not answer: nothing was accepted, so the caller may retry with the same
 * Idempotency-Key (the product contract's "infrastructure error").
 */
export function dependencyUnavailable(what: Dependency, cause: unknown): DomainError {
  return new DomainError(
    'UPSTREAM_UNAVAILABLE',
    `Could not reach ${NAMES[what]}; nothing was accepted. Retry later, with the same Idempotency-Key if you sent one.`,
    { cause },
  );
}

/** Runs a call to a dependency and turns any failure other than a domain outcome into UPSTREAM_UNAVAILABLE. */
export async function upstream<T>(what: Dependency, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DomainError) throw err;
    throw dependencyUnavailable(what, err);
  }
}
