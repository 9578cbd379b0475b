import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isSealed, SecretBox, SecretKeysMissingError } from '../secrets/secret-box';
import type { PayloadKeys } from '../temporal/payload-keys';
import { isUuid, NotFoundError } from './accounts';
import { statement } from './postgres/statement';

/** An outbound endpoint as listed: never its secret. */
export interface Endpoint {
  id: string;
  employeeId: string;
  name: string;
  url: string;
  allowPrivate: boolean;
  /** Deliveries a minute; undefined: the service's default (ENDPOINT_PER_MINUTE). */
  perMinute?: number;
  /** A JSON Schema every body sent here must match; undefined: any JSON object. */
  bodySchema?: Record<string, unknown>;
  createdAt: string;
}

/** What `send_webhook` needs to deliver: the endpoint and the secret it signs with. */
export interface SigningEndpoint extends Endpoint {
  secret: string;
}

interface EndpointRow {
  id: string;
  employee_id: string;
  name: string;
  url: string;
  signing_secret: string;
  allow_private: boolean;
  per_minute: number | null;
  body_schema: Record<string, unknown> | null;
  created_at: Date;
}

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  employeeId: row.employee_id,
  name: row.name,
  url: row.url,
  allowPrivate: row.allow_private,
  ...(row.per_minute !== null ? { perMinute: row.per_minute } : {}),
  ...(row.body_schema !== null ? { bodySchema: row.body_schema } : {}),
  createdAt: row.created_at.toISOString(),
});

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const insertEndpoint = statement<
  { id: string; employeeId: string; name: string; url: string; secret: string; allowPrivate: boolean; perMinute?: number; bodySchema?: string },
  EndpointRow
>(
  'endpoints_insert',
  `INSERT INTO endpoints (id, employee_id, name, url, signing_secret, allow_private, per_minute, body_schema)
   SELECT :id, id, :name, :url, :secret, :allowPrivate, :perMinute, :bodySchema::jsonb FROM employees WHERE id = :employeeId
   ON CONFLICT (employee_id, name) DO NOTHING
   RETURNING *`,
);

const selectOfEmployee = statement<{ employeeId: string }, EndpointRow>(
  'endpoints_of_employee',
  `SELECT * FROM endpoints WHERE employee_id = :employeeId ORDER BY name`,
);

const selectByName = statement<{ employeeId: string; name: string }, EndpointRow>(
  'endpoints_by_name',
  `SELECT * FROM endpoints WHERE employee_id = :employeeId AND name = :name`,
);

/**
 * Counts one delivery in the endpoint's current minute, or refuses when the minute is full: a fixed
 * window per endpoint (endpoint_delivery_windows). Concurrent deliveries serialise on the window's
 * row, and ON CONFLICT's WHERE is checked on the row each one finds, so the count never passes the
 * limit; a limit of 0 refuses every delivery.
 */
const claimDelivery = statement<{ id: string; defaultPerMinute: number }, { deliveries: number }>(
  'endpoints_claim_delivery',
  `WITH endpoint AS (SELECT id, coalesce(per_minute, :defaultPerMinute::int) AS per_minute FROM endpoints WHERE id = :id)
   INSERT INTO endpoint_delivery_windows AS w (endpoint_id, started_at, deliveries)
   SELECT id, now(), 1 FROM endpoint WHERE per_minute > 0
   ON CONFLICT (endpoint_id) DO UPDATE SET
     started_at = CASE WHEN w.started_at <= now() - interval '1 minute' THEN now() ELSE w.started_at END,
     deliveries = CASE WHEN w.started_at <= now() - interval '1 minute' THEN 1 ELSE w.deliveries + 1 END
   WHERE w.started_at <= now() - interval '1 minute' OR w.deliveries < (SELECT per_minute FROM endpoint)
   RETURNING deliveries`,
);

const deleteEndpoint = statement<{ id: string }, EndpointRow>('endpoints_delete', `DELETE FROM endpoints WHERE id = :id RETURNING *`);

const secretsToSeal = statement<{ employeeId?: string }, { id: string; signing_secret: string }>(
  'endpoints_secrets',
  `SELECT id, signing_secret FROM endpoints WHERE :employeeId::uuid IS NULL OR employee_id = :employeeId::uuid ORDER BY id`,
);

// Only if the row still holds what was read: a concurrent run or a removal wins, nothing is lost.
const replaceSecret = statement<{ id: string; from: string; to: string }, { id: string }>(
  'endpoints_replace_secret',
  `UPDATE endpoints SET signing_secret = :to WHERE id = :id AND signing_secret = :from RETURNING id`,
);

export class EndpointExistsError extends Error {}

/**
 * Where an employee's `send_webhook` may deliver, by name, and the secrets deliveries are signed with.
 * Secrets are stored sealed with SECRET_KEYS (`keys`; the endpoint's id is the associated data);
 * without keys no endpoint can be added. Secrets stored in plain text before the keys existed still
 * sign until `sealStoredSecrets` (`sistava endpoint encrypt-secrets`) seals them.
 */
export class EndpointStore {
  private readonly box?: SecretBox;

  constructor(
    private readonly db: pg.Pool,
    keys?: PayloadKeys,
  ) {
    this.box = keys && new SecretBox(keys);
  }

  /** Returns the secret this once: it is never listed again. */
  async add(input: {
    employeeId: string;
    name: string;
    url: string;
    allowPrivate?: boolean;
    perMinute?: number;
    bodySchema?: Record<string, unknown>;
  }): Promise<{ endpoint: Endpoint; secret: string }> {
    if (!this.box) throw new SecretKeysMissingError('Cannot add an endpoint');
    if (!isUuid(input.employeeId)) throw new NotFoundError('employee', input.employeeId);
    const secret = generateSigningSecret();
    const id = randomUUID();
    const [row] = await insertEndpoint.run(this.db, {
      id,
      employeeId: input.employeeId,
      name: input.name,
      url: input.url,
      secret: this.box.seal(secret, id),
      allowPrivate: input.allowPrivate ?? false,
      perMinute: input.perMinute,
      bodySchema: input.bodySchema === undefined ? undefined : JSON.stringify(input.bodySchema),
    });
    if (!row) {
      const [existing] = await selectByName.run(this.db, { employeeId: input.employeeId, name: input.name });
      if (existing) throw new EndpointExistsError(`employee ${input.employeeId} already has an endpoint named ${input.name}`);
      throw new NotFoundError('employee', input.employeeId);
    }
    return { endpoint: toEndpoint(row), secret };
  }

  async list(employeeId: string): Promise<Endpoint[]> {
    if (!isUuid(employeeId)) return [];
    return (await selectOfEmployee.run(this.db, { employeeId })).map(toEndpoint);
  }

  /** For signing a delivery: the only read that returns the secret. */
  async forDelivery(employeeId: string, name: string): Promise<SigningEndpoint | undefined> {
    const [row] = await selectByName.run(this.db, { employeeId, name });
    return row && { ...toEndpoint(row), secret: this.reveal(row) };
  }

  private reveal(row: { id: string; signing_secret: string }): string {
    if (!isSealed(row.signing_secret)) return row.signing_secret;
    if (!this.box) throw new SecretKeysMissingError(`Cannot sign with endpoint ${row.id}`);
    return this.box.open(row.signing_secret, row.id);
  }

  /**
   * Seals every secret stored in plain text (from before SECRET_KEYS), and re-seals those under an
   * older key with the current one (rotation). Needs UPDATE on endpoints: the owner's, not the
   * application role's. Idempotent; `employeeId` limits it to one employee's endpoints.
   */
  async sealStoredSecrets(employeeId?: string): Promise<{ sealed: number; rotated: number; current: number }> {
    if (!this.box) throw new SecretKeysMissingError('Cannot encrypt stored secrets');
    const counts = { sealed: 0, rotated: 0, current: 0 };
    for (const row of await secretsToSeal.run(this.db, { employeeId })) {
      if (this.box.isCurrent(row.signing_secret)) {
        counts.current += 1;
        continue;
      }
      const plain = this.reveal(row);
      const [changed] = await replaceSecret.run(this.db, { id: row.id, from: row.signing_secret, to: this.box.seal(plain, row.id) });
      if (changed) counts[isSealed(row.signing_secret) ? 'rotated' : 'sealed'] += 1;
    }
    return counts;
  }

  /** True when a delivery may go now (and it is counted); false when the endpoint's minute is full. */
  async claimDelivery(id: string, defaultPerMinute: number): Promise<boolean> {
    return (await claimDelivery.run(this.db, { id, defaultPerMinute })).length === 1;
  }

  async remove(id: string): Promise<Endpoint> {
    const [row] = isUuid(id) ? await deleteEndpoint.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('endpoint', id);
    return toEndpoint(row);
  }
}
